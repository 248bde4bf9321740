"""Publishing listings is limited per account (LISTING_RATE_LIMIT), one budget for the sell page and the API.

Only listings actually made count: a form sent back with errors writes nothing and costs nothing.
A refused request writes nothing and says why, in the visitor's language (page) or as problem+json
with Retry-After (API).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.listings.models import Listing


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "LISTING_RATE_LIMIT": "2 per hour"}


def _body(title: str, **fields) -> dict:
    return {
        "title": title,
        "description": "书脊完好，无笔记。",
        "category": "books",
        "price_fen": 3500,
        "district": "xingqing",
        **fields,
    }


def _form(title: str, **fields) -> dict:
    return {
        "category": "books",
        "title": title,
        "price": "35",
        "district": "xingqing",
        "description": "无笔记。",
    } | fields


def _titles(db, user) -> list[str]:
    return list(db.session.scalars(sa.select(Listing.title).where(Listing.seller_id == user.id).order_by(Listing.id)))


def test_page_and_api_share_one_budget_and_only_listings_made_count(db, client, login, api, seller, token_for):
    headers = token_for(seller)
    login(seller)
    # Refused forms first: the limit is 2, these three must not use it up.
    assert client.post("/sell?category=books", data=_form("")).status_code == 422
    assert client.post("/sell", data={"category": "nonsense"}).status_code == 422
    assert api.post("/api/v1/listings", json=_body("", price_fen=-1), headers=headers).status_code == 422

    made = api.post("/api/v1/listings", json=_body("《三体》全套"), headers=headers)
    assert made.status_code == 201, made.get_json()
    resp = client.post("/sell?category=books", data=_form("《活着》"))
    assert resp.status_code == 302 and "/listings/" in resp.headers["Location"]

    refused = api.post("/api/v1/listings", json=_body("《围城》"), headers=headers)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["status"] == 429
    assert int(refused.headers["Retry-After"]) > 0
    page = client.post("/sell?category=books", data=_form("《平凡的世界》"))
    assert page.status_code == 429
    assert "操作过于频繁" in page.get_data(as_text=True)
    assert int(page.headers["Retry-After"]) > 0
    assert _titles(db, seller) == ["《三体》全套", "《活着》"]

    # Reading the sell page stays open: the limit is on publishing.
    assert client.get("/sell?category=books").status_code == 200


def test_the_budget_is_per_account_not_per_address(db, app, seller, buyer, token_for):
    """Two sellers behind one campus NAT each publish their own quota."""
    for who in (seller, buyer):
        headers = token_for(who)
        c = app.test_client()
        statuses = [c.post("/api/v1/listings", json=_body(f"旧书 {n}"), headers=headers).status_code for n in range(3)]
        assert statuses == [201, 201, 429], who.username
        assert len(_titles(db, who)) == 2


def test_a_new_token_brings_no_new_budget(db, app, seller, token_for):
    first, second = token_for(seller), token_for(seller)
    c = app.test_client()
    assert c.post("/api/v1/listings", json=_body("旧书 1"), headers=first).status_code == 201
    assert c.post("/api/v1/listings", json=_body("旧书 2"), headers=second).status_code == 201
    assert c.post("/api/v1/listings", json=_body("旧书 3"), headers=first).status_code == 429
    assert c.post("/api/v1/listings", json=_body("旧书 4"), headers=second).status_code == 429
    assert len(_titles(db, seller)) == 2


def test_the_refusal_is_in_english_for_an_english_visitor(db, client, login, api, seller, token_for):
    headers = token_for(seller)
    for n in range(2):
        assert api.post("/api/v1/listings", json=_body(f"旧书 {n}"), headers=headers).status_code == 201
    login(seller)
    assert client.post("/lang/en", data={"next": "/"}).status_code == 302
    page = client.post("/sell?category=books", data=_form("《围城》"))
    assert page.status_code == 429
    html = page.get_data(as_text=True)
    assert "Too many requests" in html and "操作过于频繁" not in html
    problem = api.post("/api/v1/listings", json=_body("《围城》"), headers=headers | {"Accept-Language": "en"})
    assert problem.status_code == 429 and problem.get_json()["title"].startswith("Too many requests")
    assert len(_titles(db, seller)) == 2
