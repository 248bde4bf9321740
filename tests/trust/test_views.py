"""The public boards, the supervisors' red-list computation and black-list review pages, and where lists show."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from marketplace.credit.policy import policy
from marketplace.db import utcnow
from marketplace.listings import service as listings
from marketplace.moderation import decisions
from marketplace.orders.models import Order
from marketplace.ratings.models import Rating
from marketplace.trust import redlist
from marketplace.trust import service as trust
from marketplace.trust.models import BlacklistEntry, RedListEdition

DISPLAY_NAME = "张三的数码小铺"
REAL_NAME = "张小三"  # the `seller` fixture's real name
MASKED = "张*三"


@pytest.fixture
def browser(app, login):
    """browser(user) → a separate logged-in client."""

    def make(user):
        return login(user, app.test_client())

    return make


@pytest.fixture
def named_seller(db, seller):
    """The seller with a display name of their own (it must never show on the boards)."""
    seller.display_name = DISPLAY_NAME
    db.session.commit()
    return seller


@pytest.fixture
def supervisor2(verified_user):
    return verified_user("sup2", roles=("supervisor",), real_name="吴监")


def make_star_seller(db, seller, buyer, listing, score: int = 812):
    """Give `seller` what the red-list rule asks: 10 completed sales, 6 revealed ratings averaging 4.94, a score."""
    now = utcnow()
    for n in range(10):
        order = Order(
            listing_id=listing.id,
            buyer_id=buyer.id,
            seller_id=seller.id,
            status="completed",
            price_fen=150000,
            message="",
            created_at=now - timedelta(days=40),
            accepted_at=now - timedelta(days=39),
            completed_at=now - timedelta(days=38),
        )
        db.session.add(order)
        db.session.flush()
        if n < 6:
            db.session.add(
                Rating(
                    order_id=order.id,
                    rater_id=buyer.id,
                    ratee_id=seller.id,
                    rater_role="buyer",
                    accuracy=5,
                    communication=5,
                    punctuality=4 if n == 0 else 5,
                    comment="",
                    visible_from=now - timedelta(days=20),
                )
            )
    seller.credit_score = score
    db.session.commit()
    return seller


@pytest.fixture
def star_seller(db, named_seller, buyer, make_listing):
    """The named seller, on course for the red list."""
    return make_star_seller(db, named_seller, buyer, make_listing(title="二手 iPhone 12 128GB"))


@pytest.fixture
def edition(db, star_seller):
    made, _created = redlist.compute_edition()
    db.session.commit()
    return made


@pytest.fixture
def pending_entry(db, named_seller, make_listing, violate):
    """A counterfeit confirmed by the moderator: a pending entry; the seller has one other listing on sale."""
    make_listing(title="小米手环 8 全新未拆")
    decision = violate("counterfeit")
    assert decision.blacklist_entry is not None
    return decision.blacklist_entry


@pytest.fixture
def active_entry(db, pending_entry, supervisor):
    trust.confirm(supervisor, pending_entry.id, "假冒商品属实")
    db.session.commit()
    return pending_entry


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _plain(resp) -> str:
    """The page's words as read: no tags, runs of spaces as one."""
    return " ".join(re.sub(r"<[^>]+>", " ", _text(resp)).split())


def _local_date(moment) -> str:
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


# --- the black board ------------------------------------------------------------------------------------


def test_the_black_board_shows_a_masked_name_the_reason_and_the_dates_only(client, active_entry, named_seller):
    resp = client.get("/black")
    page = _text(resp)
    assert resp.status_code == 200
    assert MASKED in page and "销售假冒伪劣商品" in page
    # Dates as people in the city read them; a counterfeit stays listed for the policy's 36 months.
    assert f"{_local_date(active_entry.starts_at)} 至 {_local_date(active_entry.ends_at)}" in _plain(resp)
    months = policy()["blacklist"]["counterfeit_months"]
    assert active_entry.ends_at == trust.add_months(active_entry.starts_at, months)
    for secret in (DISPLAY_NAME, REAL_NAME, named_seller.username):
        assert secret not in page
    # Masked means not identifiable: no way from the board to the person's profile.
    assert f"/users/{named_seller.id}" not in page


def test_the_black_board_says_why_people_are_listed_and_how_to_appeal(client):
    page = _text(client.get("/black"))
    rule = policy()["blacklist"]
    assert "目前黑榜上没有用户" in page
    assert f"信用分低于 {rule['score_below']} 分" in page
    assert f"列入期限为 {rule['months']} 个月" in page and f"为 {rule['counterfeit_months']} 个月" in page
    assert f"可以在决定后 {policy()['appeal_days']} 天内申诉" in page


def test_pending_rejected_and_expired_entries_are_not_on_the_black_board(
    db, client, pending_entry, supervisor, make_user
):
    assert MASKED not in _text(client.get("/black"))  # pending: suspended, but not yet listed
    trust.reject(supervisor, pending_entry.id, "证据不足，退回重审")
    db.session.commit()
    assert MASKED not in _text(client.get("/black"))

    other = make_user("lisi", display_name="李四")
    expired = BlacklistEntry(
        user_id=other.id,
        reason="low_score",
        status="active",
        proposed_by_id=supervisor.id,
        starts_at=utcnow() - timedelta(days=400),
        ends_at=utcnow() - timedelta(days=35),
        taken_down=[],
    )
    db.session.add(expired)
    db.session.commit()
    page = _text(client.get("/black"))
    assert "李*" not in page and "目前黑榜上没有用户" in page


