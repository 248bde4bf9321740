"""The checklist on a form: the macro renders every field, parse_form reads them back for the engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import render_template_string
from werkzeug.datastructures import MultiDict

from marketplace.grading.engine import assess, get_standard, standards
from marketplace.grading.forms import parse_form
from tests.grading.answers import IMEI, TODAY, best_answers

MACROS = '{% from "grading/_checklist.html" import checklist, grade_badge, refused_badge, answers_list %}'


def as_form(answers: dict) -> MultiDict:
    """What a browser posts for these answers."""
    fields = {}
    for key, value in answers.items():
        fields[f"grading-{key}"] = (
            {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else str(value)
        )
    return MultiDict(fields)


@pytest.mark.parametrize("category", ["phone", "appliance", "vehicle"])
def test_a_posted_checklist_reads_back_to_the_same_grade(category):
    standard = get_standard(category)
    answers = best_answers(category)
    parsed = parse_form(standard, as_form(answers))
    assert assess(category, parsed, today=TODAY).answers == assess(category, answers, today=TODAY).answers


def test_parse_form_converts_gates_and_numbers():
    phone = get_standard("phone")
    form = MultiDict(
        {
            "grading-account_locked": "yes",
            "grading-reported_lost": "no",
            "grading-battery_health": " 87 ",
            "grading-imei": IMEI,
            "grading-screen": "flawless",
            "grading-model": "",
            "grading-unrelated": "x",
            "title": "not mine",
        }
    )
    assert parse_form(phone, form) == {
        "account_locked": True,
        "reported_lost": False,
        "battery_health": 87,
        "imei": IMEI,
        "screen": "flawless",
    }
    assert parse_form(phone, MultiDict({"grading-battery_health": "85.5"}))["battery_health"] == 85.5
    for raw in ("eighty", "nan", "inf", "1_0", "٣", "1e3", "８５"):
        assert parse_form(phone, MultiDict({"grading-battery_health": raw}))["battery_health"] == raw
    assert parse_form(phone, MultiDict({"grading-account_locked": "perhaps"}))["account_locked"] == "perhaps"


def render(app, source: str, **context) -> str:
    with app.test_request_context("/"):
        return render_template_string(MACROS + source, **context)


@pytest.mark.parametrize("category", ["phone", "appliance", "vehicle"])
def test_the_checklist_has_a_labelled_field_for_every_gate_and_item(app, category):
    standard = get_standard(category)
    html = render(app, "{{ checklist(standard) }}", standard=standard)
    for gate in standard.gates:
        assert f'name="grading-{gate.key}" value="yes"' in html
        assert f'name="grading-{gate.key}" value="no"' in html
        assert str(gate.label) in html
    for item in standard.items:
        assert f'id="grading-{item.key}" name="grading-{item.key}"' in html
        assert f'<label for="grading-{item.key}">{item.label}' in html
        for option in item.options:
            assert f'<option value="{option.value}">{option.label}</option>' in html
    for section in standard.sections:
        assert f"<legend>{section.label}" in html
    assert "是</label>" in html and "否</label>" in html
    assert "<script" not in html and "style=" not in html
    assert html.count("<fieldset") == html.count("</fieldset>")


def test_the_checklist_keeps_answers_and_shows_errors_beside_the_field(app):
    phone = get_standard("phone")
    answers = best_answers("phone") | {"account_locked": True, "battery_health": "abc", "screen": "invisible_50cm"}
    result = assess("phone", answers)
    html = render(
        app, "{{ checklist(standard, answers, errors) }}", standard=phone, answers=answers, errors=result.errors
    )
    assert 'name="grading-account_locked" value="yes" required checked' in html
    assert 'name="grading-reported_lost" value="no" checked' in html
    assert '<option value="invisible_50cm" selected>' in html
    assert f'value="{IMEI}"' in html
    start = html.index('<div class="field checklist__item field--error">')
    field = html[start : html.index('<div class="field checklist__item">', start)]
    assert 'name="grading-battery_health"' in field
    assert 'aria-invalid="true"' in field
    assert 'id="grading-battery_health-error" role="alert">须为数字</p>' in field
    assert html.count("field--error") == 1


def test_required_items_are_marked(app):
    phone = get_standard("phone")
    html = render(app, "{{ checklist(standard) }}", standard=phone)
    model = re.search(r'<label for="grading-model">(.*?)</label>', html, re.S).group(1)
    imei = re.search(r'<label for="grading-imei">(.*?)</label>', html, re.S).group(1)
    assert "必填" in imei and "必填" not in model


def test_number_fields_carry_range_and_unit(app):
    html = render(app, "{{ checklist(standard) }}", standard=get_standard("phone"))
    field = re.search(r'<input type="number"[^>]*name="grading-battery_health"[^>]*>', html).group(0)
    assert 'min="0"' in field and 'max="100"' in field
    assert '<span class="input-unit__unit">%</span>' in html


@pytest.mark.parametrize(
    ("category", "code", "css", "text"),
    [
        ("phone", "S", "badge--grade-s", "S（99新）"),
        ("phone", "B", "badge--grade-b", "B（9成新）"),
        ("appliance", "D", "badge--grade-d", "D（故障）"),
        ("vehicle", "1", "badge--grade-1", "一级"),
        ("vehicle", "5", "badge--grade-5", "五级（事故车）"),
    ],
)
def test_grade_badges_say_the_grade_in_words(app, category, code, css, text):
    html = render(app, "{{ grade_badge(category, code) }}", category=category, code=code)
    assert f'class="badge badge--grade {css}"' in html
    assert text in html


def test_no_badge_without_a_grade_and_a_refused_badge(app):
    assert render(app, "{{ grade_badge('books', none) }}").strip() == ""
    assert "badge--grade-refused" in render(app, "{{ refused_badge() }}")


def test_every_grade_badge_has_a_colour_in_the_stylesheet(app):
    css = Path(app.static_folder, "css", "site.css").read_text(encoding="utf-8")
    for standard in standards():
        for grade in standard.grades:
            assert f".badge--grade-{grade.code.lower()}" in css
    assert ".badge--grade-refused" in css


def test_answers_list_shows_option_labels(app):
    answers = assess("phone", best_answers("phone") | {"screen": "invisible_20cm"}).answers
    html = render(app, "{{ answers_list(standard, answers) }}", standard=get_standard("phone"), answers=answers)
    assert "<dt>屏幕</dt><dd>有细微划痕，20 厘米外看不出</dd>" in html
    assert "<dt>电池健康度</dt><dd>100 %</dd>" in html
    assert "<dt>账号锁未解除</dt><dd>否</dd>" in html
