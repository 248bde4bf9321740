"""Check the WCAG contrast of the colour pairs used in static/css/site.css.

Reads the custom properties from the stylesheet's :root block and prints every
foreground/background pair with its ratio; exits non-zero if a text pair is
below 4.5:1 (or a non-text pair, such as a field border, below 3:1).

    .venv/bin/python scripts/contrast.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CSS = Path(__file__).resolve().parent.parent / "static" / "css" / "site.css"

# (foreground variable, background variable, minimum ratio)
TEXT = 4.5
NON_TEXT = 3.0
PAIRS = [
    ("ink", "bg", TEXT),
    ("ink", "surface", TEXT),
    ("muted", "surface", TEXT),
    ("muted", "bg", TEXT),
    ("link", "surface", TEXT),
    ("link", "bg", TEXT),
    ("link", "brand-tint", TEXT),
    ("ink", "brand-tint", TEXT),
    ("brand", "surface", TEXT),
    ("on-brand", "brand", TEXT),
    ("on-brand", "brand-dark", TEXT),
    ("on-danger", "danger", TEXT),
    ("danger-text", "surface", TEXT),
    ("on-deepgreen", "deepgreen", TEXT),
    ("on-green", "green", TEXT),
    ("on-amber", "amber", TEXT),
    ("on-orange", "orange", TEXT),
    ("on-red", "red", TEXT),
    ("on-neutral", "neutral", TEXT),
    ("on-info", "info", TEXT),
    ("on-event", "event", TEXT),
    ("warmred-text", "warmred-tint", TEXT),
    ("on-warmred", "warmred", TEXT),
    ("on-charcoal", "charcoal", TEXT),
    ("charcoal-muted", "charcoal", TEXT),
    ("success-text", "success-tint", TEXT),
    ("error-text", "error-tint", TEXT),
    ("info-text", "info-tint", TEXT),
    ("warning-text", "warning-tint", TEXT),
    ("field-line", "surface", NON_TEXT),
    ("focus", "surface", NON_TEXT),
    ("focus", "bg", NON_TEXT),
    ("focus", "brand-tint", NON_TEXT),
]
PAIRS += [
    ("on-picto", f"picto-{name}", TEXT)
    for name in ("phone", "appliance", "vehicle", "books", "clothing", "furniture", "bicycles", "baby", "other")
]


def luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def ratio(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def palette(css: str) -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", css, re.S)
    assert root, "no :root block in site.css"
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;", root.group(1)))


def main() -> int:
    colours = palette(CSS.read_text(encoding="utf-8"))
    failed = 0
    for fg, bg, minimum in PAIRS:
        value = ratio(colours[fg], colours[bg])
        ok = value >= minimum
        failed += not ok
        print(f"{'ok ' if ok else 'LOW'} {value:5.2f}:1 (≥{minimum}) --{fg} {colours[fg]} on --{bg} {colours[bg]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
