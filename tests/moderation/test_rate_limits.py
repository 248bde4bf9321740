"""Reports are limited per account (REPORT_RATE_LIMIT), one budget for the report page and the API.

Every attempt counts (a flood of reports, even refused ones, is what the limit is for). A refused
request writes nothing and says why, in the visitor's language (page) or as problem+json with
Retry-After (API).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.moderation.models import Report


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "REPORT_RATE_LIMIT": "3 per hour"}


REPORT = {"reason": "hidden_defect", "detail": "实物屏幕有划痕，描述说无划痕。"}


def _reported(db, user) -> list[int]:
    return list(db.session.scalars(sa.select(Report.listing_id).where(Report.reporter_id == user.id)))


def test_page_and_api_share_one_budget_and_refused_attempts_count(
    db, client, login, api, reporter, make_listing, token_for
):
    listings = [make_listing(title=f"旧书 {n}") for n in range(4)]
    headers = token_for(reporter)
    login(reporter)
    resp = client.post(f"/listings/{listings[0].id}/report", data=REPORT)
    assert resp.status_code == 302
    # A report without a reason is refused (422), and still counts.
    assert client.post(f"/listings/{listings[1].id}/report", data={"detail": "x"}).status_code == 422
    made = api.post(f"/api/v1/listings/{listings[2].id}/reports", json=REPORT, headers=headers)
    assert made.status_code == 201, made.get_json()

    refused = api.post(f"/api/v1/listings/{listings[3].id}/reports", json=REPORT, headers=headers)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    page = client.post(f"/listings/{listings[3].id}/report", data=REPORT)
    assert page.status_code == 429
    html = page.get_data(as_text=True)
    assert "操作过于频繁" in html and "请求太频繁了" in html
    assert sorted(_reported(db, reporter)) == [listings[0].id, listings[2].id]

    # The report form can still be read.
    assert client.get(f"/listings/{listings[3].id}/report").status_code == 200


def test_the_budget_is_per_account_not_per_address(db, app, reporter, make_user, make_listing, token_for):
    target = make_listing()
    others = [make_listing(title=f"旧书 {n}") for n in range(3)]
    for who in (reporter, make_user("neighbour")):
        headers = token_for(who)
        c = app.test_client()
        statuses = [
            c.post(f"/api/v1/listings/{listing.id}/reports", json=REPORT, headers=headers).status_code
            for listing in (*others, target)
        ]
        assert statuses == [201, 201, 201, 429], who.username
        assert target.id not in _reported(db, who)


def test_the_refusal_is_in_english_for_an_english_visitor(db, client, login, api, reporter, make_listing, token_for):
    listings = [make_listing(title=f"旧书 {n}") for n in range(4)]
    headers = token_for(reporter) | {"Accept-Language": "en"}
    for listing in listings[:3]:
        assert api.post(f"/api/v1/listings/{listing.id}/reports", json=REPORT, headers=headers).status_code == 201
    problem = api.post(f"/api/v1/listings/{listings[3].id}/reports", json=REPORT, headers=headers)
    assert problem.status_code == 429
    assert problem.get_json()["detail"] == "Too many requests; please try again later."
    login(reporter)
    assert client.post("/lang/en", data={"next": "/"}).status_code == 302
    page = client.post(f"/listings/{listings[3].id}/report", data=REPORT)
    assert page.status_code == 429
    html = page.get_data(as_text=True)
    assert "Too many requests; please try again later." in html and "请求太频繁了" not in html
    assert listings[3].id not in _reported(db, reporter)
