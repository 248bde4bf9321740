"""Hypothesis fuzzing of what parses or cleans user input: identifier checks, masking, free text,
titles, prices, passwords, and the description sanitiser.

tests/identity/test_validators.py and test_masking.py already hold the checksum properties (FACTS.md
vectors, single changes, lookalike digits); tests/grading/test_engine.py fuzzes the grading engine.
What is added here: every parser answers arbitrary text (control characters, full-width forms, other
scripts' digits, bidi overrides) with its documented result and nothing else; identifiers made with
checksums computed independently of the code under test are accepted; the sanitiser leaves no markup
but its own six tags, without attributes, whatever hostile HTML it is given, and is idempotent.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.accounts.passwords import password_problems
from marketplace.errors import Invalid
from marketplace.identity.masking import looks_like_pii, mask_id_number, mask_keep_ends, mask_name, mask_phone
from marketplace.identity.validators import (
    is_valid_credit_code,
    is_valid_imei,
    is_valid_mobile,
    is_valid_resident_id,
    is_valid_student_no,
    is_valid_vin,
    normalise_credit_code,
    normalise_mobile,
    normalise_resident_id,
    normalise_student_no,
    resident_id_birth_date,
    resident_id_error,
)
from marketplace.listings.fields import (
    PRICE_MAX_FEN,
    clean_description,
    clean_title,
    description_for_editing,
    format_price,
    parse_price,
    sanitise_description,
    sanitise_stored,
    yuan_text,
)
from marketplace.listings.tokens import plain_text
from marketplace.text import clean_plain

# --- arbitrary user text ----------------------------------------------------------------------------

FULL_WIDTH_DIGITS = "０１２３４５６７８９"
# What people (and attackers) type: any code point but lone surrogates (not encodable as UTF-8, so
# never in a request), with control characters, bidi overrides, zero-width and full-width forms,
# other scripts' digits and lookalike letters made likely rather than left to chance.
_TRICKY = (
    "\x00\x07\x08\t\n\r\x0b\x0c\x1b\x7f\x85\u00a0\u200b\u200d\u2028\u2029\u202a\u202e\u2066\u2069\ufeff"
    + FULL_WIDTH_DIGITS
    + "ＸｘＡ＋－　٣३৪߃𝟗¹²ı ſK"  # Arabic-Indic, Devanagari, Bengali, N'Ko, maths digits; ı ſ K fold to ASCII
    + "+-.()/ 0123456789Xx"
)
user_text = st.text(
    st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from(_TRICKY)),
    max_size=40,
)
# Strings shaped like the identifiers, so that the checks get past their first test now and then.
digitish = st.text(st.sampled_from("0123456789Xx" + FULL_WIDTH_DIGITS + " -٣\u200b"), min_size=10, max_size=20)
any_input = st.one_of(user_text, digitish)


@given(any_input)
def test_identifier_checks_answer_any_text_with_a_verdict(text):
    """No check raises, each answers a bool, and the resident-ID check names one of its three faults."""
    for check in (is_valid_resident_id, is_valid_mobile, is_valid_credit_code, is_valid_student_no):
        assert isinstance(check(text), bool), check
    for check in (is_valid_imei, is_valid_vin):
        assert isinstance(check(text), bool), check
    normalised = normalise_resident_id(text)
    assert isinstance(normalised, str)
    assert resident_id_error(normalised) in (None, "format", "date", "checksum")
    assert (resident_id_error(normalised) is None) == is_valid_resident_id(text)
    born = resident_id_birth_date(normalised)
    assert born is None or isinstance(born, date)
    for normalise in (normalise_mobile, normalise_credit_code, normalise_student_no):
        assert isinstance(normalise(text), str)
    assert isinstance(looks_like_pii(text), bool)


@given(any_input)
def test_whatever_passes_a_check_is_plain_ascii_once_normalised(text):
    """Accepted identifiers are ASCII after normalising: one identity cannot be spelled two ways."""
    if is_valid_resident_id(text):
        assert re.fullmatch(r"[0-9]{17}[0-9X]", normalise_resident_id(text))
    if is_valid_mobile(text):
        assert re.fullmatch(r"1[3-9][0-9]{9}", normalise_mobile(text))
    if is_valid_credit_code(text):
        assert re.fullmatch(r"[0-9A-Z]{18}", normalise_credit_code(text))
    if is_valid_student_no(text):
        assert re.fullmatch(r"[0-9A-Z]{4,20}", normalise_student_no(text))


# --- identifiers made with checksums computed here (FACTS.md) ----------------------------------------


def mod11_2(first17: str) -> str:
    """GB 11643 / ISO 7064 MOD 11-2: the character that makes the weighted sum ≡ 1 (mod 11)."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    return "0123456789X"[(12 - total % 11) % 11]


