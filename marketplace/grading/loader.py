"""Reading the standard files and checking the rules the engine relies on (monotone options, bands)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from marketplace.grading.standard import Gate, Grade, Item, NumberCap, Option, Section, Standard

ITEM_TYPES = ("choice", "number", "text", "imei", "vin", "date")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")


class StandardError(ValueError):
    """A standard file breaks the rules the engine relies on (a programming error, found at load)."""


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise StandardError(f"{where}: {message}")


def _load_item(raw: dict, grades: list[str], sections: set[str], where: str) -> Item:
    key = raw.get("key", "")
    where = f"{where} item {key!r}"
    _require(bool(_KEY.fullmatch(key)), where, "key must be a short lower-case identifier")
    _require(raw.get("type") in ITEM_TYPES, where, f"type must be one of {ITEM_TYPES}")
    _require(raw.get("section") is None or raw["section"] in sections, where, "unknown section")
    rank = {code: i for i, code in enumerate(grades)}
    options = []
    if raw["type"] == "choice":
        _require(len(raw.get("options") or []) >= 2, where, "a choice needs at least two options")
        worst_cap, worst_deduction = 0, 0
        for o in raw["options"]:
            _require(o.get("grade") is None or o["grade"] in rank, where, f"option {o.get('value')!r}: unknown grade")
            cap = rank.get(o.get("grade"), 0)
            deduction = int(o.get("deduction", 0))
            # Options run best to worst: a later option never caps better nor deducts less.
            _require(cap >= worst_cap, where, f"option {o['value']!r} caps better than an earlier option")
            _require(deduction >= worst_deduction, where, f"option {o['value']!r} deducts less than an earlier one")
            worst_cap, worst_deduction = cap, deduction
            options.append(
                Option(
                    value=str(o["value"]),
                    label_id=o["label"],
                    grade=o.get("grade"),
                    deduction=deduction,
                    warning_id=o.get("warning"),
                    safe_life_years=o.get("safe_life_years"),
                    recycle_when_expired=bool(o.get("recycle_when_expired", False)),
                )
            )
        _require(len({o.value for o in options}) == len(options), where, "duplicate option values")
    caps = []
    if raw["type"] == "number":
        _require(raw.get("better") in ("higher", "lower"), where, "a number says which way is better")
        for c in raw.get("caps", []):
            threshold = c.get("below") if raw["better"] == "higher" else c.get("above")
            _require(threshold is not None and c.get("grade") in rank, where, "a cap needs a threshold and a grade")
            caps.append(NumberCap(threshold=float(threshold), grade=c["grade"]))
    required_if = None
    if raw.get("required_if"):
        required_if = (raw["required_if"]["item"], tuple(raw["required_if"]["values"]))
    return Item(
        key=key,
        label_id=raw["label"],
        type=raw["type"],
        required=bool(raw.get("required", True)),
        section=raw.get("section"),
        hint_id=raw.get("hint"),
        options=tuple(options),
        min=raw.get("min"),
        max=raw.get("max"),
        unit=raw.get("unit"),
        better=raw.get("better"),
        integer=bool(raw.get("integer", False)),
        caps=tuple(caps),
        max_length=int(raw.get("max_length", 200)),
        required_if=required_if,
    )


def load_standard(path: Path) -> Standard:
    """Read and check one standard file."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    where = path.name
    category = raw.get("category")
    _require(path.stem == category, where, "file name and category differ")
    _require(str(raw.get("version", "")).startswith(f"{category}-"), where, "version must start with the category")
    grades = [g["code"] for g in raw["grades"]]
    _require(len(grades) == len(set(grades)) >= 2, where, "grades must be distinct, at least two")
    sections = [Section(s["key"], s["label"], s.get("max_score"), s.get("hint")) for s in raw.get("sections", [])]
    section_keys = {s.key for s in sections}
    gates = tuple(Gate(g["key"], g["label"], g.get("hint")) for g in raw["gates"])
    items = tuple(_load_item(i, grades, section_keys, where) for i in raw["items"])
    keys = [g.key for g in gates] + [i.key for i in items]
    _require(len(keys) == len(set(keys)), where, "gate and item keys must be unique")
    for g in gates:
        _require(bool(_KEY.fullmatch(g.key)), where, f"gate key {g.key!r} must be a short lower-case identifier")
    by_key = {i.key: i for i in items}
    for i in items:
        if i.required_if:
            target = by_key.get(i.required_if[0])
            _require(target is not None and target.type == "choice", where, f"{i.key}: required_if needs a choice")
            _require(all(target.option(v) for v in i.required_if[1]), where, f"{i.key}: required_if names no option")
    grade_objs = tuple(Grade(g["code"], g["label"], g.get("summary"), g.get("min_score")) for g in raw["grades"])
    if any(s.max_score is not None for s in sections):
        bands = [g.min_score for g in grade_objs if g.min_score is not None]
        _require(bands == sorted(bands, reverse=True) and bands[-1] == 0, where, "bands run down to 0")
    safe_life = None
    if raw.get("safe_life"):
        safe_life = (raw["safe_life"]["type_item"], raw["safe_life"]["year_item"])
        _require(by_key.get(safe_life[0]) is not None and by_key.get(safe_life[1]) is not None, where, "safe_life")
    standard = Standard(
        category=category,
        version=raw["version"],
        title_id=raw["title"],
        intro_id=raw.get("intro"),
        basis_id=raw.get("basis"),
        gates=gates,
        sections=tuple(sections),
        items=items,
        grades=grade_objs,
        safe_life=safe_life,
    )
    index = standard._index
    index.update({("gate", g.key): g for g in gates})
    index.update({("item", i.key): i for i in items})
    index.update({("section", s.key): s for s in sections})
    index.update({("grade", g.code): g for g in grade_objs})
    return standard


# Fields of a standard file that hold msgids (translated when shown).
TRANSLATABLE = ("title", "intro", "basis", "label", "hint", "summary", "warning")


def label_msgids(paths: list[Path]) -> list[str]:
    """Every msgid in the standard files, in order of first appearance."""
    found: dict[str, None] = {}

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in TRANSLATABLE and isinstance(value, str) and value:
                    found.setdefault(value, None)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in paths:
        walk(json.loads(path.read_text(encoding="utf-8")))
    return list(found)


def render_labels_module(msgids: list[str]) -> str:
    """The text of labels.py: every msgid inside a lazy_gettext call, where pybabel finds it."""
    lines = [
        "# ruff: noqa: E501",
        '"""Every label of the standard files, marked for pybabel (which does not read JSON).',
        "",
        "Generated by `flask --app wsgi grading labels` from marketplace/grading/standards/*.json;",
        "do not edit. tests/grading/test_labels.py fails when it is out of date.",
        '"""',
        "",
        "from flask_babel import lazy_gettext as _l",
        "",
        "# fmt: off",
        "LABELS = (",
        *(f"    _l({json.dumps(m, ensure_ascii=False)})," for m in msgids),
        ")",
        "# fmt: on",
        "",
    ]
    return "\n".join(lines)
