"""Issue 5's whole path in a browser: a false listing reported by three people, confirmed by a moderator; the third
violation proposes a black-list entry a supervisor confirms; the seller appeals and another moderator overturns it."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from tests.e2e.pages import id_in, log_in, main_text, writing
from tests.trust.factories import *  # noqa: F403

pytestmark = pytest.mark.e2e

FALSE_TITLE = "九成新 iPhone 13 无划痕 128GB"
SPARE_TITLE = "小米 14 手机 陶瓷白 512GB"
THIRD_TITLE = "荣耀 Magic6 手机 全新未拆封"
REPORT_DETAIL = "屏幕右下角有明显划痕，电池健康只有 79%，描述都没写。"
APPEAL_REASON = "这台荣耀确实全新未拆封，举报人把官方翻新机的包装误认成了拆封过的，我有购买发票可以核实。"


def _decide_in_browser(page, title, violation, note):
    """From the report queue: open the listing's report, decide `confirmed`, look at the consequences page."""
    page.goto("/moderation/reports")
    page.get_by_role("link", name=title).click()
    page.get_by_label("确认违规：扣分并下架商品").check()
    page.get_by_label("违规类型（确认违规时必选）").select_option(violation)
    page.get_by_label("处理理由").fill(note)
    page.get_by_role("button", name="下一步：查看后果").click()
    return main_text(page)


