"""Property tests of the identifier checks against the vectors and rules of FACTS.md."""

import string
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from marketplace.identity.validators import (
    is_valid_credit_code,
    is_valid_imei,
    is_valid_mobile,
    is_valid_resident_id,
    is_valid_student_no,
    normalise_credit_code,
    normalise_mobile,
    normalise_resident_id,
    normalise_student_no,
    resident_id_check_char,
    resident_id_error,
)
from tests.identity.unicode_forms import ARABIC_INDIC, FULL_WIDTH, spelled, with_a_foreign_digit

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


# --- other scripts: NFKC to ASCII, or refused ------------------------------------------------


def _full_width(text: str) -> str:
    return "".join(FULL_WIDTH.get(c, c) for c in text)


def test_the_reviewers_full_width_number_is_the_facts_vector():
    typed = "１１０１０５１９４９１２３１００２Ｘ"
    assert normalise_resident_id(typed) == "11010519491231002X"
    assert normalise_resident_id(typed.replace("Ｘ", "ｘ")) == "11010519491231002X"
    assert is_valid_resident_id(typed)


@given(st.data(), resident_ids())
def test_any_lookalike_spelling_of_a_resident_id_normalises_to_the_ascii_number(data, number):
    typed = data.draw(spelled(number.lower()))
    assert normalise_resident_id(typed) == number
    assert normalise_resident_id(typed).isascii()
    assert resident_id_error(normalise_resident_id(typed)) is None


@given(st.data(), resident_ids())
def test_a_digit_of_another_script_makes_a_resident_id_a_format_error(data, number):
    typed = data.draw(with_a_foreign_digit(number))
    assert resident_id_error(normalise_resident_id(typed)) == "format"
    assert not is_valid_resident_id(typed)


def test_arabic_indic_digits_are_refused_although_int_reads_them():
    number = FACTS_IDS[0]
    typed = "".join(ARABIC_INDIC.get(c, c) for c in number)
    assert int(typed[:17]) == int(number[:17])  # what made the regex `\d` and int() dangerous
    assert resident_id_error(normalise_resident_id(typed)) == "format"


@given(st.data(), mobiles, st.sampled_from(["", "+86", "0086", "＋８６ ", "００８６－"]))
def test_any_lookalike_spelling_of_a_mobile_normalises_to_the_ascii_number(data, number, prefix):
    typed = prefix + data.draw(spelled(number))
    assert normalise_mobile(typed) == number
    assert is_valid_mobile(typed)


@given(st.data(), mobiles)
def test_a_digit_of_another_script_makes_a_mobile_invalid(data, number):
    assert not is_valid_mobile(data.draw(with_a_foreign_digit(number)))


@given(st.data(), credit_codes)
def test_any_lookalike_spelling_of_a_credit_code_normalises_to_the_ascii_code(data, code):
    typed = data.draw(spelled(code.lower()))
    assert normalise_credit_code(typed) == code
    assert is_valid_credit_code(typed)


@given(st.data(), credit_codes.filter(lambda code: any(c.isdigit() for c in code)))
def test_a_digit_of_another_script_makes_a_credit_code_invalid(data, code):
    assert not is_valid_credit_code(data.draw(with_a_foreign_digit(code)))


@given(st.data(), st.text(string.ascii_uppercase + string.digits, min_size=4, max_size=20))
def test_student_numbers_normalise_to_ascii(data, number):
    typed = data.draw(spelled(number.lower()))
    assert normalise_student_no(" " + typed + " ") == number
    assert is_valid_student_no(typed)


def test_student_numbers_with_other_scripts_or_a_newline_are_refused():
    assert not is_valid_student_no("2023" + ARABIC_INDIC["4"] + "2")
    assert not is_valid_student_no("２０２３ı２")  # ı would upper-case to an ASCII I
    assert is_valid_student_no("２０２３００４２\n")  # surrounding space is stripped
    assert not is_valid_student_no("2023\n0042")


def test_imei_and_non_ascii_digits():
    assert is_valid_imei("490154203237518")
    assert not is_valid_imei(_full_width("490154203237518"))  # no normaliser here: ASCII only
    assert not is_valid_imei("".join(ARABIC_INDIC[c] for c in "490154203237518"))
