"""Highlighting search matches: escaped text with the query's words in <mark>, optionally a snippet."""

from __future__ import annotations

from markupsafe import Markup, escape

from marketplace.listings.tokens import MAX_TERMS, RUNS, chunks, normalise


def _starts_inside_word(flat: str, at: int, kind: str) -> bool:
    # Words match from their start only (as the index does); Han matches anywhere.
    m = RUNS.fullmatch(flat[at - 1]) if at > 0 else None
    return m is not None and m.lastgroup == kind != "han"


def _find(flat: str, needle: str, kind: str) -> list[int]:
    found, at = [], flat.find(needle)
    while at != -1:
        if not _starts_inside_word(flat, at, kind):
            found.append(at)
        at = flat.find(needle, at + 1)
    return found


def _hits(text: str, q: str) -> list[tuple[int, int]]:
    """Merged (start, end) spans of `text` that match the query, compared after NFKC and lower-casing."""
    norm: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for out in normalise(ch):
            norm.append(out)
            origin.append(i)
    flat = "".join(norm)
    spans = []
    for chunk in chunks(q)[:MAX_TERMS]:
        whole = "".join(m.group() for m in chunk)
        # A chunk as typed; if the text spaces it differently ("华为 P40"), its runs one by one.
        needles = [(whole, chunk[0].lastgroup)]
        if len(chunk) > 1 and not _find(flat, whole, chunk[0].lastgroup):
            needles = [(m.group(), m.lastgroup) for m in chunk]
        for needle, kind in needles:
            spans += [(origin[at], origin[at + len(needle) - 1] + 1) for at in _find(flat, needle, kind)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, q: str, *, max_len: int | None = None) -> Markup:
    """`text` HTML-escaped with the query's matches in <mark>; with max_len, a snippet around the first."""
    text = text or ""
    spans = _hits(text, q) if q else []
    start, end = 0, len(text)
    if max_len is not None and 0 < max_len < len(text):
        first = spans[0][0] if spans else 0
        start = max(0, first - max_len // 4)
        end = min(len(text), start + max_len)
        start = max(0, end - max_len)
    parts: list[str] = [Markup("…")] if start > 0 else []
    pos = start
    for a, b in spans:
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        parts += [escape(text[pos:a]), Markup("<mark>"), escape(text[a:b]), Markup("</mark>")]
        pos = b
    parts.append(escape(text[pos:end]))
    if end < len(text):
        parts.append(Markup("…"))
    return Markup("").join(parts)
