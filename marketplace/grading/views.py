"""Grading pages: the public standards, so a buyer knows what "B" or "二级" means."""

from __future__ import annotations

import click
from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext as _l

from marketplace.grading import engine
from marketplace.grading.loader import label_msgids, render_labels_module
from marketplace.grading.standard import describe_cap

bp = Blueprint("grading", __name__)

TYPE_LABELS = {
    "choice": _l("单选"),
    "number": _l("数字"),
    "text": _l("文字"),
    "imei": _l("IMEI：15 位数字，校验位正确"),
    "vin": _l("车辆识别代号：17 位，不含 I、O、Q，校验位正确"),
    "date": _l("日期"),
}


@bp.app_template_global()
def grade_label(category: str, code: str | None) -> str | None:
    """A grade's label in the reader's language (for the grade badge on any page)."""
    return engine.grade_label(category, code)


@bp.app_template_global()
def grading_standard(category: str):
    """The standard of a category, or None (for templates that show a checklist)."""
    return engine.get_standard(category)


@bp.get("/standards")
def index():
    """The published grading standards."""
    return render_template("grading/index.html", standards=engine.standards())


@bp.get("/standards/<category>")
def standard(category: str):
    """One standard in full: gates, every item with its options, and how each grade is reached."""
    found = engine.get_standard(category)
    if found is None:
        abort(404)
    return render_template(
        "grading/standard.html",
        standard=found,
        limits=found.limits(),
        bands={grade.code: (low, high) for grade, low, high in found.bands()},
        type_labels=TYPE_LABELS,
        describe_cap=describe_cap,
    )


@bp.cli.command("labels")
@click.option("--check", is_flag=True, help="Only say whether labels.py is up to date (exit 1 if not).")
def write_labels(check: bool) -> None:
    """Rewrite marketplace/grading/labels.py from the standard files (run after editing one)."""
    paths = [engine.STANDARDS_DIR / f"{c}.json" for c in engine.CATEGORIES]
    target = engine.STANDARDS_DIR.parent / "labels.py"
    text = render_labels_module(label_msgids(paths))
    if check:
        current = target.read_text(encoding="utf-8") == text
        click.echo("labels.py is up to date" if current else "labels.py is out of date: run without --check")
        raise SystemExit(0 if current else 1)
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}; now run scripts/i18n.sh update and translate the new strings")
