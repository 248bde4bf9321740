"""What sellers type: prices of any length or script, and descriptions measured as a reader sees them."""

from __future__ import annotations

import pytest

from marketplace.errors import Invalid
from marketplace.listings import fields


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("9" * 30, "1 亿元"),
        pytest.param("9" * 5000, "1 亿元", id="5000-nines"),
        ("1" * 29 + ".5", "1 亿元"),
        ("100000000.01", "1 亿元"),
        ("٣", "须为数字"),  # Arabic-Indic three: Decimal reads it, NFKC keeps it
        ("١٢.٥", "须为数字"),
        ("৩০০", "须为数字"),  # Bengali
        ("1,٠٠٠", "须为数字"),
        ("0." + "0" * 40 + "1", "两位小数"),
    ],
)
def test_prices_that_are_too_long_or_not_ascii_digits_are_refused(app, text, says):
    with pytest.raises(Invalid) as exc:
        fields.parse_price(text)
    assert says in exc.value.errors["price"][0]


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("３２９９", 329900),
        ("１２．５", 1250),
        ("¥1,299", 129900),
        ("100000000", 10_000_000_000),
        ("0" * 40 + "7", 700),
    ],
)
def test_full_width_digits_and_ordinary_prices_are_read(app, text, fen):
    assert fields.parse_price(text) == fen


def test_ampersands_count_as_one_character_each(app):
    errors: dict[str, list[str]] = {}
    cleaned = fields.clean_description("&" * fields.DESCRIPTION_MAX, errors)
    assert errors == {} and cleaned.count("&amp;") == fields.DESCRIPTION_MAX
    fields.clean_description("&" * (fields.DESCRIPTION_MAX + 1), errors)
    assert "description" in errors


def test_less_than_signs_count_as_one_character_each(app):
    errors: dict[str, list[str]] = {}
    fields.clean_description("1 < 2 " * (fields.DESCRIPTION_MAX // 6), errors)
    assert errors == {}