def luhn_digit(body: str) -> str:
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str(-total % 10)


VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
VIN_VALUE = {c: int(c) for c in "0123456789"} | {"P": 7, "R": 9}
VIN_VALUE |= {c: n for n, c in enumerate("ABCDEFGH", 1)} | {c: n for n, c in enumerate("JKLMN", 1)}
VIN_VALUE |= {c: n for n, c in enumerate("STUVWXYZ", 2)}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def with_vin_check(vin: str) -> str:
    total = sum(VIN_VALUE[c] * w for c, w in zip(vin, VIN_WEIGHTS, strict=True))
    return vin[:8] + "0123456789X"[total % 11] + vin[9:]


@st.composite
def resident_ids(draw) -> str:
    region = draw(st.sampled_from(["110105", "530102", "640104", "640105", "640106", "310115"]))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date.today()))
    first17 = f"{region}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return first17 + mod11_2(first17)


imeis = st.text("0123456789", min_size=14, max_size=14).map(lambda body: body + luhn_digit(body))
vins = st.text(VIN_ALPHABET, min_size=17, max_size=17).map(with_vin_check)


def test_the_independent_checksums_agree_with_the_facts_vectors():
    assert mod11_2("11010519491231002") == "X"
    assert mod11_2("53010219200508011") == "X"
    assert luhn_digit("49015420323751") == "8"


@given(resident_ids(), st.booleans(), st.booleans())
def test_resident_ids_with_a_right_check_digit_are_accepted_however_typed(number, full_width, spaced):
    typed = number.translate(str.maketrans("0123456789X", FULL_WIDTH_DIGITS + "ｘ")) if full_width else number
    if spaced:
        typed = f" {typed[:6]} {typed[6:14]} {typed[14:]} "
    assert is_valid_resident_id(typed)
    assert normalise_resident_id(typed) == number
    masked = mask_id_number(number)
    assert number not in masked and not looks_like_pii(masked)
    assert masked[0] == number[0] and masked[-1] == number[-1] and set(masked[1:-1]) == {"*"}


@given(imeis, st.integers(0, 14), st.integers(1, 9))
def test_imeis_with_a_right_luhn_digit_are_accepted_and_a_changed_digit_is_not(imei, pos, delta):
    assert is_valid_imei(imei)
    changed = imei[:pos] + str((int(imei[pos]) + delta) % 10) + imei[pos + 1 :]
    assert not is_valid_imei(changed)


@given(vins, st.integers(0, 16), st.sampled_from(VIN_ALPHABET))
def test_vins_with_a_right_check_character_are_accepted(vin, pos, new):
    assert is_valid_vin(vin)
    assert not is_valid_vin(vin[:pos] + "IOQ"[pos % 3] + vin[pos + 1 :])
    changed = vin[:pos] + new + vin[pos + 1 :]
    if pos != 8 and VIN_VALUE[new] % 11 != VIN_VALUE[vin[pos]] % 11:
        assert not is_valid_vin(changed)


