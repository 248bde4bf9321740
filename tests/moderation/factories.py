"""Moderation fixtures (shared with tests/api): listings made directly through the model."""

from __future__ import annotations

import itertools

import pytest

_stems = itertools.count(1)


@pytest.fixture
def seller(make_user):
    return make_user("seller", display_name="卖家")


@pytest.fixture
def reporter(make_user):
    return make_user("reporter", display_name="举报人")


@pytest.fixture
def inspector(make_user):
    return make_user("inspector", roles=("inspector",), display_name="验货员")


@pytest.fixture
def make_listing(db, seller):
    """make_listing(**fields) → a committed listing (an ungraded book unless told otherwise)."""
    from marketplace.listings.models import Listing, ListingPhoto

    def make(*, photos: int = 0, **fields):
        values = {
            "seller_id": seller.id,
            "category": "books",
            "title": "九成新《三体》全套",
            "description": "<p>书脊完好，无笔记。</p>",
            "price_fen": 3500,
            "district": "xingqing",
            "status": "active",
        }
        values.update(fields)
        listing = Listing(**values)
        for position in range(photos):
            stem = f"photo{next(_stems):04d}"
            listing.photos.append(ListingPhoto(position=position, stem=stem, width=800, height=600))
        db.session.add(listing)
        db.session.commit()
        return listing

    return make


@pytest.fixture
def listing(make_listing):
    return make_listing(photos=2)


# A phone that grades A: faint marks on the screen, everything else as new.
PHONE_A = {
    "account_locked": False,
    "reported_lost": False,
    "imei": "490154203237518",
    "model": "华为 Mate 60 256GB",
    "functions": "all_working",
    "battery_health": 92,
    "screen": "invisible_20cm",
    "body": "flawless",
    "water_damage": "none",
    "repairs": "none",
    "data_wiped": "wiped",
}


@pytest.fixture
def phone_answers():
    """phone_answers(**overrides) → a complete phone checklist (grade A unless overridden)."""

    def make(**overrides) -> dict:
        return {**PHONE_A, **overrides}

    return make


@pytest.fixture
def make_phone_listing(make_listing, phone_answers):
    """make_phone_listing(answers=None, **fields) → an active phone listing graded by the engine."""
    from marketplace.grading import engine

    def make(answers: dict | None = None, **fields):
        result = engine.assess("phone", answers or phone_answers())
        assert result.ok, result.errors
        values = {
            "category": "phone",
            "title": "华为 Mate 60 手机 256GB",
            "price_fen": 329900,
            "grading": result.answers,
            "grade": result.grade,
            "standard_version": result.version,
        }
        values.update(fields)
        return make_listing(**values)

    return make


@pytest.fixture
def phone_listing(make_phone_listing):
    return make_phone_listing()