def test_reported_confirmed_black_listed_appealed_and_restored(
    page_for, db, password, seller, make_listing, reporters, report, violate, moderator, moderator2, supervisor
):
    from marketplace.audit.models import AuditEntry
    from marketplace.credit import service as credit

    false_listing = make_listing(title=FALSE_TITLE)
    spare = make_listing(title=SPARE_TITLE)
    false_id, spare_id = false_listing.id, spare.id
    start_seq = db.session.scalar(sa.select(sa.func.max(AuditEntry.seq))) or 0

    # Three residents report the listing from its page.
    for reporter in reporters:
        page = page_for()
        log_in(page, reporter, password)
        page.goto(f"/listings/{false_id}")
        page.get_by_role("link", name="举报", exact=True).click()
        page.get_by_label("隐瞒关键信息或缺陷").check()
        page.get_by_label("具体说明").fill(REPORT_DETAIL)
        page.get_by_role("button", name="提交举报").click()
        assert "举报已提交" in main_text(page)
        assert page.url.endswith(f"/listings/{false_id}")

    # The moderator finds one listing with three reporters in the queue and confirms a hidden defect.
    mod = page_for()
    log_in(mod, moderator, password)
    mod.goto("/moderation/reports")
    queue = main_text(mod)
    assert FALSE_TITLE in queue and "3 条举报，3 位举报人" in queue
    mod.get_by_role("link", name=FALSE_TITLE).click()
    assert "这件商品的全部举报（3）" in main_text(mod)
    consequences = _decide_in_browser(mod, FALSE_TITLE, "hidden_defect", "电池健康与划痕都未披露，确认隐瞒缺陷。")
    assert "扣 60 分" in consequences and "信用分由 600 变为 540" in consequences
    assert "提议将此人列入黑名单" not in consequences
    mod.get_by_role("button", name="确认并执行").click()
    assert "已作出审核决定：确认违规" in main_text(mod)
    assert mod.locator("h1").inner_text().startswith("审核决定 #")

    # The seller sees the penalty, with its reason, on their credit page.
    shop = page_for()
    log_in(shop, seller, password)
    shop.goto("/credit")
    ledger = main_text(shop)
    assert "540" in ledger and "隐瞒关键信息" in ledger and "−60 分" in ledger

    # A second violation (through the services), then a third report the moderator decides in the browser.
    with writing(db):
        violate("exaggeration")
        third_listing = make_listing(title=THIRD_TITLE)
        third_listing_id = third_listing.id
        report(reporters[1], third_listing, reason="exaggeration", detail="包装明显拆封过，却写全新未拆封。")
    consequences = _decide_in_browser(mod, THIRD_TITLE, "exaggeration", "包装已拆封，夸大为全新未拆封。")
    assert "扣 90 分" in consequences and "第 3 次确认违规" in consequences
    assert "提议将此人列入黑名单：一年内第三次确认违规" in consequences
    mod.get_by_role("button", name="确认并执行").click()
    third_decision_id = id_in(mod.url, "decisions")
    assert "一年内第三次确认违规" in main_text(mod)

    # The proposing moderator is no supervisor: the confirmation page refuses them.
    from marketplace.trust.models import BlacklistEntry

    db.session.rollback()
    entry = db.session.scalar(sa.select(BlacklistEntry).where(BlacklistEntry.decision_id == third_decision_id))
    assert entry is not None and entry.status == "pending" and entry.proposed_by_id == moderator.id
    entry_id = entry.id
    assert mod.goto(f"/trust/black/{entry_id}/confirm").status == 403

    # A supervisor opens the proposal from the black-list review, reads it and confirms it.
    sup = page_for()
    log_in(sup, supervisor, password)
    sup.goto("/supervision/blacklist")
    assert "待复核的提议（1）" in main_text(sup)
    sup.get_by_role("link", name=f"黑名单记录 #{entry_id}").click()
    assert sup.url.endswith(f"/supervision/blacklist/{entry_id}")
    sup.locator("main").get_by_role("link", name="确认列入").click()
    review = main_text(sup)
    assert "确认列入黑名单" in review and "张*三" in review and "在售的 1 件商品全部下架" in review
    sup.get_by_label("复核意见（选填）").fill("三次违规属实，予以确认。")
    sup.get_by_role("button", name="确认列入黑名单").click()
    assert "已确认列入黑名单" in main_text(sup)
    assert sup.url.endswith(f"/supervision/blacklist/{entry_id}")

    # The seller's listings leave the search; their session has ended; the black board shows a masked name.
    visitor = page_for()
    visitor.goto("/search?q=陶瓷")
    assert SPARE_TITLE not in main_text(visitor) and "没有找到符合条件的商品" in main_text(visitor)
    shop.goto("/credit")
    assert "/login" in shop.url
    visitor.goto("/black")
    board = main_text(visitor)
    assert "张*三" in board and "一年内第三次确认违规" in board
    assert "张小三" not in board and seller.display_name not in board

    # The seller signs in again and appeals the third decision from its page.
    log_in(shop, seller, password)
    shop.goto(f"/decisions/{third_decision_id}")
    shop.get_by_role("link", name="提出申诉").click()
    shop.get_by_label("申诉理由").fill(APPEAL_REASON)
    shop.get_by_role("button", name="提交申诉").click()
    assert "申诉已提交" in main_text(shop)

    # The deciding moderator is not offered the appeal; another moderator overturns it.
    mod.goto("/moderation/appeals")
    assert "目前没有待你处理的申诉" in main_text(mod)
    other = page_for()
    log_in(other, moderator2, password)
    other.goto("/moderation/appeals")
    other.get_by_role("link", name=re.compile(f"申诉 #\\d+：{THIRD_TITLE}")).click()
    other.get_by_label("撤销原决定：返还扣分、撤销黑名单、恢复商品").check()
    other.get_by_label("处理理由（申诉人会看到）").fill("发票核实为全新机，原决定撤销。")
    other.get_by_role("button", name="下一步：查看后果").click()
    effects = main_text(other)
    assert "返还“夸大宣传”扣除的 90 分" in effects and "撤销黑名单记录（一年内第三次确认违规，生效中）" in effects
    other.get_by_role("button", name="确认并执行").click()
    assert "申诉已处理" in main_text(other)

    # Score, board and listings are back.
    shop.goto("/credit")
    ledger = main_text(shop)
    assert "申诉成立，撤销扣分" in ledger and "+90 分" in ledger and "480" in ledger
    visitor.goto("/black")
    assert "目前黑榜上没有用户" in main_text(visitor)
    visitor.goto(f"/listings/{third_listing_id}")
    assert "已被移除" not in main_text(visitor) and visitor.locator("h1").inner_text() == THIRD_TITLE
    visitor.goto("/search?q=陶瓷")
    visitor.get_by_role("link", name=SPARE_TITLE).first.click()
    assert visitor.url.endswith(f"/listings/{spare_id}")

    # The supervisor exports the black list and verifies the audit chain.
    sup.goto("/supervision/blacklist")
    href = sup.get_by_role("link", name="CSV（可用 Excel 打开）").get_attribute("href")
    exported = sup.request.get(href)
    assert exported.status == 200
    rows = list(csv.DictReader(io.StringIO(exported.body().decode("utf-8-sig"))))
    [row] = [r for r in rows if r["id"] == str(entry_id)]
    assert (row["status"], row["appeal_status"], row["decided_by"]) == ("revoked", "overturned", str(supervisor.id))
    assert "张小三" not in exported.text()
    sup.goto("/supervision/audit")
    assert "校验通过：审计日志完整" in main_text(sup)

    db.session.rollback()
    actions = list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.seq > start_seq)))
    assert actions.count("report.opened") == 5
    for action in (
        "report.decided",
        "listing.removed",
        "blacklist.proposed",
        "blacklist.confirmed",
        "appeal.filed",
        "appeal.decided",
        "blacklist.revoked",
        "listing.restored",
        "supervision.exported",
    ):
        assert action in actions, action
    assert credit.replay_differences() == []
