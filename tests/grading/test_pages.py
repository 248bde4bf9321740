"""The public standard pages: what each grade means, every item and option, in Chinese and English."""

from __future__ import annotations

import pytest

from marketplace.grading.engine import get_standard


def test_index_lists_the_three_standards(client):
    resp = client.get("/standards")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for category in ("phone", "appliance", "vehicle"):
        assert f'href="/standards/{category}"' in html
        assert str(get_standard(category).title) in html
        assert get_standard(category).version in html
    assert "<h1>评级标准</h1>" in html


@pytest.mark.parametrize("category", ["phone", "appliance", "vehicle"])
def test_a_standard_page_shows_gates_items_options_and_grades(client, category):
    standard = get_standard(category)
    resp = client.get(f"/standards/{category}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f"<h1>{standard.title}</h1>" in html
    assert standard.version in html
    for gate in standard.gates:
        assert str(gate.label) in html
    for item in standard.items:
        assert f'id="item-{item.key}"' in html
        for option in item.options:
            assert str(option.label) in html
    for grade in standard.grades:
        assert f'id="grade-{grade.code.lower()}"' in html
        assert str(grade.summary) in html


def test_the_phone_page_says_what_limits_a_grade(client):
    html = client.get("/standards/phone").get_data(as_text=True)
    assert "出现以下任何一种情况，等级最高为 B（9成新）" in html
    assert "低于 80 %" in html
    assert "→ 定为 D（故障机）" in html


def test_the_vehicle_page_shows_the_score_bands(client):
    html = client.get("/standards/vehicle").get_data(as_text=True)
    for band in ("90–100", "60–89", "20–59", "0–19"):
        assert f'<p class="meta">技术状况得分 {band}</p>' in html
    assert "扣 4 分" in html
    assert "（满分 20 分）" in html
    assert "→ 定为 五级（事故车）" in html


def test_the_appliance_page_shows_safe_service_life(client):
    html = client.get("/standards/appliance").get_data(as_text=True)
    assert "安全使用年限 10 年" in html
    assert "安全使用年限 8 年，超过后只能回收" in html


@pytest.mark.parametrize("category", ["books", "other", "PHONE", "nothing"])
def test_no_page_for_categories_without_a_standard(client, category):
    assert client.get(f"/standards/{category}").status_code == 404


def test_standard_pages_in_english(client):
    client.post("/lang/en", data={"next": "/standards/phone"})
    html = client.get("/standards/phone").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Account lock not removed" in html
    assert "账号锁未解除" not in html
    assert "电池健康度" not in html
    html = client.get("/standards/vehicle").get_data(as_text=True)
    assert "Grade 5 (accident car)" in html
