"""The report page: the form, its errors, the duplicate, one's own listing, the link partial."""

import re

import sqlalchemy as sa
from flask import render_template_string
from flask_login import login_user

from marketplace.moderation.models import Report


def _reports(db):
    return list(db.session.scalars(sa.select(Report).order_by(Report.id)))


def test_the_page_needs_a_login(client, listing):
    resp = client.get(f"/listings/{listing.id}/report")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_the_form_offers_every_reason(client, login, reporter, listing):
    login(reporter)
    html = client.get(f"/listings/{listing.id}/report").get_data(as_text=True)
    assert "举报商品" in html and listing.title in html
    for value in ("exaggeration", "hidden_defect", "fake_transaction", "counterfeit", "prohibited", "other"):
        assert f'value="{value}"' in html
    assert 'name="detail"' in html


def test_reporting_goes_back_to_the_listing_with_a_thank_you(client, login, db, reporter, listing):
    login(reporter)
    resp = client.post(f"/listings/{listing.id}/report", data={"reason": "hidden_defect", "detail": "电池鼓包"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/listings/{listing.id}")
    [report] = _reports(db)
    assert (report.reason, report.detail, report.reporter_id) == ("hidden_defect", "电池鼓包", reporter.id)
    html = client.get("/").get_data(as_text=True)
    assert "举报已提交" in html


def test_other_without_detail_keeps_what_was_typed(client, login, db, reporter, listing):
    login(reporter)
    resp = client.post(f"/listings/{listing.id}/report", data={"reason": "other", "detail": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.search(r'id="detail-error"[^>]*>[^<]*其他', html)
    assert re.search(r'value="other"[^>]*checked|checked[^>]*value="other"', html)
    assert _reports(db) == []


def test_no_reason_is_shown_beside_the_reasons(client, login, db, reporter, listing):
    login(reporter)
    resp = client.post(f"/listings/{listing.id}/report", data={"detail": "描述不实 <b>真的</b>"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="reason-error"' in html
    assert "描述不实 &lt;b&gt;真的&lt;/b&gt;" in html  # kept, and escaped


def test_a_duplicate_is_409_and_the_page_says_so(client, login, db, reporter, listing):
    login(reporter)
    client.post(f"/listings/{listing.id}/report", data={"reason": "exaggeration", "detail": ""})
    resp = client.post(f"/listings/{listing.id}/report", data={"reason": "counterfeit", "detail": "仿品"})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "你已举报过该商品，正在处理中" in html
    assert "仿品" in html
    assert len(_reports(db)) == 1
    # Opening the page again says the report is being handled instead of offering the form.
    html = client.get(f"/listings/{listing.id}/report").get_data(as_text=True)
    assert "正在处理中" in html and 'name="detail"' not in html


def test_ones_own_listing_is_403(client, login, db, seller, listing):
    login(seller)
    assert client.get(f"/listings/{listing.id}/report").status_code == 403
    resp = client.post(f"/listings/{listing.id}/report", data={"reason": "other", "detail": "自己"})
    assert resp.status_code == 403
    assert _reports(db) == []


def test_unknown_or_withdrawn_listing_is_404(client, login, reporter, make_listing):
    login(reporter)
    gone = make_listing(status="withdrawn")
    assert client.get(f"/listings/{gone.id}/report").status_code == 404
    assert client.get("/listings/99999/report").status_code == 404
    assert client.get("/listings/99999999999/report").status_code == 404


def test_the_report_link_partial(app, seller, reporter, listing):
    template = '{% include "moderation/_report_link.html" %}'

    # Anonymous: a login link that comes back to the report form.
    with app.test_request_context():
        html = render_template_string(template, listing=listing)
    assert "登录后举报" in html and "next=" in html

    with app.test_request_context():
        login_user(reporter)
        html = render_template_string(template, listing=listing)
    assert f"/listings/{listing.id}/report" in html and "举报" in html and "登录" not in html

    with app.test_request_context():
        login_user(seller)
        html = render_template_string(template, listing=listing)
    assert "举报" not in html
