"""Inspectors' pages: the certification queue and the checklist form."""

import re

import sqlalchemy as sa

from marketplace.listings.models import Certification
from marketplace.moderation.models import Report


def _form(answers: dict) -> dict:
    data = {}
    for key, value in answers.items():
        if isinstance(value, bool):
            value = "yes" if value else "no"
        data[f"grading-{key}"] = str(value)
    return data


def test_pages_need_a_login(client, phone_listing):
    for path in ("/inspect", f"/listings/{phone_listing.id}/certify"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], path


def test_only_inspectors_see_the_pages_and_the_nav_link(client, login, reporter, phone_listing, phone_answers):
    login(reporter)
    assert "验货队列" not in client.get("/").get_data(as_text=True)
    assert client.get("/inspect").status_code == 403
    assert client.get(f"/listings/{phone_listing.id}/certify").status_code == 403
    assert client.post(f"/listings/{phone_listing.id}/certify", data=_form(phone_answers())).status_code == 403


def test_the_empty_queue_says_what_happens_next(client, login, inspector):
    login(inspector)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/inspect"' in html and "验货队列" in html
    html = client.get("/inspect").get_data(as_text=True)
    assert "<h1>验货队列</h1>" in html and "目前没有等待验货的商品" in html


def test_the_queue_pages_newest_first(client, login, inspector, make_phone_listing):
    listings = [make_phone_listing(title=f"测试手机{i:02d}") for i in range(22)]
    login(inspector)
    html = client.get("/inspect").get_data(as_text=True)
    titles = re.findall(r"测试手机\d\d", html)
    assert titles == [f"测试手机{i:02d}" for i in range(21, 1, -1)]
    assert "A（95新）" in html
    more = re.search(r'href="(/inspect\?before=\d+)"', html).group(1)
    html = client.get(more).get_data(as_text=True)
    assert re.findall(r"测试手机\d\d", html) == ["测试手机01", "测试手机00"]
    assert f"/listings/{listings[0].id}/certify" in html


def test_the_form_shows_the_checklist_empty_and_the_declared_answers(client, login, inspector, phone_listing):
    login(inspector)
    html = client.get(f"/listings/{phone_listing.id}/certify").get_data(as_text=True)
    assert "验货认证" in html and phone_listing.title in html
    assert 'name="grading-screen"' in html and 'name="grading-account_locked"' in html
    assert " selected" not in html and " checked" not in html  # nothing pre-filled
    assert "卖家填写的检查表" in html and "有细微划痕，20 厘米外看不出" in html
    assert "490154203237518" in html  # inspectors see the full IMEI to match the device


def test_certifying_through_the_form(client, login, db, inspector, phone_listing, phone_answers):
    login(inspector)
    resp = client.post(f"/listings/{phone_listing.id}/certify", data=_form(phone_answers(screen="invisible_50cm")))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/inspect")
    [cert] = db.session.scalars(sa.select(Certification))
    assert (cert.grade, cert.inspector_id) == ("B", inspector.id)
    html = client.get("/inspect").get_data(as_text=True)
    assert "已认证为 B（9成新）" in html and phone_listing.title not in html
    assert db.session.scalars(sa.select(Report)).all() == []


def test_two_grades_lower_through_the_form_says_a_report_was_opened(
    client, login, db, inspector, phone_listing, phone_answers
):
    login(inspector)
    client.post(f"/listings/{phone_listing.id}/certify", data=_form(phone_answers(body="visible")))
    [report] = db.session.scalars(sa.select(Report))
    assert (report.reason, report.source) == ("exaggeration", "certification")
    assert "已自动提交举报" in client.get("/inspect").get_data(as_text=True)


def test_a_missing_answer_is_shown_beside_it_and_the_rest_is_kept(
    client, login, db, inspector, phone_listing, phone_answers
):
    login(inspector)
    answers = phone_answers(screen="visible")
    del answers["body"]
    resp = client.post(f"/listings/{phone_listing.id}/certify", data=_form(answers))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.search(r'id="grading-body-error"[^>]*>必填<', html)
    assert re.search(r'<option value="visible" selected>', html)
    assert db.session.scalars(sa.select(Certification)).all() == []


def test_a_certified_listing_cannot_be_certified_again(client, login, inspector, phone_listing, phone_answers):
    login(inspector)
    client.post(f"/listings/{phone_listing.id}/certify", data=_form(phone_answers()))
    assert client.get(f"/listings/{phone_listing.id}/certify").status_code == 409
    resp = client.post(f"/listings/{phone_listing.id}/certify", data=_form(phone_answers()))
    assert resp.status_code == 409 and "已有验货认证" in resp.get_data(as_text=True)


def test_the_listing_page_shows_the_certification(client, login, inspector, phone_listing, phone_answers):
    login(inspector)
    client.post(f"/listings/{phone_listing.id}/certify", data=_form(phone_answers(screen="visible")))
    html = client.get(f"/listings/{phone_listing.id}").get_data(as_text=True)
    assert "验货认证为 C（8成新）" in html


def test_after_the_sellers_edit_pages_and_api_show_the_certification_as_out_of_date(
    client, api, db, login, inspector, phone_listing, phone_answers
):
    from marketplace.listings import service

    login(inspector)
    client.post(f"/listings/{phone_listing.id}/certify", data=_form(phone_answers()))
    html = client.get(f"/listings/{phone_listing.id}").get_data(as_text=True)
    assert "验货认证为 A" in html and "认证于卖家修改前" not in html
    assert "验货认证 A" in client.get("/").get_data(as_text=True)  # the card's badge
    assert api.get(f"/api/v1/listings/{phone_listing.id}").get_json()["certified"]["grade"] == "A"

    service.edit(phone_listing.seller, phone_listing, service.ListingInput(title="华为 Mate 60 换了新屏"))
    db.session.commit()
    html = client.get(f"/listings/{phone_listing.id}").get_data(as_text=True)
    assert "认证于卖家修改前" in html
    assert "验货认证 A" not in client.get("/").get_data(as_text=True)
    assert api.get(f"/api/v1/listings/{phone_listing.id}").get_json()["certified"] is None