@given(st.sampled_from("3456789"), st.text("0123456789", min_size=9, max_size=9), st.sampled_from(["", "+86", "0086"]))
def test_mobiles_are_masked_to_three_and_four_digits(second, rest, prefix):
    number = "1" + second + rest
    assert is_valid_mobile(prefix + number.translate(str.maketrans("0123456789", FULL_WIDTH_DIGITS)))
    masked = mask_phone(number)
    assert masked == number[:3] + "****" + number[-4:]
    assert not looks_like_pii(masked)


@given(user_text)
def test_masks_keep_at_most_the_ends_of_any_text(text):
    for mask in (mask_keep_ends, mask_id_number, mask_name):
        if mask is mask_name and not text.strip():
            continue  # test_a_blank_name_masks_to_nothing
        masked = mask(text)
        if not text:
            assert masked is None
            continue
        shown = [c for c in masked if c != "*"]
        assert len(shown) <= 2 or len(text) <= 2, (mask, text, masked)


@given(st.text(st.sampled_from(" \t\r\n\u3000\u2028\xa0"), min_size=1, max_size=4))
def test_a_blank_name_masks_to_nothing(blank):
    assert mask_name(blank) is None


# --- free text, titles, passwords (they give their messages in the user's language: app context) -------


@pytest.mark.usefixtures("app")
@given(user_text, st.integers(1, 30), st.booleans())
def test_free_text_is_clean_or_refused_under_its_own_field(text, max_len, required):
    errors: dict[str, list[str]] = {}
    cleaned = clean_plain(text, field="reason", errors=errors, max_len=max_len, required="必填" if required else None)
    assert isinstance(cleaned, str)
    assert set(errors) <= {"reason"}
    if not errors:
        assert len(cleaned) <= max_len
        assert not any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in cleaned)
        assert not re.search(r"[\u202a-\u202e\u2066-\u2069]", cleaned)
        assert not looks_like_pii(cleaned)
        assert cleaned or not required


@pytest.mark.usefixtures("app")
@given(user_text)
def test_titles_are_clean_or_refused(text):
    errors: dict[str, list[str]] = {}
    title = clean_title(text, errors)
    assert set(errors) <= {"title"}
    if not errors:
        assert 2 <= len(title) <= 80
        assert title == title.strip() and "  " not in title
        assert not any(unicodedata.category(c) == "Cc" for c in title)


@pytest.mark.usefixtures("app")
@given(user_text, st.text(max_size=10))
def test_password_rules_answer_any_text_with_reasons(password, username):
    problems = password_problems(password, username)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)
    assert len(problems) <= 1


# --- prices -----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("app")
@given(st.one_of(user_text, st.from_regex(r"\A[¥￥]?\s?-?[0-9０-９,.]{0,16}\s?元?\Z")))
def test_prices_parse_to_fen_in_range_or_a_price_error(text):
    try:
        fen = parse_price(text)
    except Invalid as exc:
        assert set(exc.errors) == {"price"}
        return
    assert isinstance(fen, int) and 0 <= fen <= PRICE_MAX_FEN


@pytest.mark.usefixtures("app")
@given(st.integers(0, PRICE_MAX_FEN))
def test_prices_round_trip_through_every_way_they_are_written(fen):
    assert parse_price(yuan_text(fen)) == fen
    assert parse_price(format_price(fen)) == fen
    assert parse_price("¥" + yuan_text(fen) + "元") == fen
    assert parse_price(yuan_text(fen).translate(str.maketrans("0123456789.", "０１２３４５６７８９．"))) == fen


# --- the description sanitiser -------------------------------------------------------------------------

