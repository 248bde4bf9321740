"""Credit pages: my credit with every event explained, the public rules from the policy file,
a user's ledger for moderators and supervisors, the supervisors' adjustment, and the refusals
that link to the ledger where the credit band bites."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.credit import service as credit
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import BAND_LABELS, policy
from marketplace.db import utcnow
from marketplace.orders import service as orders

POLICY = policy()


@pytest.fixture
def browser(app, login):
    """browser(user) → a separate logged-in client."""

    def make(user):
        return login(user, app.test_client())

    return make


@pytest.fixture
def supervisor(make_user):
    return make_user("sup", roles=("supervisor",))


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _numbers(node):
    """Every number in the policy document (booleans are not numbers here)."""
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)


def _breach(db, make_order, seller):
    order = make_order(status="accepted")
    orders.cancel(seller, order, "临时要出差，不能交易了")
    db.session.commit()
    return order


# --- my credit ---------------------------------------------------------------------------------------


def test_my_credit_explains_a_breach_with_its_reason_and_a_link_to_the_order(db, browser, make_order, seller):
    order = _breach(db, make_order, seller)
    page = _text(browser(seller).get("/credit"))
    breach = POLICY["penalties"]["breach"]
    score = POLICY["initial_score"] - breach
    assert f'<span class="credit-score__number">{score}</span>' in page
    assert "信用一般" in page and "badge--band-fair" in page
    assert "接受订单后违约" in page and f"−{breach} 分" in page
    assert f"接受订单 #{order.id}" in page  # the reason as recorded
    assert f'href="/orders/{order.id}"' in page and f"订单 #{order.id}" in page
    # What the band allows, and how far the next band is.
    assert "没有限制" in page
    good = next(b["min"] for b in POLICY["bands"] if b["code"] == "good")
    assert f"距“良好”档（{good} 分起）还差 {good - score} 分" in page
    # Newest first: the breach before the verification that opened the account.
    assert page.index("接受订单后违约") < page.index("完成实名认证，获得初始信用分")
    assert 'href="/credit/rules"' in page


def test_an_aged_penalty_shows_what_it_counts_for_now(db, browser, seller):
    days, pct = POLICY["aging"]["after_days"], POLICY["aging"]["weight_percent"]
    credit._add(
        seller,
        "hidden_defect",
        -60,
        "decision",
        None,
        "隐瞒了更换过电池",
        ages=True,
        at=utcnow() - timedelta(days=days + 5),
    )
    db.session.commit()
    now = -60 * pct // 100
    assert seller.credit_score == POLICY["initial_score"] + now
    page = _text(browser(seller).get("/credit"))
    assert f"−60，已满 {days} 天按 {pct}% 计 −{-now}" in page
    assert "隐瞒了更换过电池" in page and "审核决定" in page
    assert 'href="/orders/' not in page  # decisions have no page yet: no link


def test_an_overturned_penalty_is_marked_and_its_compensation_shown(db, browser, seller, moderator):
    event = credit.penalise(seller, "exaggeration", source="decision", source_id=7, reason="夸大了成色")
    credit.compensate(event, source="appeal", source_id=3, reason="申诉成立：成色描述属实", actor=moderator)
    db.session.commit()
    page = _text(browser(seller).get("/credit"))
    assert "已撤销（申诉成立）" in page and "申诉成立，撤销扣分" in page
    assert f"+{POLICY['penalties']['exaggeration']} 分" in page
    assert f'<span class="credit-score__number">{POLICY["initial_score"]}</span>' in page


def test_the_restricted_band_says_what_it_forbids(db, browser, seller):
    seller.credit_score = 300
    db.session.commit()
    page = _text(browser(seller).get("/credit"))
    assert "信用受限" in page and "badge--band-restricted" in page
    assert "不能发布新商品" in page and "不能下单购买" in page and "不能报名活动" in page


def test_an_unverified_user_sees_how_to_get_a_score(browser, user):
    resp = browser(user).get("/credit")
    page = _text(resp)
    assert resp.status_code == 200
    assert "你还没有信用分" in page and 'href="/me/verification"' in page
    assert f"初始信用分 {POLICY['initial_score']} 分" in page


def test_my_credit_needs_a_login(client):
    resp = client.get("/credit")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_the_navigation_links_my_credit_for_verified_users(browser, seller, user):
    assert 'href="/credit"' in browser(seller).get("/").get_data(as_text=True)
    assert 'href="/credit"' not in browser(user).get("/").get_data(as_text=True)
    assert 'href="/credit"' in browser(seller).get("/me").get_data(as_text=True)


def test_a_long_ledger_is_capped_with_a_note(db, browser, seller, monkeypatch):
    from marketplace.credit import views

    monkeypatch.setattr(views, "MAX_ROWS", 2)
    for n in range(3):
        credit.penalise(seller, "breach", source="order", source_id=1000 + n, reason=f"违约 {n}")
    db.session.commit()
    page = _text(browser(seller).get("/credit"))
    assert "共有 4 条记录，这里只显示最新的 2 条" in page
    assert "违约 2" in page and "违约 1" in page and "违约 0" not in page


# --- the public rules -------------------------------------------------------------------------------------


def test_the_rules_page_shows_every_number_of_the_policy(client):
    resp = client.get("/credit/rules")
    assert resp.status_code == 200
    page = _text(resp)
    text = re.sub(r"<[^>]+>", " ", page)
    found = set(re.findall(r"\d+(?:\.\d+)?", text))
    for number in _numbers(POLICY):
        assert str(number) in found, number
    assert POLICY["version"] in page
    for code, points in POLICY["penalties"].items():
        assert str(credit.CODE_LABELS[code]) in page and f"−{points}" in page
    for code, rule in POLICY["rewards"].items():
        assert str(credit.CODE_LABELS[code]) in page and f"+{rule['points']}" in page
    bands = POLICY["bands"]
    for i, entry in enumerate(bands):
        top = POLICY["max_score"] if i == 0 else bands[i - 1]["min"] - 1
        assert f"{entry['min']}–{top} 分" in page and str(BAND_LABELS[entry["code"]]) in page
    poor = POLICY["limits"]["poor"]["max_active_listings"]
    assert f"最多同时在售 {poor} 件商品" in page
    assert "不能发布新商品" in page
    assert "电子商务法" in page and "第三十九条" in page
    assert "对审核决定有异议的，可以在决定后 15 天内申诉" in page


def test_the_rules_are_generated_from_the_policy(client, monkeypatch):
    changed = json.loads(json.dumps(POLICY))
    changed["penalties"]["counterfeit"] = 345
    changed["aging"]["after_days"] = 777
    changed["version"] = "test-9"
    monkeypatch.setattr("marketplace.credit.views.policy", lambda: changed)
    page = _text(client.get("/credit/rules"))
    assert "−345" in page and "满 777 天" in page and "test-9" in page


# --- a user's ledger for moderators and supervisors -------------------------------------------------------


def test_moderators_and_supervisors_see_a_users_ledger(db, browser, make_order, seller, moderator, supervisor):
    order = _breach(db, make_order, seller)
    for staff in (moderator, supervisor):
        resp = browser(staff).get(f"/users/{seller.id}/credit")
        page = _text(resp)
        assert resp.status_code == 200
        assert f"{seller.display_name} 的信用记录" in page and "接受订单后违约" in page
        assert f'href="/orders/{order.id}"' in page
    assert f'href="/users/{seller.id}/credit/adjust"' in browser(supervisor).get(f"/users/{seller.id}/credit").text
    assert "/credit/adjust" not in browser(moderator).get(f"/users/{seller.id}/credit").text


def test_anyone_else_gets_404_for_a_users_ledger(browser, client, seller, buyer, make_user):
    assert browser(buyer).get(f"/users/{seller.id}/credit").status_code == 404
    staff = browser(make_user("insp", roles=("inspector", "organiser")))
    assert staff.get(f"/users/{seller.id}/credit").status_code == 404
    assert browser(buyer).get("/users/99999/credit").status_code == 404
    anonymous = client.get(f"/users/{seller.id}/credit")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_a_suspended_moderator_sees_no_one_elses_ledger(db, browser, seller, moderator):
    b = browser(moderator)
    moderator.status = "suspended"
    db.session.commit()
    assert b.get(f"/users/{seller.id}/credit").status_code in (302, 404)


# --- the supervisors' adjustment ---------------------------------------------------------------------------


def test_only_supervisors_may_adjust(browser, client, seller, buyer, moderator, supervisor):
    url = f"/users/{seller.id}/credit/adjust"
    for who in (buyer, moderator, seller):
        b = browser(who)
        assert b.get(url).status_code == 403
        assert b.post(url, data={"points": "10", "reason": "看看能不能加分"}).status_code == 403
    assert client.get(url).status_code == 302
    b = browser(supervisor)
    assert b.get(url).status_code == 200
    assert b.get("/users/99999/credit/adjust").status_code == 404
    assert b.get(f"/users/{supervisor.id}/credit/adjust").status_code == 403
    assert seller.credit_score == POLICY["initial_score"]


def test_an_adjustment_is_confirmed_applied_and_audited(db, browser, seller, supervisor):
    b = browser(supervisor)
    page = _text(b.get(f"/users/{seller.id}/credit/adjust"))
    assert "人工调整信用分" in page and "确认调整" in page and str(POLICY["initial_score"]) in page
    resp = b.post(f"/users/{seller.id}/credit/adjust", data={"points": "-20", "reason": "核实后发现虚构了交易记录"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/users/{seller.id}/credit")
    db.session.refresh(seller)
    assert seller.credit_score == POLICY["initial_score"] - 20
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "credit.adjusted"))
    assert entry.actor_id == supervisor.id and entry.subject_id == seller.id
    assert json.loads(entry.data)["points"] == -20
    page = _text(b.get(f"/users/{seller.id}/credit"))
    assert "已调整信用分" in page and "人工调整" in page and "核实后发现虚构了交易记录" in page
    # The user sees it in their own ledger too.
    assert "核实后发现虚构了交易记录" in _text(browser(seller).get("/credit"))


@pytest.mark.parametrize(
    ("points", "reason", "field"),
    [
        ("abc", "核实后调整分数", "points"),
        ("0", "核实后调整分数", "points"),
        ("201", "核实后调整分数", "points"),
        ("-201", "核实后调整分数", "points"),
        ("10", "", "reason"),
        ("10", "短", "reason"),
        ("10", "电话 13912345678 联系过", "reason"),
    ],
)
def test_a_bad_adjustment_keeps_what_was_typed(db, browser, seller, supervisor, points, reason, field):
    resp = browser(supervisor).post(f"/users/{seller.id}/credit/adjust", data={"points": points, "reason": reason})
    page = _text(resp)
    assert resp.status_code == 422
    assert f'id="{field}-error"' in page
    assert f'value="{points}"' in page
    if "1391" not in reason:
        assert reason in page
    adjustments = sa.select(sa.func.count()).select_from(CreditEvent).where(CreditEvent.code == "adjustment")
    assert db.session.scalar(adjustments) == 0


def test_an_unverified_user_cannot_be_adjusted(browser, user, supervisor):
    data = {"points": "10", "reason": "核实后调整分数"}
    resp = browser(supervisor).post(f"/users/{user.id}/credit/adjust", data=data)
    assert resp.status_code == 422 and "尚未实名认证" in _text(resp)


# --- where the band bites ---------------------------------------------------------------------------------


def test_a_restricted_seller_is_told_why_and_shown_the_ledger(db, browser, seller):
    seller.credit_score = 300
    db.session.commit()
    resp = browser(seller).get("/sell")
    page = _text(resp)
    assert resp.status_code == 403
    assert "信用分为 300" in page
    assert 'href="/credit"' in page and 'href="/credit/rules"' in page
    assert 'href="/me/verification"' not in page.split("<main", 1)[1]


def test_a_poor_seller_at_the_cap_is_shown_the_ledger(db, browser, seller, make_listing):
    cap = POLICY["limits"]["poor"]["max_active_listings"]
    for _ in range(cap):
        make_listing()
    seller.credit_score = 450
    db.session.commit()
    resp = browser(seller).get("/sell")
    assert resp.status_code == 403 and 'href="/credit"' in resp.get_data(as_text=True)


def test_an_unverified_seller_is_sent_to_verification_not_the_ledger(browser, user):
    resp = browser(user).get("/sell")
    page = _text(resp)
    assert resp.status_code == 403
    main = page.split("<footer")[0]  # the footer links the rules page on every page
    assert 'href="/me/verification"' in main and 'href="/credit/rules"' not in main


def test_a_restricted_buyer_refused_an_order_gets_a_link_to_the_ledger(db, browser, phone, buyer):
    buyer.credit_score = 300
    db.session.commit()
    resp = browser(buyer).get(f"/listings/{phone.id}/order")
    page = _text(resp)
    assert resp.status_code == 403
    assert "信用分为 300" in page and "查看我的信用记录" in page and 'href="/credit"' in page


def test_a_poor_sellers_listings_carry_a_warning(db, client, seller, phone):
    warning = f"卖家信用{BAND_LABELS['poor']}"
    assert warning not in _text(client.get(f"/listings/{phone.id}"))
    assert warning not in _text(client.get("/search"))
    seller.credit_score = 450
    db.session.commit()
    page = _text(client.get(f"/listings/{phone.id}"))
    assert warning in page and 'href="/credit/rules"' in page
    assert warning in _text(client.get("/search"))
    assert warning in _text(client.get("/"))


# --- English ---------------------------------------------------------------------------------------------


def test_credit_pages_render_in_english(db, client, login, make_order, seller, supervisor):
    _breach(db, make_order, seller)
    login(seller)
    client.post("/lang/en", data={"next": "/"})
    for path in ("/credit", "/credit/rules"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert '<html lang="en">' in resp.get_data(as_text=True)
    client.post("/logout")
    login(supervisor)
    for path in (f"/users/{seller.id}/credit", f"/users/{seller.id}/credit/adjust"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert '<html lang="en">' in resp.get_data(as_text=True)
