"""The grading engine: grades follow from the answers, monotonically; gates refuse; bad input is reported."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.grading.engine import (
    CATEGORIES,
    assess,
    get_standard,
    grade_label,
    grade_steps,
    standards,
    vehicle_grade_for_score,
)
from marketplace.grading.loader import StandardError, load_standard
from tests.grading.answers import IMEI, TODAY, VIN, best_answers, valid_answers, worse_value

UNGRADED = ("books", "clothing", "furniture", "bicycles", "baby", "other")


def grade_of(category: str, answers: dict) -> str:
    result = assess(category, answers, today=TODAY)
    assert result.ok, (result.errors, result.blocked)
    return result.grade


# --- the standards -------------------------------------------------------------


def test_three_versioned_standards():
    assert [s.category for s in standards()] == ["phone", "appliance", "vehicle"]
    for standard in standards():
        assert standard.version.startswith(f"{standard.category}-")
        assert get_standard(standard.category) is standard


@pytest.mark.parametrize("category", [*UNGRADED, "", "PHONE", "nonsense"])
def test_categories_without_a_standard(category):
    assert get_standard(category) is None
    result = assess(category, None)
    assert result.grade is None and result.ok and result.answers == {}


def test_answers_for_an_ungraded_category_are_refused():
    result = assess("books", {"screen": "flawless"})
    assert result.grade is None
    assert "grading" in result.errors


def test_grades_are_ordered_best_first():
    assert [g.code for g in get_standard("phone").grades] == ["S", "A", "B", "C", "D"]
    assert [g.code for g in get_standard("appliance").grades] == ["A", "B", "C", "D"]
    assert [g.code for g in get_standard("vehicle").grades] == ["1", "2", "3", "4", "5"]


def test_grade_steps_and_labels():
    assert grade_steps("phone", "A", "C") == 2
    assert grade_steps("phone", "C", "A") == -2
    assert grade_steps("phone", "B", "B") == 0
    assert grade_steps("vehicle", "1", "5") == 4
    with pytest.raises(ValueError):
        grade_steps("phone", "A", "Z")
    with pytest.raises(ValueError):
        grade_steps("books", "A", "B")
    assert grade_label("phone", "A") == "A（95新）"
    assert grade_label("vehicle", "2") == "二级"
    assert grade_label("vehicle", "5") == "五级（事故车）"
    assert grade_label("phone", None) is None
    assert grade_label("books", "A") == "A"


def test_the_vehicle_standard_follows_gbt_30323():
    vehicle = get_standard("vehicle")
    assert len(vehicle.gates) == 8
    frame = [i for i in vehicle.items if i.section == "frame"]
    assert len(frame) == 13
    for item in frame:
        assert [o.value for o in item.options] == ["none", "BX", "NQ", "GH", "SH", "ZZ"]
    scored = {s.key: s.max_score for s in vehicle.sections if s.max_score is not None}
    assert scored == {"body": 20, "engine_bay": 20, "cabin": 10, "startup": 20, "road_test": 15, "chassis": 15}
    body_codes = {o.value[:2] for i in vehicle.items if i.section == "body" for o in i.options[1:]}
    assert body_codes == {"HH", "BX", "XS", "LW", "AX", "XF"}


def test_public_document_shape():
    doc = get_standard("phone").public(today=TODAY)
    assert {"category", "version", "title", "gates", "items", "grades"} <= doc.keys()
    assert doc["gates"][0] == {"key": "account_locked", "label": "账号锁未解除", "hint": doc["gates"][0]["hint"]}
    battery = next(i for i in doc["items"] if i["key"] == "battery_health")
    assert (battery["type"], battery["min"], battery["max"], battery["unit"], battery["better"]) == (
        "number",
        0,
        100,
        "%",
        "higher",
    )
    screen = next(i for i in doc["items"] if i["key"] == "screen")
    assert screen["options"][0] == {
        "value": "flawless",
        "label": "无划痕，完好如新",
        "max_grade": None,
        "deduction": None,
    }
    assert [g["code"] for g in doc["grades"]] == ["S", "A", "B", "C", "D"]
    year = next(i for i in get_standard("appliance").public(today=TODAY)["items"] if i["key"] == "production_year")
    assert year["max"] == 2026


# --- monotonicity: a worse answer never gives a better grade ------------------------


@pytest.mark.parametrize("category", CATEGORIES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_worse_answer_never_gives_a_better_grade(category, data):
    standard = get_standard(category)
    answers = data.draw(valid_answers(standard))
    graded = [i for i in standard.items if i.type in ("choice", "number")]
    changed = data.draw(st.lists(st.sampled_from(graded), min_size=1, unique_by=lambda i: i.key))
    worse = dict(answers)
    for item in changed:
        worse[item.key] = data.draw(worse_value(item, answers[item.key]))
    before, after = assess(category, answers, today=TODAY), assess(category, worse, today=TODAY)
    assert before.ok and after.ok, (before.errors, after.errors)
    assert standard.grade_index(after.grade) >= standard.grade_index(before.grade)
    if standard.scored:
        assert after.score <= before.score


@pytest.mark.parametrize("category", CATEGORIES)
def test_the_best_answers_give_the_best_grade_and_every_grade_is_reachable(category):
    standard = get_standard(category)
    assert grade_of(category, best_answers(category)) == standard.grades[0].code
    reached = {standard.grades[0].code}
    for item in standard.items:
        for option in item.options:
            answers = best_answers(category) | {item.key: option.value}
            reached.add(grade_of(category, answers))
    if standard.scored:
        for target in (75, 40, 10):
            reached.add(grade_of(category, vehicle_answers_scoring(target)))
    assert reached == {g.code for g in standard.grades}


# --- phones ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "grade"),
    [
        ({}, "S"),
        ({"screen": "invisible_20cm"}, "A"),
        ({"body": "invisible_50cm"}, "B"),
        ({"body": "visible"}, "C"),
        ({"repairs": "original_parts"}, "A"),
        ({"repairs": "non_original_parts", "screen": "invisible_20cm"}, "C"),
        ({"battery_health": 80}, "S"),
        ({"battery_health": 79.5}, "D"),
        ({"functions": "minor_fault"}, "D"),
        ({"water_damage": "water_damaged"}, "D"),
        ({"screen": "cracked"}, "D"),
    ],
)
def test_phone_grades(changes, grade):
    assert grade_of("phone", best_answers("phone") | changes) == grade


def test_an_unwiped_phone_is_graded_with_a_warning():
    result = assess("phone", best_answers("phone") | {"data_wiped": "not_yet"})
    assert result.grade == "S"
    assert result.warnings and "清除" in result.warnings[0]


@pytest.mark.parametrize(
    "imei", ["490154203237517", "49015420323751", "4901542032375180", "ABCDEFGHIJKLMNO", 490154203237518]
)
def test_phone_imei_is_checked(imei):
    result = assess("phone", best_answers("phone") | {"imei": imei})
    assert "grading.imei" in result.errors
    assert result.grade is None


def test_phone_imei_is_normalised():
    result = assess("phone", best_answers("phone") | {"imei": "49-015420 3237518"})
    assert result.ok and result.answers["imei"] == IMEI
    result = assess("phone", best_answers("phone") | {"imei": "４９０１５４２０３２３７５１８"})
    assert result.ok and result.answers["imei"] == IMEI


# --- gates, required items, bad input ------------------------------------------------


@pytest.mark.parametrize(("category", "gate"), [(s.category, g.key) for s in standards() for g in s.gates])
def test_any_gate_answered_yes_refuses(category, gate):
    result = assess(category, best_answers(category) | {gate: True})
    assert not result.ok
    label = str(get_standard(category).gate(gate).label)
    assert result.blocked == [(gate, label)]
    assert not result.errors


def test_the_reason_names_every_gate_answered_yes():
    result = assess("phone", best_answers("phone") | {"account_locked": True, "reported_lost": "yes"})
    assert result.blocked == [("account_locked", "账号锁未解除"), ("reported_lost", "挂失或被盗")]


@pytest.mark.parametrize("value", [None, "", "maybe", 1, 0, [], {}])
def test_every_gate_must_be_answered_yes_or_no(value):
    result = assess("phone", best_answers("phone") | {"account_locked": value})
    assert result.errors["grading.account_locked"]
    assert not result.blocked


@pytest.mark.parametrize(("category", "key"), [(s.category, i.key) for s in standards() for i in s.items if i.required])
def test_a_missing_required_item_is_an_error(category, key):
    answers = best_answers(category)
    del answers[key]
    result = assess(category, answers)
    assert result.errors == {f"grading.{key}": ["必填"]}
    assert result.grade is None
    result = assess(category, answers | {key: "   "})
    assert result.errors == {f"grading.{key}": ["必填"]}


def test_optional_items_may_be_left_out():
    answers = best_answers("phone")
    del answers["model"]
    assert assess("phone", answers).ok


def test_nothing_answered_reports_every_gate_and_required_item():
    for standard in standards():
        result = assess(standard.category, None)
        expected = {f"grading.{g.key}" for g in standard.gates} | {
            f"grading.{i.key}" for i in standard.items if i.required
        }
        assert set(result.errors) == expected


def test_unknown_keys_and_options_are_reported():
    result = assess("phone", best_answers("phone") | {"colour": "blue", "screen": "shiny"})
    assert set(result.errors) == {"grading.colour", "grading.screen"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("battery_health", 101),
        ("battery_health", -1),
        ("battery_health", "eighty"),
        ("battery_health", float("nan")),
        ("battery_health", True),
        ("model", "x" * 61),
        ("model", 12),
    ],
)
def test_out_of_range_and_mistyped_answers_are_reported(key, value):
    assert f"grading.{key}" in assess("phone", best_answers("phone") | {key: value}).errors


def test_numbers_typed_as_text_are_read():
    result = assess("phone", best_answers("phone") | {"battery_health": " 85 "})
    assert result.ok and result.answers["battery_health"] == 85


@pytest.mark.parametrize("typed", ["1_0", "٣", "٨٥", "1e2", "85..0", "8.5.0", "+-85", "0x55", "85 %", "", "."])
def test_only_ascii_digits_a_sign_and_one_point_are_numbers(typed):
    result = assess("appliance", best_answers("appliance") | {"production_year": typed}, today=TODAY)
    assert "grading.production_year" in result.errors
    result = assess("phone", best_answers("phone") | {"battery_health": typed})
    assert "grading.battery_health" in result.errors


@pytest.mark.parametrize(("typed", "read"), [("８５", 85), ("+85", 85), ("85.5", 85.5), ("85.", 85)])
def test_full_width_digits_signs_and_a_point_are_read(typed, read):
    result = assess("phone", best_answers("phone") | {"battery_health": typed})
    assert result.ok and result.answers["battery_health"] == read


def test_answers_that_are_not_an_object():
    assert "grading" in assess("phone", ["screen"]).errors


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.parametrize("category", [*CATEGORIES, "books"])
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_assess_never_raises(category, data):
    standard = get_standard(category)
    keys = [k.key for k in (*standard.gates, *standard.items)] if standard else ["x"]
    answers = data.draw(st.dictionaries(st.sampled_from([*keys, "unknown"]) | st.text(max_size=8), json_values))
    result = assess(category, answers, today=TODAY)
    assert result.grade is None or not result.errors
    json.dumps(result.answers)  # what a listing stores


# --- appliances: safe service life --------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "year", "warning", "recycle"),
    [
        ("refrigerator", 2016, True, False),
        ("refrigerator", 2017, False, False),
        ("air_conditioner", 2010, True, False),
        ("washing_machine", 2018, True, False),
        ("washing_machine", 2019, False, False),
        ("range_hood", 2015, True, False),
        ("gas_stove", 2018, True, True),
        ("gas_stove", 2019, False, False),
        ("electric_water_heater", 2012, True, True),
        ("electric_water_heater", 2020, False, False),
        ("gas_water_heater", 2018, True, True),
        ("gas_water_heater", 2019, False, False),
        ("microwave", 1990, False, False),
        ("tv", 1995, False, False),
    ],
)
def test_appliance_safe_service_life(kind, year, warning, recycle):
    answers = best_answers("appliance") | {"type": kind, "production_year": year}
    result = assess("appliance", answers, today=TODAY)
    assert result.ok
    assert result.safety_warning is warning
    assert result.recycle_only is recycle
    assert bool(result.warnings) is warning
    if warning:
        assert "安全使用年限" in result.warnings[0]


def test_appliance_age_follows_the_given_day():
    answers = best_answers("appliance") | {"type": "gas_stove", "production_year": 2019}
    assert not assess("appliance", answers, today=TODAY).recycle_only
    assert assess("appliance", answers, today=TODAY.replace(year=2027)).recycle_only


def test_appliance_production_year_cannot_be_in_the_future():
    answers = best_answers("appliance") | {"production_year": 2027}
    assert "grading.production_year" in assess("appliance", answers, today=TODAY).errors
    answers["production_year"] = 2020.5
    assert "grading.production_year" in assess("appliance", answers, today=TODAY).errors


def test_appliance_repairs_must_name_the_replaced_parts():
    answers = best_answers("appliance") | {"repair_history": "repaired"}
    del answers["replaced_parts"]
    assert assess("appliance", answers, today=TODAY).errors == {"grading.replaced_parts": ["必填"]}
    answers["replaced_parts"] = "2023 年更换压缩机"
    assert grade_of("appliance", answers) == "B"


@pytest.mark.parametrize(
    ("changes", "grade"),
    [
        ({}, "A"),
        ({"noise": "slight"}, "B"),
        ({"appearance": "visible_damage"}, "C"),
        ({"leaks": "leaking"}, "D"),
        ({"electrical_safety": "fail"}, "D"),
        ({"energy_label": "unknown"}, "A"),
    ],
)
def test_appliance_grades(changes, grade):
    assert grade_of("appliance", best_answers("appliance") | changes) == grade


# --- vehicles -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "grade"),
    [(100, "1"), (90, "1"), (89, "2"), (60, "2"), (59, "3"), (20, "3"), (19, "4"), (0, "4")],
)
def test_vehicle_bands(score, grade):
    assert vehicle_grade_for_score(score) == grade


@pytest.mark.parametrize("score", [-1, 101])
def test_vehicle_scores_outside_0_to_100(score):
    with pytest.raises(ValueError):
        vehicle_grade_for_score(score)


def vehicle_answers_scoring(total: int) -> dict:
    """Best vehicle answers with options chosen so that the technical score is exactly `total`."""
    vehicle = get_standard("vehicle")
    # For each section, one choice of options per reachable section score; then combine sections.
    reachable: dict[int, dict] = {0: {}}
    for section in (s for s in vehicle.sections if s.max_score):
        items = [i for i in vehicle.items if i.section == section.key]
        lost: dict[int, dict] = {0: {}}
        for item in items:
            lost = {
                spent + o.deduction: {**picked, item.key: o.value}
                for spent, picked in lost.items()
                for o in item.options
                if spent <= section.max_score
            }
        scores = {max(0, section.max_score - spent): picked for spent, picked in lost.items()}
        reachable = {
            before + score: {**answers, **picked}
            for before, answers in reachable.items()
            for score, picked in scores.items()
        }
    assert total in reachable, f"no checklist scores {total}"
    return best_answers("vehicle") | reachable[total]


@pytest.mark.parametrize(
    ("score", "grade"),
    [(90, "1"), (89, "2"), (60, "2"), (59, "3"), (20, "3"), (19, "4"), (0, "4")],
)
def test_vehicle_checklists_at_the_band_boundaries(score, grade):
    answers = vehicle_answers_scoring(score)
    result = assess("vehicle", answers, today=TODAY)
    assert result.ok
    assert (result.score, result.grade) == (score, grade)
    assert sum(result.section_scores.values()) == score


def test_a_section_never_scores_below_zero():
    vehicle = get_standard("vehicle")
    answers = best_answers("vehicle")
    for item in vehicle.items:
        if item.section == "startup":
            answers[item.key] = item.options[-1].value
    result = assess("vehicle", answers, today=TODAY)
    assert result.section_scores["startup"] == 0
    assert result.score == 80 and result.grade == "2"


@pytest.mark.parametrize("item", [i.key for i in get_standard("vehicle").items if i.section == "frame"])
@pytest.mark.parametrize("defect", ["BX", "NQ", "GH", "SH", "ZZ"])
def test_any_frame_defect_makes_an_accident_car(item, defect):
    result = assess("vehicle", best_answers("vehicle") | {item: defect}, today=TODAY)
    assert result.ok
    assert result.grade == "5"
    assert result.score == 100  # the technical score stays, the grade is 五级 regardless


@pytest.mark.parametrize("vin", ["1M8GDM9AXKP042789", "1M8GDM9AXKP04278", "IM8GDM9AXKP042788", "", "1M8GDM9A"])
def test_vehicle_vin_is_checked(vin):
    result = assess("vehicle", best_answers("vehicle") | {"vin": vin}, today=TODAY)
    assert "grading.vin" in result.errors


def test_vehicle_vin_is_normalised():
    result = assess("vehicle", best_answers("vehicle") | {"vin": " 1m8gdm9axkp042788 "}, today=TODAY)
    assert result.ok and result.answers["vin"] == VIN


@pytest.mark.parametrize("day", ["2026-06-16", "2026-02-30", "15/06/2020", "yesterday", 20200101])
def test_vehicle_registration_date_is_checked(day):
    result = assess("vehicle", best_answers("vehicle") | {"first_registration": day}, today=TODAY)
    assert "grading.first_registration" in result.errors


# --- the loader keeps the files honest --------------------------------------------------


def _write(tmp_path, doc: dict):
    path = tmp_path / f"{doc['category']}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _tiny(options: list[dict]) -> dict:
    return {
        "category": "tiny",
        "version": "tiny-1",
        "title": "t",
        "gates": [],
        "items": [{"key": "state", "label": "s", "type": "choice", "options": options}],
        "grades": [{"code": "A", "label": "A"}, {"code": "B", "label": "B"}],
    }


def test_the_loader_refuses_an_option_better_than_an_earlier_one(tmp_path):
    bad = _tiny([{"value": "x", "label": "x", "grade": "B"}, {"value": "y", "label": "y"}])
    with pytest.raises(StandardError, match="caps better"):
        load_standard(_write(tmp_path, bad))
    good = _tiny([{"value": "x", "label": "x"}, {"value": "y", "label": "y", "grade": "B"}])
    assert load_standard(_write(tmp_path, good)).item("state").options[1].grade == "B"


def test_the_loader_refuses_a_shrinking_deduction(tmp_path):
    bad = _tiny([{"value": "x", "label": "x", "deduction": 3}, {"value": "y", "label": "y", "deduction": 1}])
    with pytest.raises(StandardError, match="deducts less"):
        load_standard(_write(tmp_path, bad))
