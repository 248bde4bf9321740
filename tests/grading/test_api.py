"""The grading API: the standards as data, labels in the request's language."""

from __future__ import annotations

import pytest

from marketplace.grading.engine import get_standard


def test_list_of_standards(api):
    resp = api.get("/api/v1/grading/standards")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["next_cursor"] is None
    assert [(s["category"], s["version"]) for s in body["items"]] == [
        ("phone", get_standard("phone").version),
        ("appliance", get_standard("appliance").version),
        ("vehicle", get_standard("vehicle").version),
    ]
    assert body["items"][0]["title"] == "二手手机成色评级标准"


@pytest.mark.parametrize("category", ["phone", "appliance", "vehicle"])
def test_one_standard(api, category):
    resp = api.get(f"/api/v1/grading/standards/{category}")
    assert resp.status_code == 200
    doc = resp.get_json()
    standard = get_standard(category)
    assert doc["category"] == category and doc["version"] == standard.version
    assert [g["key"] for g in doc["gates"]] == [g.key for g in standard.gates]
    assert [i["key"] for i in doc["items"]] == [i.key for i in standard.items]
    assert [g["code"] for g in doc["grades"]] == [g.code for g in standard.grades]
    for item in doc["items"]:
        assert {"key", "label", "type", "required"} <= item.keys()
        if item["type"] == "choice":
            assert [o["value"] for o in item["options"]] == [o.value for o in standard.item(item["key"]).options]
        if item["type"] == "number":
            assert item["better"] in ("higher", "lower") and item["min"] is not None


def test_vehicle_document_carries_sections_and_bands(api):
    doc = api.get("/api/v1/grading/standards/vehicle").get_json()
    assert sum(s["max_score"] or 0 for s in doc["sections"]) == 100
    assert [g["min_score"] for g in doc["grades"]] == [90, 60, 20, 0, None]
    frame = [i for i in doc["items"] if i["section"] == "frame"]
    assert len(frame) == 13
    assert {o["max_grade"] for o in frame[0]["options"][1:]} == {"5"}


@pytest.mark.parametrize("category", ["books", "nothing", "PHONE"])
def test_unknown_category_is_a_problem_404(api, category):
    resp = api.get(f"/api/v1/grading/standards/{category}")
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["status"] == 404


def test_labels_follow_accept_language(api):
    zh = api.get("/api/v1/grading/standards/phone").get_json()
    en = api.get("/api/v1/grading/standards/phone", headers={"Accept-Language": "en"}).get_json()
    assert zh["gates"][0]["label"] == "账号锁未解除"
    assert en["gates"][0]["label"] == "Account lock not removed"
    assert en["title"] == "Used phone condition grading standard"
    battery = next(i for i in en["items"] if i["key"] == "battery_health")
    assert battery["label"] == "Battery health"
    assert en["grades"][0]["label"].startswith("S")
    listing = api.get("/api/v1/grading/standards", headers={"Accept-Language": "en"}).get_json()
    assert listing["items"][2]["title"] == "Used vehicle appraisal standard"


def test_standards_are_in_the_openapi_document(api):
    doc = api.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/grading/standards" in doc["paths"]
    assert "/api/v1/grading/standards/{category}" in doc["paths"]
    assert "StandardOut" in doc["components"]["schemas"]
