"""Credit API: a user's ledger (GET /users/{id}/credit) and supervisors' adjustments."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.credit import service as credit
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.db import utcnow
from marketplace.orders import service as orders
from tests.api.responses import ok as _ok
from tests.api.responses import problem as _problem

BASE = "/api/v1"
POLICY = policy()


@pytest.fixture
def supervisor(make_user):
    return make_user("sup", roles=("supervisor",))


def test_the_ledger_explains_every_event_newest_first(db, api, token_for, make_order, seller, moderator):
    order = make_order(status="accepted")
    orders.cancel(seller, order, "临时要出差，不能交易了")
    days, pct = POLICY["aging"]["after_days"], POLICY["aging"]["weight_percent"]
    old = credit._add(
        seller,
        "hidden_defect",
        -60,
        "decision",
        41,
        "隐瞒了更换过电池",
        ages=True,
        at=utcnow() - timedelta(days=days + 1),
    )
    wrong = credit.penalise(seller, "exaggeration", source="decision", source_id=42, reason="夸大了成色")
    fix = credit.compensate(wrong, source="appeal", source_id=5, reason="申诉成立", actor=moderator)
    db.session.commit()
    body = _ok(api.get(f"{BASE}/users/{seller.id}/credit", headers=token_for(seller)))
    aged = -60 * pct // 100
    breach = POLICY["penalties"]["breach"]
    assert body["score"] == POLICY["initial_score"] - breach + aged
    assert body["band"] == "fair"
    events = body["events"]
    assert [e["code"] for e in events] == [
        "compensation",
        "exaggeration",
        "hidden_defect",
        "breach",
        "verification",
    ]
    by_code = {e["code"]: e for e in events}
    assert by_code["breach"] | {"at": None, "id": None} == {
        "id": None,
        "at": None,
        "delta": -breach,
        "points": -breach,
        "code": "breach",
        "label": "接受订单后违约",
        "reason": f"接受订单 #{order.id}（“{order.listing.title}”）后又取消，属于违约。",
        "source": "order",
        "source_id": order.id,
        "aged": False,
        "overturned": False,
    }
    assert by_code["hidden_defect"]["id"] == old.id
    assert (by_code["hidden_defect"]["points"], by_code["hidden_defect"]["delta"]) == (-60, aged)
    assert by_code["hidden_defect"]["aged"] is True
    assert by_code["exaggeration"]["overturned"] is True and by_code["exaggeration"]["aged"] is False
    assert by_code["compensation"]["id"] == fix.id and by_code["compensation"]["overturned"] is False
    assert by_code["compensation"]["delta"] == POLICY["penalties"]["exaggeration"]
    # The sum of what each event counts for now is the score.
    assert sum(e["delta"] for e in events) == body["score"]


def test_labels_follow_the_callers_language(api, token_for, seller):
    headers = token_for(seller) | {"Accept-Language": "en"}
    event = _ok(api.get(f"{BASE}/users/{seller.id}/credit", headers=headers))["events"][0]
    assert event["code"] == "verification" and isinstance(event["label"], str) and event["label"]


@pytest.mark.parametrize("role", ["moderator", "supervisor"])
def test_staff_see_anyones_ledger(api, make_user, token_for, seller, role):
    body = _ok(api.get(f"{BASE}/users/{seller.id}/credit", headers=token_for(make_user("staff", roles=(role,)))))
    assert body["score"] == POLICY["initial_score"] and body["events"][0]["code"] == "verification"


def test_anyone_else_gets_404_and_anonymous_401(api, token_for, seller, buyer):
    hidden = _problem(api.get(f"{BASE}/users/{seller.id}/credit", headers=token_for(buyer)), 404)
    missing = _problem(api.get(f"{BASE}/users/99999/credit", headers=token_for(buyer)), 404)
    assert hidden == missing
    _problem(api.get(f"{BASE}/users/{seller.id}/credit"), 401)


# --- adjustments ---------------------------------------------------------------------------------------


def test_a_supervisor_adjusts_with_a_reason_and_it_is_audited(db, api, token_for, seller, supervisor):
    url = f"{BASE}/users/{seller.id}/credit/adjustments"
    body = _ok(api.post(url, json={"points": 25, "reason": "核实后补回误扣的分数"}, headers=token_for(supervisor)), 201)
    assert (body["code"], body["points"], body["delta"], body["source"]) == ("adjustment", 25, 25, "adjustment")
    assert body["reason"] == "核实后补回误扣的分数" and body["label"] == "人工调整"
    db.session.refresh(seller)
    assert seller.credit_score == POLICY["initial_score"] + 25
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "credit.adjusted"))
    assert entry.actor_id == supervisor.id and entry.subject_id == seller.id
    assert json.loads(entry.data) == {"event_id": body["id"], "points": 25, "score": seller.credit_score}
    ledger = _ok(api.get(f"{BASE}/users/{seller.id}/credit", headers=token_for(seller)))
    assert ledger["events"][0]["id"] == body["id"] and ledger["score"] == seller.credit_score


def test_only_supervisors_may_adjust(db, api, token_for, make_user, seller, buyer, moderator):
    url = f"{BASE}/users/{seller.id}/credit/adjustments"
    payload = {"points": 10, "reason": "核实后调整分数"}
    for who in (buyer, moderator, seller, make_user("adm", roles=("admin", "organiser", "inspector"))):
        _problem(api.post(url, json=payload, headers=token_for(who)), 403)
    _problem(api.post(url, json=payload), 401)
    count = sa.select(sa.func.count()).select_from(CreditEvent).where(CreditEvent.code == "adjustment")
    assert db.session.scalar(count) == 0


def test_a_supervisor_cannot_adjust_themself_or_a_missing_user(api, token_for, supervisor):
    headers = token_for(supervisor)
    payload = {"points": 10, "reason": "核实后调整分数"}
    _problem(api.post(f"{BASE}/users/{supervisor.id}/credit/adjustments", json=payload, headers=headers), 403)
    _problem(api.post(f"{BASE}/users/99999/credit/adjustments", json=payload, headers=headers), 404)


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"points": 0, "reason": "核实后调整分数"}, {"points"}),
        ({"points": 201, "reason": "核实后调整分数"}, {"points"}),
        ({"points": -201, "reason": "核实后调整分数"}, {"points"}),
        ({"points": "10", "reason": "核实后调整分数"}, {"points"}),
        ({"points": True, "reason": "核实后调整分数"}, {"points"}),
        ({"points": 1.5, "reason": "核实后调整分数"}, {"points"}),
        ({"points": 10, "reason": "短"}, {"reason"}),
        ({"points": 10, "reason": "电话 13912345678"}, {"reason"}),
        ({"points": 10}, {"reason"}),
        ({"reason": "核实后调整分数"}, {"points"}),
        ({"points": 10, "reason": "核实后调整分数", "extra": 1}, {"extra"}),
    ],
)
def test_bad_input_is_422_with_the_field_at_fault(db, api, token_for, seller, supervisor, payload, fields):
    url = f"{BASE}/users/{seller.id}/credit/adjustments"
    body = _problem(api.post(url, json=payload, headers=token_for(supervisor)), 422)
    assert set(body["errors"]) == fields
    count = sa.select(sa.func.count()).select_from(CreditEvent).where(CreditEvent.code == "adjustment")
    assert db.session.scalar(count) == 0


def test_an_unverified_user_cannot_be_adjusted(api, token_for, user, supervisor):
    url = f"{BASE}/users/{user.id}/credit/adjustments"
    body = _problem(api.post(url, json={"points": 10, "reason": "核实后调整分数"}, headers=token_for(supervisor)), 422)
    assert list(body["errors"]) == ["points"]


def test_the_credit_routes_are_documented(api):
    doc = api.get(f"{BASE}/openapi.json").get_json()
    get = doc["paths"]["/api/v1/users/{user_id}/credit"]["get"]
    assert {"200", "401", "404"} <= set(get["responses"])
    event = doc["components"]["schemas"]["CreditEventOut"]
    assert set(event["properties"]) == {
        "id",
        "at",
        "delta",
        "points",
        "code",
        "label",
        "reason",
        "source",
        "source_id",
        "aged",
        "overturned",
    }
    post = doc["paths"]["/api/v1/users/{user_id}/credit/adjustments"]["post"]
    assert {"201", "401", "403", "404", "422"} <= set(post["responses"])
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreditEventOut"
    }
    assert set(doc["components"]["schemas"]["CreditAdjustmentIn"]["properties"]) == {"points", "reason"}
