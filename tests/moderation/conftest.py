from tests.moderation.factories import (
    inspector,
    listing,
    make_listing,
    make_phone_listing,
    phone_answers,
    phone_listing,
    reporter,
    seller,
)

__all__ = [
    "inspector",
    "listing",
    "make_listing",
    "make_phone_listing",
    "phone_answers",
    "phone_listing",
    "reporter",
    "seller",
]
