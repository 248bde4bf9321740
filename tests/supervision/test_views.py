"""The supervisors' pages: who may open them, the black-list audit with its filters, an entry's history."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from marketplace.db import utcnow
from marketplace.moderation import appeals
from marketplace.trust import service as trust

PAGES = (
    "/supervision",
    "/supervision/blacklist",
    "/supervision/blacklist/{entry}",
    "/supervision/export/blacklist.csv",
    "/supervision/export/blacklist.json",
    "/supervision/audit",
)


@pytest.fixture
def entry(propose):
    return propose()


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, entry, path):
    resp = client.get(path.format(entry=entry.id))
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


@pytest.mark.parametrize("path", PAGES)
def test_everyone_but_supervisors_is_refused(client, login, entry, moderator, make_user, path):
    for person in (moderator, make_user("boss", roles=("admin",)), make_user("plain")):
        login(person)
        assert client.get(path.format(entry=entry.id)).status_code == 403
        client.post("/logout")


def test_pending_proposals_come_first_with_the_way_to_review(
    client, login, entry, supervisor, sellers, confirm, propose
):
    older = confirm(supervisor, propose(user=sellers[0]))
    login(supervisor)
    html = client.get("/supervision/blacklist").get_data(as_text=True)
    pending_part, _sep, table = html.partition("全部记录")
    assert f"/supervision/blacklist/{entry.id}" in pending_part
    assert f"/supervision/blacklist/{older.id}" not in pending_part
    assert "张*三" in pending_part  # the masked real name, never the name itself
    assert "张小三" not in html
    if "trust.confirm" in client.application.view_functions:
        assert f"/trust/black/{entry.id}/confirm" in pending_part
    assert f"/supervision/blacklist/{older.id}" in table
    assert "生效中" in table and "待复核" in table


def test_the_proposer_is_told_why_they_cannot_review(client, login, db, seller, supervisor):
    mine = trust.propose(seller, reason="low_score", proposer=supervisor, decision_id=None)
    db.session.commit()
    login(supervisor)
    html = client.get(f"/supervision/blacklist/{mine.id}").get_data(as_text=True)
    assert "提议人不能复核自己提出的黑名单（须由另一人确认）。" in html
    assert f"/trust/black/{mine.id}/confirm" not in html


def test_filters_keep_what_was_typed_and_name_the_field_at_fault(client, login, supervisor, entry):
    login(supervisor)
    resp = client.get("/supervision/blacklist?proposed_from=2026-13-01&reason=counterfeit")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'value="2026-13-01"' in html
    assert re.search(r'id="proposed_from-error"[^>]*>[^<]*没有这一天', html)
    assert '<option value="counterfeit" selected>' in html


def test_filters_narrow_the_table_and_the_export_links(client, login, supervisor, sellers, entry, propose, confirm, db):
    active = confirm(supervisor, propose(user=sellers[0]))
    ended = confirm(supervisor, propose(user=sellers[1]))
    ended.ends_at = utcnow() - timedelta(days=1)
    db.session.commit()
    login(supervisor)
    html = client.get("/supervision/blacklist?state=expired").get_data(as_text=True)
    table = html.partition("全部记录")[2]
    assert f"/supervision/blacklist/{ended.id}" in table
    assert f'/supervision/blacklist/{active.id}"' not in table
    assert "已到期" in table
    assert "/supervision/export/blacklist.csv?state=expired" in html
    empty = client.get("/supervision/blacklist?reason=low_score").get_data(as_text=True)
    assert "没有符合筛选条件的记录。" in empty


def test_an_empty_black_list_says_so(client, login, supervisor):
    login(supervisor)
    html = client.get("/supervision/blacklist").get_data(as_text=True)
    assert "现在没有待复核的提议" in html
    assert "还没有黑名单记录。" in html


def test_entry_page_tells_the_whole_story(
    client, login, db, seller, make_listing, propose, confirm, supervisor, moderator2
):
    make_listing(title="九成新 小米手环 8")
    entry = propose(title="原装正品 AirPods Pro 2")
    confirm(supervisor, entry, "假冒证据确凿")
    appeal = appeals.file(seller, entry.decision_id, "耳机是在官方渠道购买的，有发票，可以提供给平台核实。")
    db.session.commit()
    appeals.decide(moderator2, appeal.id, "overturned", "发票核实无误，撤销原决定")
    db.session.commit()
    login(supervisor)
    html = client.get(f"/supervision/blacklist/{entry.id}").get_data(as_text=True)
    steps = [
        "提议列入黑名单",
        "原装正品 AirPods Pro 2",
        "监督员确认",
        "假冒证据确凿",
        "下架在售商品",
        "九成新 小米手环 8",
        "当事人提出申诉",
        "有发票",
        "申诉处理完毕",
        "发票核实无误",
        "因申诉成立而撤销",
    ]
    positions = [html.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "已撤销" in html
    assert "审计 #" in html


def test_unknown_entry_is_404(client, login, supervisor):
    login(supervisor)
    assert client.get("/supervision/blacklist/999999").status_code == 404