def test_the_black_board_pages_by_keyset(db, client, supervisor, make_user, monkeypatch):
    monkeypatch.setattr("marketplace.trust.views.BLACK_PAGE", 2)
    for name in ("甲一", "乙二", "丙三"):
        person = make_user(display_name=name)
        db.session.add(
            BlacklistEntry(
                user_id=person.id,
                reason="repeat_violations",
                status="active",
                proposed_by_id=supervisor.id,
                starts_at=utcnow(),
                ends_at=utcnow() + timedelta(days=300),
                taken_down=[],
            )
        )
    db.session.commit()
    first = _text(client.get("/black"))
    assert "丙*" in first and "乙*" in first and "甲*" not in first
    oldest_shown = db.session.scalar(sa.select(BlacklistEntry.id).order_by(BlacklistEntry.id).offset(1).limit(1))
    assert f"/black?before={oldest_shown}" in first
    second = _text(client.get(f"/black?before={oldest_shown}"))
    assert "甲*" in second and "乙*" not in second


# --- the red board ---------------------------------------------------------------------------------------


def test_the_red_board_before_the_first_edition_says_so_and_gives_the_rule(client):
    page = _text(client.get("/red"))
    rule = policy()["red_list"]
    assert "红榜还没有发布" in page
    assert f"信用分不低于 {rule['min_score']} 分" in page and f"至少 {rule['min_sales']} 笔" in page
    assert f"平均不低于 {rule['min_average']} 分" in page and f"近 {rule['clean_days']} 天内" in page


def test_the_red_board_shows_the_edition_with_masked_names_and_figures(client, edition, star_seller):
    resp = client.get("/red")
    page = _text(resp)
    assert resp.status_code == 200
    assert f"{edition.period} 期" in page
    assert MASKED in page
    assert "信用 812 分" in page and "优秀" in page and "成交 10 笔" in page
    assert "评价平均 4.94 分（6 条）" in page
    # A seller's public profile is public: the board links to it, without naming them.
    assert f'href="/users/{star_seller.id}"' in page
    assert DISPLAY_NAME not in page and REAL_NAME not in page


def test_a_violation_takes_the_seller_off_the_red_board_at_once(client, edition, violate):
    assert MASKED in _text(client.get("/red"))
    violate("exaggeration")
    page = _text(client.get("/red"))
    assert MASKED not in page and "本期红榜暂时没有卖家" in page


def test_home_shows_the_top_of_the_red_board_only_when_there_is_one(client, edition):
    page = _text(client.get("/"))
    assert MASKED in page and 'href="/red"' in page and DISPLAY_NAME not in page
    redlist.withdraw(edition.entries[0].user_id, actor=None, reason="测试撤下")
    assert "red-teaser" not in _text(client.get("/"))


def test_profiles_show_the_list_status(db, client, edition, star_seller, violate, supervisor):
    assert "红榜" in _text(client.get(f"/users/{star_seller.id}"))
    entry = violate("counterfeit").blacklist_entry
    page = _text(client.get(f"/users/{star_seller.id}"))
    assert "已暂停交易" in page and "badge--red-list" not in page and "badge--black-list" not in page
    trust.confirm(supervisor, entry.id)
    db.session.commit()
    page = _text(client.get(f"/users/{star_seller.id}"))
    assert "badge--black-list" in page and "已列入黑名单" in page


# --- computing an edition on demand -------------------------------------------------------------------------


def test_only_supervisors_may_compute_the_red_list(client, browser, buyer, moderator):
    anonymous = client.get("/trust/red/compute")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client.post("/trust/red/compute", data={}).status_code == 302
    for person in (buyer, moderator):
        who = browser(person)
        assert who.get("/trust/red/compute").status_code == 403
        assert who.post("/trust/red/compute", data={}).status_code == 403
        assert "重新生成红榜" not in _text(who.get("/red"))
    assert redlist.current() is None


def test_a_supervisor_computes_an_edition_after_confirming(db, browser, supervisor, star_seller):
    sup = browser(supervisor)
    assert 'href="/trust/red/compute"' in _text(sup.get("/red"))
    page = _text(sup.get("/trust/red/compute"))
    assert "现在符合条件的卖家" in page and "1 位" in page and "还没有发布" in page
    resp = sup.post("/trust/red/compute", data={}, follow_redirects=True)
    page = _text(resp)
    assert resp.status_code == 200 and resp.request.path == "/red"
    assert "共 1 位卖家" in page and MASKED in page
    edition = redlist.current()
    assert edition.computed_by_id == supervisor.id
    # On demand means a new edition even within the month.
    sup.post("/trust/red/compute", data={})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RedListEdition)) == 2


# --- the supervisors' review of a proposed entry ----------------------------------------------------------


