"""Appealing a decision and deciding appeals, through the pages: the form, the queue, the two-step decision."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from marketplace.credit.policy import policy
from marketplace.moderation.models import Appeal
from marketplace.notices.models import Notice

REASON = "商品描述写明了屏幕有细微划痕，举报人没有看到这一段。"


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _appeals(db):
    return list(db.session.scalars(sa.select(Appeal).order_by(Appeal.id)))


@pytest.fixture
def other_client(app):
    """A second browser, for a second person signed in at the same time."""
    return app.test_client()


@pytest.fixture
def appealed(db, violate, seller):
    """A confirmed decision against the seller (by `moderator`) and the seller's pending appeal of it."""
    from marketplace.moderation import appeals

    decision = violate("hidden_defect")
    appeal = appeals.file(seller, decision.id, REASON)
    db.session.commit()
    return appeal


# --- filing -----------------------------------------------------------------------------------------


def test_the_penalised_seller_appeals_once(client, login, db, violate, seller):
    decision = violate("hidden_defect")
    login(seller)
    html = _text(client.get(f"/decisions/{decision.id}/appeal"))
    assert 'name="reason"' in html and "每项决定只能申诉一次" in html

    resp = client.post(f"/decisions/{decision.id}/appeal", data={"reason": "<i>冤</i>"})
    assert resp.status_code == 422
    assert 'id="reason-error"' in _text(resp) and "&lt;i&gt;冤&lt;/i&gt;" in _text(resp)
    assert _appeals(db) == []

    resp = client.post(f"/decisions/{decision.id}/appeal", data={"reason": REASON})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/decisions/{decision.id}")
    [appeal] = _appeals(db)
    assert (appeal.appellant_id, appeal.status, appeal.reason) == (seller.id, "pending", REASON)
    html = _text(client.get(f"/decisions/{decision.id}"))
    assert "申诉已提交" in html and "待处理" in html and REASON in html
    assert f"/decisions/{decision.id}/appeal" not in html

    resp = client.post(f"/decisions/{decision.id}/appeal", data={"reason": REASON + "再补充一点。"})
    assert resp.status_code == 409 and "只能申诉一次" in _text(resp)
    assert len(_appeals(db)) == 1


def test_nobody_else_appeals(client, login, other_client, db, violate, reporters, moderator2):
    decision = violate("hidden_defect")
    login(reporters[1])
    assert client.get(f"/decisions/{decision.id}/appeal").status_code == 404
    assert client.post(f"/decisions/{decision.id}/appeal", data={"reason": REASON}).status_code == 404
    login(moderator2, other_client)
    html = _text(other_client.get(f"/decisions/{decision.id}/appeal"))
    assert "只有被处罚的当事人可以申诉" in html and 'name="reason"' not in html
    resp = other_client.post(f"/decisions/{decision.id}/appeal", data={"reason": REASON})
    assert resp.status_code == 403
    assert _appeals(db) == []


# --- the appeals queue ------------------------------------------------------------------------------------


def test_the_queue_lists_appeals_for_others_than_the_decider(
    client, login, other_client, appealed, moderator, moderator2, supervisor, reporters
):
    login(moderator2)
    html = _text(client.get("/moderation/appeals"))
    assert f"/appeals/{appealed.id}" in html and "申诉人" in html
    login(supervisor, other_client)
    assert f"/appeals/{appealed.id}" in _text(other_client.get("/moderation/appeals"))
    login(moderator)
    html = _text(client.get("/moderation/appeals"))
    assert f"/appeals/{appealed.id}" not in html and "目前没有待你处理的申诉" in html
    login(reporters[1])
    assert client.get("/moderation/appeals").status_code == 403
    assert client.get(f"/appeals/{appealed.id}").status_code == 404


def test_the_queue_needs_a_login(client):
    resp = client.get("/moderation/appeals")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


# --- deciding ----------------------------------------------------------------------------------------------


