"""Free text people type to each other (messages, reasons, comments): one set of checks.

Stored as plain text and shown escaped, so markup is inert; what is refused is what
would still hurt as text: control characters, bidirectional overrides that reorder
what the reader sees, and ID or phone numbers (privacy: the platform keeps contact
details masked, so a full number typed into a message is refused with a reason).
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import gettext as _

from marketplace.identity.masking import looks_like_pii

_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def clean_plain(
    value: str | None,
    *,
    field: str,
    errors: dict[str, list[str]],
    max_len: int,
    required: str | None = None,
) -> str:
    """Cleaned text (NFC, newlines normalised, stripped); a message under `field` in `errors` when at fault.

    `required` is the message for an empty value; without it the text is optional.
    """
    text = unicodedata.normalize("NFC", (value or "").replace("\r\n", "\n").replace("\r", "\n")).strip()
    message = None
    if not text:
        message = required
    elif any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text) or _BIDI.search(text):
        message = _("含有不可见的控制字符，请删除后重试")
    elif len(text) > max_len:
        message = _("最多 %(n)s 个字（现在 %(count)s 个）", n=max_len, count=len(text))
    elif looks_like_pii(text):
        message = _("为保护隐私，请不要填写完整的手机号或身份证号；见面交易时再当面交换联系方式")
    if message:
        errors.setdefault(field, []).append(message)
    return text
