"""Translations: every string in the sources has an English translation, and the switch works.

Chinese is the source language (the msgids); English lives in
marketplace/translations/en/LC_MESSAGES/messages.po. When a test here fails because
of a new string, run `scripts/i18n.sh update`, translate the empty msgstr entries,
then `scripts/i18n.sh compile`.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "marketplace" / "translations"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
EN_MO = EN_PO.with_suffix(".mo")
SKIP_DIRS = {"instance", "static", "node_modules", "test-artifacts", "__pycache__"}


def _read_catalog():
    with EN_PO.open("rb") as fh:
        return read_po(fh, locale="en")


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs():
    """Compile the .po files whose .mo is missing or older (the .mo files are not committed).

    The Makefile compiles them before running the app or the tests; this keeps a bare
    `pytest` on a fresh clone working for this module too.
    """
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        # Write beside the target and rename: parallel workers never see half a file.
        fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog)
        os.replace(tmp, mo)


def _extracted_messages() -> dict[tuple[str | None, str], list[str]]:
    """Extract msgids from the sources exactly as `pybabel extract -F babel.cfg .` does."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, filename="babel.cfg")

    def keep_dir(dirname: str) -> bool:
        name = os.path.basename(dirname)
        return not name.startswith(".") and name not in SKIP_DIRS

    found: dict[tuple[str | None, str], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS, directory_filter=keep_dir
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault((context, msgid), []).append(f"{filename}:{lineno}")
    return found


def test_every_extracted_string_has_an_english_translation():
    extracted = _extracted_messages()
    assert len(extracted) > 50, "extraction found suspiciously few strings: is babel.cfg right?"
    catalog = _read_catalog()
    untranslated = []
    for (context, msgid), where in sorted(extracted.items(), key=lambda item: item[1][0]):
        message = catalog.get(msgid, context)
        strings = () if message is None else message.string
        strings = strings if isinstance(strings, tuple) else (strings,)
        if message is None or message.fuzzy or not all(s and s.strip() for s in strings):
            label = f"[{context}] {msgid}" if context else msgid
            untranslated.append(f"{label}  ({where[0]})")
    assert not untranslated, (
        "strings without an English translation (run scripts/i18n.sh update, translate, compile):\n  "
        + "\n  ".join(untranslated)
    )


def test_english_catalog_keeps_placeholders():
    """A translation must keep the msgid's %(name)s placeholders, or rendering breaks."""
    catalog = _read_catalog()
    problems = [f"{message.id}: {errors}" for message, errors in catalog.check()]
    placeholder = re.compile(r"%\((\w+)\)")
    for message in catalog:
        if not (isinstance(message.id, str) and message.id and isinstance(message.string, str) and message.string):
            continue
        if set(placeholder.findall(message.id)) != set(placeholder.findall(message.string)):
            problems.append(f"{message.id!r} → {message.string!r}")
    assert not problems, "\n".join(problems)


def test_compiled_catalog_is_present():
    assert EN_MO.exists(), "run scripts/i18n.sh compile (make does it before running the app)"


def test_home_is_chinese_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "循环市集" in html
    assert "最新上架" in html


def test_switching_to_english_and_back(client):
    resp = client.post("/lang/en", data={"next": "/"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/")

    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Circular Market" in html
    assert "Newest listings" in html
    assert "最新上架" not in html
    assert 'lang="zh-CN">中文</button>' in html

    client.post("/lang/zh_Hans_CN", data={"next": "/"})
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "最新上架" in html


def test_english_login_page_translates_form_labels(client):
    client.post("/lang/en", data={"next": "/login"})
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Username" in html and "Password" in html
    assert "用户名" not in html
