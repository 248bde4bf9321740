"""Every label of the standard files is marked for translation (labels.py is up to date)."""

from __future__ import annotations

import ast
from pathlib import Path

from marketplace.grading.engine import CATEGORIES, STANDARDS_DIR
from marketplace.grading.loader import label_msgids, render_labels_module

LABELS = Path(STANDARDS_DIR).parent / "labels.py"


def test_labels_module_is_generated_from_the_standard_files():
    msgids = label_msgids([STANDARDS_DIR / f"{c}.json" for c in CATEGORIES])
    marked = [
        node.args[0].value
        for node in ast.walk(ast.parse(LABELS.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_l"
    ]
    assert marked == msgids, "run `flask --app wsgi grading labels`, then scripts/i18n.sh update"
    assert LABELS.read_text(encoding="utf-8") == render_labels_module(msgids)


def test_the_labels_command_checks_the_module(cli):
    result = cli("grading", "labels", "--check")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
