"""What sellers type into a listing: title, description (sanitised with nh3) and price in yuan.

Each `clean_*` function returns the cleaned value and adds its field's messages to
`errors`, so one submission reports every field at fault at once.
"""

from __future__ import annotations

import html
import re
import unicodedata
from decimal import Decimal

import nh3
from flask_babel import gettext as _

from marketplace.errors import Invalid
from marketplace.listings.tokens import plain_text

TITLE_MIN, TITLE_MAX = 2, 80
DESCRIPTION_MAX = 5000
PRICE_MAX_FEN = 100_000_000 * 100  # 1 亿元
ALLOWED_TAGS = {"p", "br", "ul", "ol", "li", "strong", "b"}
_PARAGRAPH_TAG = re.compile(r"<(?:p|br)\b")
_LIST_EDGE_AFTER = re.compile(r"(</?(?:ul|ol|li)>)[ \t]*\n[ \t]*")
_LIST_EDGE_BEFORE = re.compile(r"[ \t]*\n[ \t]*(</?(?:ul|ol|li)>)")
# Bidirectional overrides and isolates reorder what a reader sees: never in a title.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def parse_price(text: str | None) -> int:
    """Typed yuan → integer fen ("12.5" → 1250); Invalid on the `price` field otherwise."""

    def bad(message: str):
        return Invalid(message, errors={"price": [message]})

    value = unicodedata.normalize("NFKC", text or "").strip()
    value = re.sub(r"^[¥￥]\s*|\s*元$", "", value)
    # ASCII digits only: NFKC maps full-width digits to them, but not other scripts' digits ("٣").
    if re.fullmatch(r"-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?", value):
        value = value.replace(",", "")
    if not value:
        raise bad(_("请填写价格"))
    if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", value):
        raise bad(_("价格须为数字，例如 12.5"))
    amount = Decimal(value)
    if amount < 0:
        raise bad(_("价格不能为负数"))
    # The magnitude before quantize: a number of more than 28 digits cannot be quantized.
    if amount > PRICE_MAX_FEN / 100:
        raise bad(_("价格不能超过 1 亿元"))
    if amount != amount.quantize(Decimal("0.01")):
        raise bad(_("价格最多两位小数（精确到分）"))
    return int(amount * 100)


def format_price(fen: int) -> str:
    """Integer fen → "1,299" or "12.50" (yuan, without the ¥ sign)."""
    yuan, cents = divmod(fen, 100)
    return f"{yuan:,}" if cents == 0 else f"{yuan:,}.{cents:02d}"


def yuan_text(fen: int | None) -> str:
    """Integer fen → the text a seller would type ("12.5", "1299")."""
    if fen is None:
        return ""
    yuan, cents = divmod(fen, 100)
    return str(yuan) if cents == 0 else f"{yuan}.{cents:02d}".rstrip("0")


def clean_title(value: str | None, errors: dict[str, list[str]]) -> str:
    """Whitespace collapsed; 2–80 characters of visible text."""
    title = re.sub(r"\s+", " ", value or "").strip()
    if not title:
        errors["title"] = [_("请填写标题")]
    elif any(unicodedata.category(c) == "Cc" for c in title) or _BIDI.search(title):
        errors["title"] = [_("标题中含有不可见的控制字符，请删除")]
    elif not TITLE_MIN <= len(title) <= TITLE_MAX:
        errors["title"] = [_("标题为 %(min)s–%(max)s 个字", min=TITLE_MIN, max=TITLE_MAX)]
    return title


_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>")


def sanitise_description(value: str | None) -> str:
    """Keep paragraphs, line breaks, lists and bold; drop every other tag and all attributes.

    Plain text (what a textarea sends) becomes paragraphs (blank lines) and line
    breaks; newlines next to list tags are layout, not breaks.
    """
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    cleaned = _settled(nh3.clean(text, tags=ALLOWED_TAGS, attributes={}).strip())
    if not cleaned or _PARAGRAPH_TAG.search(cleaned):
        return cleaned
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", cleaned) if p.strip()]
    paragraphs = [_LIST_EDGE_BEFORE.sub(r"\1", _LIST_EDGE_AFTER.sub(r"\1", p)) for p in paragraphs]
    wrapped = "".join("<p>" + p.replace("\n", "<br>") + "</p>" for p in paragraphs)
    # The parser closes a <p> before a list; drop the empty paragraphs that leaves.
    return _settled(wrapped)


def _settled(html_text: str) -> str:
    """Cleaned until cleaning changes nothing, without empty paragraphs.

    The cleaner writes out the tree it built, which may nest what HTML cannot (a <p> in a <p>, once
    the tags between them are gone); read again, that becomes siblings. Stored text must read back as
    itself, so that the page-time clean and a later edit leave it as it is.
    """
    for _round in range(5):
        cleaned = nh3.clean(html_text, tags=ALLOWED_TAGS, attributes={})
        tidy = _EMPTY_PARAGRAPH.sub("", cleaned)
        if tidy == cleaned == html_text:
            break
        html_text = tidy
    return html_text


def description_for_editing(value: str | None) -> str:
    """A stored description as a seller would have typed it (paragraphs back to blank lines)."""
    text = re.sub(r"<br>", "\n", value or "")
    text = re.sub(r"</p>", "\n\n", text.replace("<p>", ""))
    text = re.sub(r"(</(?:ul|ol)>)", r"\1\n\n", text)
    text = re.sub(r"(</li>|<(?:ul|ol)>)", r"\1\n", text)
    return html.unescape(re.sub(r"\n{3,}", "\n\n", text)).strip()


def sanitise_stored(description: str | None) -> str:
    """A stored description cleaned once more on its way to a page (rows can be written around the service)."""
    return nh3.clean(description or "", tags=ALLOWED_TAGS, attributes={})


def clean_description(value: str | None, errors: dict[str, list[str]]) -> str:
    """Sanitised description HTML, at most DESCRIPTION_MAX characters of text."""
    raw = value or ""
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in raw):
        errors["description"] = [_("描述中含有不可见的控制字符，请删除")]
        return ""
    cleaned = sanitise_description(raw)
    # Text as a reader sees it ("&" stored as "&amp;" is one character); the markup around it
    # is bounded apart, with entities counted as the characters they stand for.
    if len(plain_text(cleaned)) > DESCRIPTION_MAX or len(html.unescape(cleaned)) > DESCRIPTION_MAX * 2:
        errors["description"] = [_("描述最多 %(n)s 个字", n=DESCRIPTION_MAX)]
    return cleaned
