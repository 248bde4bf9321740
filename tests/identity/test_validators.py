"""Property tests of the identifier checks against the vectors and rules of FACTS.md."""

from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from marketplace.identity.validators import (
    is_valid_credit_code,
    is_valid_mobile,
    is_valid_resident_id,
    normalise_mobile,
    normalise_resident_id,
    resident_id_check_char,
    resident_id_error,
)

FACTS_IDS = ("11010519491231002X", "53010219200508011X")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check(first17: str) -> str:
    """GB 32100 check character, computed independently of the code under test."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


@st.composite
def resident_ids(draw) -> str:
    region = draw(st.sampled_from(["110105", "530102", "640104", "640105", "640106", "440305"]))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date.today()))
    first17 = f"{region}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return first17 + resident_id_check_char(first17)


credit_codes = st.text(USCC_ALPHABET, min_size=17, max_size=17).map(lambda body: body + uscc_check(body))


def single_changes(number: str):
    """Every number that differs from `number` in exactly one position."""
    for pos, old in enumerate(number):
        for new in "0123456789X" if pos == 17 else "0123456789":
            if new != old:
                yield number[:pos] + new + number[pos + 1 :]


def adjacent_swaps(number: str):
    for pos in range(len(number) - 1):
        if number[pos] != number[pos + 1]:
            yield number[:pos] + number[pos + 1] + number[pos] + number[pos + 2 :]


# --- resident ID -----------------------------------------------------------------


@pytest.mark.parametrize("number", FACTS_IDS)
def test_facts_vectors_are_valid_also_with_lower_case_x(number):
    assert is_valid_resident_id(number)
    assert is_valid_resident_id(number.lower())
    assert normalise_resident_id(number.lower()) == number


@pytest.mark.parametrize("number", FACTS_IDS)
def test_every_single_change_and_adjacent_swap_of_a_facts_vector_fails(number):
    for changed in single_changes(number):
        assert not is_valid_resident_id(changed), changed
    for swapped in adjacent_swaps(number):
        assert not is_valid_resident_id(swapped), swapped


@given(resident_ids())
def test_generated_numbers_are_valid(number):
    assert is_valid_resident_id(number)
    assert is_valid_resident_id(" " + number.lower() + " ")


@given(resident_ids())
def test_every_single_digit_change_fails(number):
    for changed in single_changes(number):
        assert not is_valid_resident_id(changed)


@given(resident_ids())
def test_every_adjacent_swap_fails(number):
    for swapped in adjacent_swaps(number):
        assert not is_valid_resident_id(swapped)


@given(resident_ids(), st.integers(0, 17))
def test_a_dropped_or_doubled_character_is_a_format_error(number, pos):
    assert resident_id_error(number[:pos] + number[pos + 1 :]) == "format"
    assert resident_id_error(number[:pos] + number[pos] + number[pos:]) == "format"


def test_errors_name_what_is_wrong():
    assert resident_id_error("11010519491231002Y") == "format"
    assert resident_id_error("1101051949123100") == "format"
    first17 = "11010519490231002"  # 31 February
    assert resident_id_error(first17 + resident_id_check_char(first17)) == "date"
    future = f"110105{date.today().year + 1}0101002"
    assert resident_id_error(future + resident_id_check_char(future)) == "date"
    assert resident_id_error("110105194912310021") == "checksum"


# --- unified social credit code ----------------------------------------------------------


def test_credit_code_facts_vectors():
    assert is_valid_credit_code("91512081MA62K0260E")
    assert is_valid_credit_code("91512081ma62k0260e")
    assert not is_valid_credit_code("91350100M000100Y4Z")
    assert uscc_check("91512081MA62K0260") == "E"


@given(credit_codes)
def test_generated_credit_codes_are_valid(code):
    assert is_valid_credit_code(code)


@given(credit_codes, st.integers(0, 17), st.sampled_from(USCC_ALPHABET))
def test_any_single_character_change_of_a_credit_code_fails(code, pos, new):
    assume(new != code[pos])
    assert not is_valid_credit_code(code[:pos] + new + code[pos + 1 :])


@given(credit_codes, st.integers(0, 17), st.sampled_from("IOZSV"))
def test_letters_outside_the_alphabet_fail(code, pos, letter):
    assert not is_valid_credit_code(code[:pos] + letter + code[pos + 1 :])


# --- mobile -------------------------------------------------------------------------------


mobiles = st.builds(
    lambda second, rest: "1" + second + rest, st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9)
)


@given(mobiles, st.sampled_from(["", "+86", "0086", "+86 ", "0086-"]))
def test_mobiles_with_or_without_the_country_code_are_valid(number, prefix):
    assert is_valid_mobile(prefix + number)
    assert normalise_mobile(prefix + number) == number


@given(mobiles, st.sampled_from("012"))
def test_second_digit_below_three_fails(number, second):
    assert not is_valid_mobile(number[0] + second + number[2:])


@given(mobiles)
def test_wrong_length_or_prefix_fails(number):
    assert not is_valid_mobile(number[:-1])
    assert not is_valid_mobile(number + "0")
    assert not is_valid_mobile("+85" + number)
    assert not is_valid_mobile("2" + number[1:])