# Hostile HTML from a small grammar: elements (some allowed, most not, in mixed case) with event
# handlers, javascript: URLs (entity-encoded, tab-split), srcdoc and style payloads, nested and
# unclosed, among text that looks like markup (comments, CDATA, split tags, entities).
TAGS = [
    "script", "SCRIPT", "ScRiPt", "img", "svg", "a", "iframe", "style", "math", "object", "embed", "base", "form",
    "input", "body", "details", "video", "template", "textarea", "noscript", "title", "xmp", "select", "meta",
    "p", "b", "strong", "li", "ul", "ol", "br", "P", "B",
]  # fmt: skip
ATTRS = [
    'onerror="alert(1)"', "onload=alert(1)", "ONCLICK='x()'", "onmouseover=alert`1`", "on\x0cerror=alert(1)",
    'href="javascript:alert(1)"', "href=JaVaScRiPt:alert(1)", 'src="java&#x09;script:alert(1)"',
    'href="&#106;avascript:alert(1)"', 'xlink:href="javascript:alert(1)"', 'style="background:url(javascript:x)"',
    "formaction=javascript:alert(1)", 'srcdoc="<script>alert(1)</script>"', "data-x=1", "/onerror=alert(1)",
    "open ontoggle=alert(1)", 'http-equiv="refresh" content="0;url=javascript:alert(1)"',
]  # fmt: skip
TEXT = st.sampled_from(
    [
        "alert(1)", "javascript:alert(1)", "&lt;script&gt;", "&amp;", "<", ">", '"', "'", "\n", "\n\n", " ", "九成新",
        "<!--", "-->", "<![CDATA[", "]]>", "&#60;script&#62;", "<scr<script>ipt>", "</", "/>", "=", "`", "\u202e",
    ]
)  # fmt: skip


def _element(children):
    return st.builds(
        lambda tag, attrs, kids, close: (
            f"<{tag}{''.join(' ' + a for a in attrs)}>{''.join(kids)}" + (f"</{tag}>" if close else "")
        ),
        st.sampled_from(TAGS),
        st.lists(st.sampled_from(ATTRS), max_size=3),
        st.lists(children, max_size=4),
        st.booleans(),
    )


def _grow(kids):
    return st.one_of(_element(kids), st.lists(kids, max_size=4).map("".join))


hostile_html = st.recursive(TEXT, _grow)
ANY_TAG = re.compile(r"<[^>]*>?")
OWN_TAG = re.compile(r"</?(?:p|br|ul|ol|li|strong|b)>")


def assert_inert(html_out: str, source: str) -> None:
    for tag in ANY_TAG.findall(html_out):
        assert OWN_TAG.fullmatch(tag), f"{tag!r} left in {html_out!r} from {source!r}"
    lowered = html_out.lower()
    assert "<script" not in lowered and "<svg" not in lowered


@given(st.one_of(hostile_html, user_text))
def test_sanitised_descriptions_keep_only_their_own_tags_without_attributes(source):
    """No <script>, no on*= handler, no javascript: URL: no tag but p, br, ul, ol, li, strong, b, bare."""
    once = sanitise_description(source)
    assert_inert(once, source)
    assert sanitise_description(once) == once, "sanitising twice changed the result"
    assert sanitise_stored(once) == once, "the page-time clean changed a stored description"
    assert_inert(sanitise_stored(source), source)


@pytest.mark.usefixtures("app")
@given(hostile_html)
def test_the_description_field_refuses_or_cleans_hostile_html(source):
    errors: dict[str, list[str]] = {}
    cleaned = clean_description(source, errors)
    assert set(errors) <= {"description"}
    assert_inert(cleaned, source)


# Text with nothing that HTML reads as markup: "<" only before a space or a digit, "&" only before a space.
_plain_chunk = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<>&"), max_size=8)
plain_texts = st.lists(
    st.one_of(_plain_chunk, st.sampled_from(["\n", "\n\n", " ", "& ", " > ", "3<5", "< ", "价格 > 100"])),
    max_size=10,
).map("".join)


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@given(plain_texts)
def test_plain_text_survives_the_sanitiser(text):
    """What a textarea sends comes back word for word, in the page text and in the edit form."""
    stored = sanitise_description(text)
    assert _words(plain_text(stored)) == _words(text)
    assert _words(description_for_editing(stored)) == _words(text)
