"""A grading standard in memory: gates, sections, items with their options, grades best first.

Labels are Chinese msgids (the `*_id` fields); `label`, `hint`, `title` and the like read
them translated into the current language, as plain strings (labels.py marks them for pybabel).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _

# A number as people type it: ASCII digits, an optional sign, at most one decimal point
# (no exponent, no "_" separators, no other scripts' digits).
NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _shown(attr: str) -> property:
    """A msgid field read back in the current language: a plain str (or None), so it fits JSON and pydantic."""
    return property(lambda self: _(getattr(self, attr)) if getattr(self, attr) else None)


@dataclass(frozen=True, eq=False)
class Gate:
    key: str
    label_id: str
    hint_id: str | None = None
    label = _shown("label_id")
    hint = _shown("hint_id")


@dataclass(frozen=True, eq=False)
class Option:
    value: str
    label_id: str
    grade: str | None = None  # the best grade an item answered so can still reach
    deduction: int = 0  # points off the item's section (scored standards)
    warning_id: str | None = None  # shown to the buyer when this answer is given
    safe_life_years: int | None = None  # appliance types
    recycle_when_expired: bool = False
    label = _shown("label_id")
    warning = _shown("warning_id")


@dataclass(frozen=True, eq=False)
class NumberCap:
    """Answers worse than `threshold` (below it when higher is better, above it otherwise) reach `grade` at best."""

    threshold: float
    grade: str


@dataclass(frozen=True, eq=False)
class Item:
    key: str
    label_id: str
    type: str
    required: bool = True
    section: str | None = None
    hint_id: str | None = None
    options: tuple[Option, ...] = ()
    min: float | None = None
    max: float | str | None = None  # a number, or "current_year" / "today"
    unit: str | None = None
    better: str | None = None  # "higher" or "lower" (numbers)
    integer: bool = False
    caps: tuple[NumberCap, ...] = ()
    max_length: int = 200
    required_if: tuple[str, tuple[str, ...]] | None = None  # (item key, answers that make this one required)
    label = _shown("label_id")
    hint = _shown("hint_id")

    def option(self, value: Any) -> Option | None:
        """The option with this value, if any."""
        return next((o for o in self.options if o.value == value), None)

    def resolved_max(self, today: date | None = None) -> Any:
        """`max` with "current_year" / "today" replaced by the value for `today`."""
        today = today or date.today()
        if self.max == "current_year":
            return today.year
        if self.max == "today":
            return today.isoformat()
        return self.max

    def is_worse(self, value: float, threshold: float) -> bool:
        """Whether a number answer lies on the worse side of `threshold`."""
        return value < threshold if self.better != "lower" else value > threshold


@dataclass(frozen=True, eq=False)
class Section:
    key: str
    label_id: str
    max_score: int | None = None
    hint_id: str | None = None
    label = _shown("label_id")
    hint = _shown("hint_id")


@dataclass(frozen=True, eq=False)
class Grade:
    code: str
    label_id: str
    summary_id: str | None = None
    min_score: int | None = None
    label = _shown("label_id")
    summary = _shown("summary_id")


@dataclass(frozen=True, eq=False)
class Standard:
    """One versioned grading standard. `*_id` fields hold msgids; `title`, `label` etc. read them translated."""

    category: str
    version: str
    title_id: str
    intro_id: str | None
    basis_id: str | None
    gates: tuple[Gate, ...]
    sections: tuple[Section, ...]
    items: tuple[Item, ...]
    grades: tuple[Grade, ...]
    safe_life: tuple[str, str] | None = None  # (type item, production-year item)
    _index: dict = field(default_factory=dict, repr=False)
    title = _shown("title_id")
    intro = _shown("intro_id")
    basis = _shown("basis_id")

    @property
    def scored(self) -> bool:
        """Whether the standard scores sections (vehicles)."""
        return any(s.max_score is not None for s in self.sections)

    @property
    def max_score(self) -> int:
        return sum(s.max_score or 0 for s in self.sections)

    def item(self, key: str) -> Item | None:
        return self._index.get(("item", key))

    def gate(self, key: str) -> Gate | None:
        return self._index.get(("gate", key))

    def section(self, key: str | None) -> Section | None:
        return self._index.get(("section", key))

    def grade(self, code: str | None) -> Grade | None:
        return self._index.get(("grade", code))

    def grade_index(self, code: str) -> int:
        """Position of `code` in the grades, 0 being the best; ValueError for an unknown code."""
        for i, g in enumerate(self.grades):
            if g.code == code:
                return i
        raise ValueError(f"{code!r} is not a grade of the {self.category} standard")

    def grade_for_score(self, total: int | float) -> str:
        """The grade band a technical score falls into (scored standards only)."""
        if not self.scored:
            raise ValueError(f"the {self.category} standard is not scored")
        if not 0 <= total <= self.max_score:
            raise ValueError(f"score {total} outside 0–{self.max_score}")
        for g in self.grades:
            if g.min_score is not None and total >= g.min_score:
                return g.code
        raise ValueError(f"no band for score {total}")  # pragma: no cover - the loader requires a 0 band

    @staticmethod
    def shared_options(items: list[Item]) -> tuple[Option, ...] | None:
        """The options, when several choice items all offer the same ones (the 13 frame checks), else None."""

        def signature(item: Item) -> tuple:
            return tuple((o.value, str(o.label), o.grade, o.deduction) for o in item.options)

        if len(items) < 2 or any(i.type != "choice" for i in items):
            return None
        first = signature(items[0])
        return items[0].options if all(signature(i) == first for i in items[1:]) else None

    def grouped_items(self) -> list[tuple[Section | None, list[Item]]]:
        """Items grouped by section, in the order of the sections (items without one first)."""
        groups: list[tuple[Section | None, list[Item]]] = []
        loose = [i for i in self.items if i.section is None]
        if loose:
            groups.append((None, loose))
        for s in self.sections:
            members = [i for i in self.items if i.section == s.key]
            if members:
                groups.append((s, members))
        return groups

    def limits(self) -> dict[str, list[tuple[Item, list[str]]]]:
        """For each grade, per item, the answers that hold the item to that grade at best (how grades are reached)."""
        out: dict[str, list[tuple[Item, list[str]]]] = {g.code: [] for g in self.grades}
        for item in self.items:
            found: dict[str, list[str]] = {}
            for option in item.options:
                if option.grade:
                    found.setdefault(option.grade, []).append(str(option.label))
            for cap in item.caps:
                found.setdefault(cap.grade, []).append(describe_cap(item, cap))
            for code, conditions in found.items():
                out[code].append((item, conditions))
        return out

    def bands(self) -> list[tuple[Grade, int, int]]:
        """The score bands of a scored standard, best first: (grade, lowest score, highest score)."""
        bands, high = [], self.max_score
        for g in self.grades:
            if g.min_score is not None:
                bands.append((g, g.min_score, high))
                high = g.min_score - 1
        return bands

    def answer_text(self, key: str, value: Any) -> str:
        """An answer as a reader sees it: the option's label, 是/否 for gates, the number with its unit."""
        if self.gate(key) is not None:
            return _("是") if value is True else _("否") if value is False else str(value)
        item = self.item(key)
        if item is None or value is None:
            return "" if value is None else str(value)
        if item.type == "choice":
            option = item.option(value)
            return str(option.label) if option else str(value)
        if item.type == "number" and item.unit:
            return f"{number_text(value)} {item.unit}"
        return number_text(value) if item.type == "number" else str(value)

    def public(self, today: date | None = None) -> dict:
        """The standard as data (API.md "Standard documents"), labels in the current language."""
        return {
            "category": self.category,
            "version": self.version,
            "title": str(self.title),
            "description": _str(self.intro),
            "basis": _str(self.basis),
            "gates": [{"key": g.key, "label": str(g.label), "hint": _str(g.hint)} for g in self.gates],
            "sections": [
                {"key": s.key, "label": str(s.label), "max_score": s.max_score, "hint": _str(s.hint)}
                for s in self.sections
            ],
            "items": [_public_item(i, today) for i in self.items],
            "grades": [
                {"code": g.code, "label": str(g.label), "summary": _str(g.summary), "min_score": g.min_score}
                for g in self.grades
            ],
        }


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _public_item(item: Item, today: date | None) -> dict:
    return {
        "key": item.key,
        "label": str(item.label),
        "type": item.type,
        "required": item.required,
        "section": item.section,
        "hint": _str(item.hint),
        "options": (
            [
                {
                    "value": o.value,
                    "label": str(o.label),
                    "max_grade": o.grade,
                    "deduction": o.deduction if o.deduction else None,
                }
                for o in item.options
            ]
            if item.type == "choice"
            else None
        ),
        "min": item.min if item.type == "number" else None,
        "max": item.resolved_max(today) if item.type == "number" else None,
        "unit": item.unit,
        "better": item.better,
        "integer": item.integer if item.type == "number" else None,
        "max_length": item.max_length if item.type == "text" else None,
        "required_if": (
            {"item": item.required_if[0], "values": list(item.required_if[1])} if item.required_if else None
        ),
    }


def describe_cap(item: Item, cap: NumberCap) -> str:
    """A number threshold in words: 低于 80 % (or 高于 … when lower is better)."""
    value = f"{number_text(cap.threshold)}{' ' + item.unit if item.unit else ''}"
    if item.better == "lower":
        return _("高于 %(value)s", value=value)
    return _("低于 %(value)s", value=value)