def test_the_original_decider_cannot_decide_the_appeal(client, login, db, appealed, moderator):
    login(moderator)
    html = _text(client.get(f"/appeals/{appealed.id}"))
    assert "原决定人不能处理对自己决定的申诉" in html and 'name="outcome"' not in html
    resp = client.post(
        f"/appeals/{appealed.id}/decide", data={"outcome": "upheld", "note": "维持原判。", "confirm": "1"}
    )
    assert resp.status_code == 403
    db.session.refresh(appealed)
    assert appealed.status == "pending"


def test_another_moderator_overturns_and_everything_comes_back(client, login, db, appealed, moderator2, seller):
    decision = appealed.decision
    listing = decision.listing
    penalty = policy()["penalties"]["hidden_defect"]
    before = seller.credit_score
    login(moderator2)
    html = _text(client.get(f"/appeals/{appealed.id}"))
    assert REASON in html and 'value="overturned"' in html

    form = {"outcome": "overturned", "note": "复核照片后认为描述属实。"}
    resp = client.post(f"/appeals/{appealed.id}/decide", data=form)
    html = _text(resp)
    assert resp.status_code == 200
    assert f"扣除的 {penalty} 分" in html and "恢复被这项决定下架的商品" in html
    db.session.refresh(appealed)
    assert appealed.status == "pending"

    resp = client.post(f"/appeals/{appealed.id}/decide", data={**form, "confirm": "1"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/decisions/{decision.id}")
    db.session.refresh(appealed)
    db.session.refresh(seller)
    db.session.refresh(listing)
    assert appealed.status == "overturned"
    assert seller.credit_score == before + penalty
    assert listing.status == "active"
    assert db.session.scalar(sa.select(Notice).where(Notice.user_id == seller.id, Notice.kind == "appeal.overturned"))
    html = _text(client.get(f"/decisions/{decision.id}"))
    assert "申诉成立，原决定已撤销" in html and "已撤销（申诉成立）" in html


def test_a_supervisor_upholds_and_nothing_changes(client, login, db, appealed, supervisor, seller):
    before = seller.credit_score
    login(supervisor)
    form = {"outcome": "upheld", "note": "照片清楚显示划痕，维持原决定。"}
    assert "原决定维持" in _text(client.post(f"/appeals/{appealed.id}/decide", data=form))
    resp = client.post(f"/appeals/{appealed.id}/decide", data={**form, "confirm": "1"})
    assert resp.status_code == 302
    db.session.refresh(appealed)
    db.session.refresh(seller)
    assert appealed.status == "upheld" and seller.credit_score == before
    assert appealed.decision.listing.status == "removed"


def test_an_appeal_decision_without_a_reason_is_refused_with_the_choice_kept(client, login, db, appealed, moderator2):
    login(moderator2)
    resp = client.post(f"/appeals/{appealed.id}/decide", data={"outcome": "overturned", "note": ""})
    html = _text(resp)
    assert resp.status_code == 422 and 'id="note-error"' in html
    assert re.search(r'checked[^>]*value="overturned"|value="overturned"[^>]*checked', html)
    db.session.refresh(appealed)
    assert appealed.status == "pending"


def test_an_appeal_decided_meanwhile_is_not_decided_again(
    client, login, other_client, db, appealed, moderator2, supervisor
):
    form = {"outcome": "overturned", "note": "复核后描述属实。", "confirm": "1"}
    login(moderator2)
    login(supervisor, other_client)
    assert client.post(f"/appeals/{appealed.id}/decide", data=form).status_code == 302
    resp = other_client.post(f"/appeals/{appealed.id}/decide", data={**form, "outcome": "upheld"})
    assert resp.status_code == 302
    assert "该申诉已被处理" in _text(other_client.get(resp.headers["Location"]))
    db.session.refresh(appealed)
    assert appealed.status == "overturned" and appealed.decider_id == moderator2.id
