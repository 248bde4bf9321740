"""Steps the browser journeys share: logging in, reading the page, rating, writing from the test."""

from __future__ import annotations

import contextlib
import re


def log_in(page, user, password):
    page.goto("/login")
    page.get_by_label("用户名").fill(user.username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def main_text(page) -> str:
    return page.locator("main").inner_text()


def id_in(url: str, prefix: str) -> int:
    match = re.search(rf"/{prefix}/(\d+)", url)
    assert match, url
    return int(match.group(1))


def rate(page, scores: dict[str, int], comment: str):
    for legend, score in scores.items():
        page.locator("fieldset", has_text=legend).get_by_label(f"{score} 分", exact=True).check()
    page.get_by_label("评价内容（选填）").fill(comment)
    page.get_by_role("button", name="提交评价").click()


@contextlib.contextmanager
def writing(db):
    """Service calls from the test while the server runs: a fresh transaction that takes SQLite's write lock."""
    from marketplace.db import write_intent

    db.session.rollback()
    token = write_intent.set(True)
    try:
        yield
        db.session.commit()
    finally:
        write_intent.reset(token)