def test_the_proposer_may_not_confirm_their_own_proposal(db, browser, verified_user, make_listing, report, reporters):
    both = verified_user("modsup", roles=("moderator", "supervisor"), real_name="郑双")
    listing = make_listing()
    made = report(reporters[0], listing, reason="counterfeit")
    entry = decisions.decide(both, made.id, "confirmed", "counterfeit", "鉴定为仿品，确认违规。").blacklist_entry
    db.session.commit()
    who = browser(both)
    for resp in (who.get(f"/trust/black/{entry.id}/confirm"), who.post(f"/trust/black/{entry.id}/confirm", data={})):
        assert resp.status_code == 403
        assert "提议人不能复核自己提出的黑名单" in _text(resp)
    db.session.refresh(entry)
    assert entry.status == "pending"


def test_residents_and_moderators_may_not_review(client, browser, pending_entry, buyer, moderator):
    url = f"/trust/black/{pending_entry.id}/confirm"
    assert client.get(url).status_code == 302
    for person in (buyer, moderator):
        assert browser(person).get(url).status_code == 403
        assert (
            browser(person).post(f"/trust/black/{pending_entry.id}/reject", data={"note": "不成立的"}).status_code
            == 403
        )
    assert pending_entry.status == "pending"


def test_another_supervisor_confirms_listings_come_down_and_the_seller_is_logged_out(
    db, app, browser, login, pending_entry, named_seller, supervisor
):
    on_sale = listings.on_sale_of(named_seller.id)
    assert len(on_sale) == 1
    seller_browser = login(named_seller, app.test_client())
    assert seller_browser.get("/credit").status_code == 200

    sup = browser(supervisor)
    page = _text(sup.get(f"/trust/black/{pending_entry.id}/confirm"))
    months = policy()["blacklist"]["counterfeit_months"]
    assert DISPLAY_NAME in page and MASKED in page and REAL_NAME not in page
    assert "销售假冒伪劣商品" in page and f"列入黑名单 {months} 个月" in page
    assert "在售的 1 件商品全部下架" in page and pending_entry.proposed_by.display_name in page

    resp = sup.post(f"/trust/black/{pending_entry.id}/confirm", data={"note": "仿品鉴定属实"})
    assert resp.status_code == 302
    db.session.refresh(pending_entry)
    assert pending_entry.status == "active" and pending_entry.decided_by_id == supervisor.id
    assert pending_entry.decision_note == "仿品鉴定属实"
    db.session.refresh(on_sale[0])
    assert on_sale[0].status == "removed"
    # The seller's browser was logged in before; its session ended with the confirmation.
    after = seller_browser.get("/credit")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    assert MASKED in _text(sup.get("/black"))


def test_a_second_confirmation_is_refused_with_a_message(db, browser, pending_entry, supervisor, supervisor2):
    browser(supervisor).post(f"/trust/black/{pending_entry.id}/confirm", data={})
    late = browser(supervisor2)
    resp = late.post(f"/trust/black/{pending_entry.id}/confirm", data={}, follow_redirects=True)
    assert resp.status_code == 200
    assert "该黑名单记录已生效中，不能再复核" in _text(resp)
    # The page itself no longer offers the button either.
    resp = late.get(f"/trust/black/{pending_entry.id}/reject", follow_redirects=True)
    assert "不能再复核" in _text(resp) and "不予确认的理由" not in _text(resp)
    db.session.refresh(pending_entry)
    assert pending_entry.decided_by_id == supervisor.id


def test_rejecting_needs_a_reason_and_keeps_what_was_typed(db, browser, pending_entry, supervisor, named_seller):
    sup = browser(supervisor)
    page = _text(sup.get(f"/trust/black/{pending_entry.id}/reject"))
    assert "交易暂停立即解除" in page
    resp = sup.post(f"/trust/black/{pending_entry.id}/reject", data={"note": "不对"})
    page = _text(resp)
    assert resp.status_code == 422
    assert "请写明理由（至少 4 个字）" in page and re.search(r">\s*不对</textarea>", page)
    db.session.refresh(pending_entry)
    assert pending_entry.status == "pending"

    resp = sup.post(f"/trust/black/{pending_entry.id}/reject", data={"note": "鉴定报告不足以认定为假冒"})
    assert resp.status_code == 302
    db.session.refresh(pending_entry)
    assert pending_entry.status == "rejected"
    assert trust.in_force(named_seller.id) is None


# --- the rules page ----------------------------------------------------------------------------------------


def test_the_credit_rules_explain_both_lists_and_appeals_from_the_policy(client, monkeypatch):
    import json

    changed = json.loads(json.dumps(policy()))
    changed["blacklist"]["counterfeit_months"] = 48
    changed["red_list"]["min_sales"] = 17
    changed["appeal_days"] = 21
    monkeypatch.setattr("marketplace.credit.views.policy", lambda: changed)
    page = _text(client.get("/credit/rules"))
    assert "黑名单" in page and "红榜" in page
    assert "为 48 个月" in page and "至少 17 笔" in page and "决定后 21 天内申诉" in page
    assert 'href="/black"' in page and 'href="/red"' in page
