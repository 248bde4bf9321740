"""Watching every response and log record of the suite for unmasked personal data."""

from __future__ import annotations

import logging
import re
import unicodedata

from marketplace.identity.validators import is_valid_resident_id

# 18-character resident ID numbers (checked by checksum to avoid false alarms) and mainland mobiles.
# Both stand apart from Latin letters and digits: a run of digits inside a random hex token (a photo's
# file name, say) is not a phone number, and matched one now and then.
_ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")


def find_pii(text: str) -> list[str]:
    """Unmasked ID numbers and phone numbers found in `text` (full-width digits included)."""
    text = unicodedata.normalize("NFKC", text)
    found = [m.group(0) for m in _ID_CANDIDATE.finditer(text) if is_valid_resident_id(m.group(0))]
    found += [m.group(0) for m in _PHONE.finditer(text)]
    return found


class PiiWatch:
    """Collects every leak seen in responses and log records; the app fixture asserts none."""

    def __init__(self) -> None:
        self.leaks: list[str] = []

    def check_text(self, where: str, text: str) -> None:
        for hit in find_pii(text):
            self.leaks.append(f"{where}: {hit[:3]}…")

    def check_response(self, response) -> None:
        request = getattr(response, "request", None)
        where = f"{request.method} {request.path}" if request is not None else "response"
        if not response.direct_passthrough:
            body = response.get_data()
            # Text as text; anything else (a photo) byte for byte, so digits in it are still seen.
            textual = (response.mimetype or "text/").startswith(("text/", "application/"))  # a 304 has none
            text = body.decode("utf-8") if textual else None
            self.check_text(where + " body", text if text is not None else body.decode("latin-1"))
        for key, value in response.headers.items():
            self.check_text(f"{where} header {key}", value)
        if request is not None:
            self.check_text(f"{where} url", request.url)

    def log_handler(self) -> logging.Handler:
        watch = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    text = record.getMessage()
                except Exception:  # a broken log call is not our concern here
                    text = str(record.msg)
                if record.exc_info:
                    text += logging.Formatter().formatException(record.exc_info)
                watch.check_text(f"log {record.name}", text)

        return Handler(level=logging.DEBUG)

    def assert_clean(self) -> None:
        assert not self.leaks, "unmasked personal data leaked: " + "; ".join(self.leaks[:5])
