"""The grading engine: standards loaded from versioned data files, and grades computed from checklists.

A standard (marketplace/grading/standards/<category>.json) has gates (any "yes" refuses the
listing), items (the checklist: disclosures and scored questions) and grades, best first.
The grade is never typed by a seller; it follows from the answers in two ways, both
monotone by construction:

- caps: a choice option (or a number past a threshold) names the best grade the item can
  still reach; the grade is the worst of all caps. Options are listed best to worst and
  their caps never improve along the list (checked when the file is loaded).
- scores (vehicles): options take points off their section; a section scores its maximum
  minus its deductions, floored at 0; the total falls into a band (`min_score` of a grade).
  Deductions never shrink along an option list (checked when the file is loaded).

Labels in the files are Chinese msgids, translated when shown (see labels.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from marketplace.grading.loader import load_standard
from marketplace.grading.standard import NUMBER_TEXT, Item, Standard, number_text
from marketplace.identity.validators import is_valid_imei, is_valid_vin, nfkc

__all__ = [
    "CATEGORIES",
    "Assessment",
    "Standard",
    "assess",
    "get_standard",
    "grade_label",
    "grade_steps",
    "standards",
    "vehicle_grade_for_score",
]

STANDARDS_DIR = Path(__file__).resolve().parent / "standards"
CATEGORIES = ("phone", "appliance", "vehicle")
# Unknown keys reported one by one, up to this many (a request cannot make an endless error list).
MAX_UNKNOWN_REPORTED = 20
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = {"yes", "true", "是"}
_FALSE = {"no", "false", "否"}


@cache
def _all() -> dict[str, Standard]:
    return {c: load_standard(STANDARDS_DIR / f"{c}.json") for c in CATEGORIES}


def standards() -> list[Standard]:
    """The published standards: phone, appliance, vehicle."""
    return list(_all().values())


def get_standard(category: str) -> Standard | None:
    """The standard of a category; None for categories without one (books, clothing, ...)."""
    return _all().get(category) if isinstance(category, str) else None


def grade_steps(category: str, better: str, worse: str) -> int:
    """How many steps `worse` lies below `better` (negative if above); ValueError for unknown codes."""
    standard = get_standard(category)
    if standard is None:
        raise ValueError(f"no grading standard for {category!r}")
    return standard.grade_index(worse) - standard.grade_index(better)


def grade_label(category: str, code: str | None) -> str | None:
    """A grade's label in the user's language, e.g. "A（95新）"; the code itself if the standard lacks it."""
    if code is None:
        return None
    standard = get_standard(category)
    grade = standard.grade(code) if standard else None
    return str(grade.label) if grade else str(code)


def vehicle_grade_for_score(total: int | float) -> str:
    """The vehicle grade for a technical score without accident (一级 ≥90, 二级 60–89, 三级 20–59, 四级 <20)."""
    standard = get_standard("vehicle")
    assert standard is not None
    return standard.grade_for_score(total)


# --- assessing answers --------------------------------------------------------------


@dataclass
class Assessment:
    """What the engine made of a checklist: the grade, or why the listing is refused."""

    grade: str | None
    blocked: list[tuple[str, str]] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    safety_warning: bool = False
    recycle_only: bool = False
    score: int | None = None
    answers: dict = field(default_factory=dict)
    section_scores: dict[str, int] = field(default_factory=dict)
    version: str | None = None  # the standard's version the answers were graded against

    @property
    def ok(self) -> bool:
        """Listable: every answer valid and no gate answered yes."""
        return not self.errors and not self.blocked


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _gate_value(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    return None


def _number(item: Item, value: Any, today: date) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, _("须为数字")
    if isinstance(value, str):
        text = nfkc(value).strip().replace(",", "")
        # ASCII digits, a sign and one decimal point only: int() and float() also read
        # "1_0", "1e3" and other scripts' digits (٣), which nobody types as a number here.
        if not NUMBER_TEXT.fullmatch(text):
            return None, _("须为数字")
        value = int(text) if re.fullmatch(r"[+-]?[0-9]{1,15}", text) else float(text)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, _("须为数字")
        if value.is_integer() and abs(value) < 1e15:
            value = int(value)
    if item.integer and not isinstance(value, int):
        return None, _("须为整数")
    low, high = item.min, item.resolved_max(today)
    if low is not None and value < low:
        return None, _("不能小于 %(n)s", n=number_text(low))
    if high is not None and value > high:
        return None, _("不能大于 %(n)s", n=number_text(high))
    return value, None


def _text(item: Item, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return None, _("须为文本")
    text = value.strip()
    if len(text) > item.max_length:
        return None, _("最多 %(n)s 个字符", n=item.max_length)
    return text, None


def _date(item: Item, value: Any, today: date) -> tuple[Any, str | None]:
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            return None, _("日期无效")
    else:
        return None, _("日期格式应为 YYYY-MM-DD")
    if day.year < 1900:
        return None, _("日期无效")
    if item.max == "today" and day > today:
        return None, _("不能晚于今天")
    return day.isoformat(), None


def _normalise(item: Item, value: Any, today: date) -> tuple[Any, str | None]:
    """An answer in its stored form, or the message saying what is wrong with it."""
    if item.type == "choice":
        option = item.option(value) if isinstance(value, str) else None
        return (option.value, None) if option else (None, _("请从给出的选项中选择"))
    if item.type == "number":
        return _number(item, value, today)
    if item.type == "text":
        return _text(item, value)
    if item.type == "date":
        return _date(item, value, today)
    if not isinstance(value, str):
        return None, _("须为文本")
    if item.type == "imei":
        imei = re.sub(r"[\s-]", "", nfkc(value))
        return (imei, None) if is_valid_imei(imei) else (None, _("IMEI 应为 15 位数字且校验位正确（拨号 *#06# 查看）"))
    vin = re.sub(r"\s", "", nfkc(value)).upper()
    if is_valid_vin(vin):
        return vin, None
    return None, _("车辆识别代号应为 17 位（不含 I、O、Q），且第 9 位校验位正确")


def assess(category: str, answers: Mapping[str, Any] | None, *, today: date | None = None) -> Assessment:
    """Grade a checklist. Never raises for bad input: every problem is reported in `errors`."""
    today = today or date.today()
    standard = get_standard(category)
    if standard is None:
        result = Assessment(grade=None)
        if answers:
            result.errors["grading"] = [_("这个类目没有评级标准，不需要填写检查项。")]
        return result
    result = Assessment(grade=None, version=standard.version)
    if answers is None:
        answers = {}
    elif not isinstance(answers, Mapping):
        result.errors["grading"] = [_("检查项须为对象（键为检查项）")]
        answers = {}

    unknown = [k for k in answers if not (isinstance(k, str) and (standard.gate(k) or standard.item(k)))]
    for key in unknown[:MAX_UNKNOWN_REPORTED]:
        result.errors[f"grading.{str(key)[:40]}"] = [_("不是此标准的检查项")]

    for gate in standard.gates:
        value = _gate_value(answers.get(gate.key))
        if value is None:
            result.errors[f"grading.{gate.key}"] = [_("请回答“是”或“否”")]
            continue
        result.answers[gate.key] = value
        if value:
            result.blocked.append((gate.key, str(gate.label)))

    for item in standard.items:
        raw = answers.get(item.key)
        if _blank(raw):
            if item.required:
                result.errors[f"grading.{item.key}"] = [_("必填")]
            continue
        value, error = _normalise(item, raw, today)
        if error:
            result.errors[f"grading.{item.key}"] = [error]
        else:
            result.answers[item.key] = value

    for item in standard.items:
        if not item.required_if or item.key in result.answers or f"grading.{item.key}" in result.errors:
            continue
        if result.answers.get(item.required_if[0]) in item.required_if[1]:
            result.errors[f"grading.{item.key}"] = [_("必填")]

    _add_warnings(standard, result, today)
    if not result.errors:
        _grade(standard, result)
    return result


def _add_warnings(standard: Standard, result: Assessment, today: date) -> None:
    for item in standard.items:
        if item.type == "choice" and item.key in result.answers:
            option = item.option(result.answers[item.key])
            if option and option.warning:
                result.warnings.append(str(option.warning))
    if standard.safe_life is None:
        return
    type_key, year_key = standard.safe_life
    kind = standard.item(type_key).option(result.answers.get(type_key))
    year = result.answers.get(year_key)
    if kind is None or kind.safe_life_years is None or not isinstance(year, int):
        return
    age = today.year - year
    # Only the production year is known: an appliance in its Nth calendar year counts as N years old,
    # so the warning comes at the start of the year its safe life runs out (the safe side).
    if age >= kind.safe_life_years:
        result.safety_warning = True
        result.warnings.append(
            _(
                "安全提示：这件%(kind)s出厂约 %(age)s 年，已到或超过 %(life)s 年的安全使用年限，"
                "老化可能带来漏电、起火等隐患。",
                kind=str(kind.label),
                age=age,
                life=kind.safe_life_years,
            )
        )
        if kind.recycle_when_expired:
            result.recycle_only = True
            result.warnings.append(_("燃气和热水器具超过安全使用年限后只能作为回收品处理，不能作为可用商品出售。"))


def _grade(standard: Standard, result: Assessment) -> None:
    worst = 0
    for item in standard.items:
        value = result.answers.get(item.key)
        if value is None:
            continue
        if item.type == "choice":
            option = item.option(value)
            if option and option.grade:
                worst = max(worst, standard.grade_index(option.grade))
        elif item.type == "number":
            for cap in item.caps:
                if item.is_worse(value, cap.threshold):
                    worst = max(worst, standard.grade_index(cap.grade))
    if standard.scored:
        for section in standard.sections:
            if section.max_score is None:
                continue
            deductions = sum(
                item.option(result.answers.get(item.key)).deduction
                for item in standard.items
                if item.section == section.key and item.option(result.answers.get(item.key))
            )
            result.section_scores[section.key] = max(0, section.max_score - deductions)
        result.score = sum(result.section_scores.values())
        worst = max(worst, standard.grade_index(standard.grade_for_score(result.score)))
    result.grade = standard.grades[worst].code
