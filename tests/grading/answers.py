"""Checklist answers for the grading tests: the best ones, and hypothesis strategies over valid and worse ones."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from marketplace.grading.engine import Standard, get_standard

TODAY = date(2026, 6, 15)
IMEI = "490154203237518"
VIN = "1M8GDM9AXKP042788"


def best_answers(category: str) -> dict:
    """Every gate "no", every item at its best (a listable checklist with the top grade)."""
    standard = get_standard(category)
    answers: dict = {gate.key: False for gate in standard.gates}
    for item in standard.items:
        if item.type == "choice":
            answers[item.key] = item.options[0].value
        elif item.type == "number":
            answers[item.key] = item.resolved_max(TODAY) if item.better == "higher" else item.min
        elif item.type == "imei":
            answers[item.key] = IMEI
        elif item.type == "vin":
            answers[item.key] = VIN
        elif item.type == "date":
            answers[item.key] = "2020-05-01"
        else:
            answers[item.key] = "示例"
    return answers


def valid_value(item):
    """A strategy over valid answers to one item."""
    if item.type == "choice":
        return st.sampled_from([o.value for o in item.options])
    if item.type == "number":
        low, high = item.min, item.resolved_max(TODAY)
        ints = st.integers(int(low), int(high))
        return ints if item.integer else st.one_of(ints, st.floats(low, high, allow_nan=False))
    if item.type == "imei":
        return st.just(IMEI)
    if item.type == "vin":
        return st.just(VIN)
    if item.type == "date":
        return st.dates(date(1990, 1, 1), TODAY).map(date.isoformat)
    return st.text(alphabet="品牌型号ABC123 ", min_size=1, max_size=20).filter(str.strip)


def worse_value(item, value):
    """A strategy over answers to `item` no better than `value` (later options; lower/higher numbers)."""
    if item.type == "choice":
        values = [o.value for o in item.options]
        return st.sampled_from(values[values.index(value) :])
    if item.type == "number":
        low, high = item.min, item.resolved_max(TODAY)
        if item.better == "higher":
            low, high = low, value
        else:
            low, high = value, high
        if item.integer:
            return st.integers(int(low), int(high))
        return st.floats(low, high, allow_nan=False)
    return st.just(value)


@st.composite
def valid_answers(draw, standard: Standard) -> dict:
    """A complete, listable checklist for `standard` (every gate "no")."""
    answers: dict = {gate.key: False for gate in standard.gates}
    for item in standard.items:
        answers[item.key] = draw(valid_value(item))
    return answers
