"""Fixtures for the listings tests: verified sellers, checklists, listings made through the service, images."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.grading.answers import IMEI, VIN, best_answers

__all__ = ["IMEI", "VIN"]  # re-exported for the tests that use them


def phone_answers(**overrides) -> dict:
    """A phone that grades A: faint marks on the screen, everything else as new."""
    answers = best_answers("phone")
    answers.update(screen="invisible_20cm", model="华为 Mate 60 256GB")
    answers.update(overrides)
    return answers


def checklist_fields(answers: dict) -> dict:
    """Checklist answers as the sell form posts them (grading-<key>, gates yes/no)."""
    fields = {}
    for key, value in answers.items():
        fields["grading-" + key] = "yes" if value is True else "no" if value is False else str(value)
    return fields


def jpeg_bytes(size=(640, 480), colour=(200, 60, 40), **save) -> bytes:
    """A small JPEG made with Pillow."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", **save)
    return out.getvalue()


@pytest.fixture
def seller(verified_user):
    """A verified seller with the initial credit score."""
    return verified_user("seller1", real_name="张小三")


@pytest.fixture
def buyer(verified_user):
    return verified_user("buyer1", real_name="李四")


@pytest.fixture
def make_listing(db, seller):
    """make_listing(user=seller, **fields) → a committed listing made through the service (an A-grade phone)."""
    from marketplace.listings import service

    def make(user=None, **fields):
        values = {
            "title": "华为 Mate 60 手机 256GB 雅丹黑",
            "description": "自用一年，一直带壳贴膜。\n\n送原装充电器。",
            "category": "phone",
            "price_fen": 329900,
            "district": "xingqing",
            "grading": phone_answers(),
        }
        values.update(fields)
        listing = service.create(user or seller, service.ListingInput(**values))
        db.session.commit()
        return listing

    return make


@pytest.fixture
def phone(make_listing):
    return make_listing()
