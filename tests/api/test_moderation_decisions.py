"""Moderation API: the risk-ordered report queue, deciding reports, reading decisions, appeals, flagged sellers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from marketplace.db import utcnow
from tests.api.responses import ok, problem
from tests.trust.factories import *  # noqa: F403

BASE = "/api/v1"
NOTE = "照片与实物不符，确认违规。"
APPEAL = "商品描述与实物一致，举报人误会了成色等级的含义，请复核。"
DECISION_KEYS = {
    "id",
    "report_id",
    "listing_id",
    "outcome",
    "violation",
    "note",
    "penalised_id",
    "took_down",
    "created_at",
    "credit_events",
}
APPEAL_KEYS = {"id", "decision_id", "status", "reason", "created_at", "decider_id", "note", "decided_at"}


def _decide(api, report_id, headers, **body):
    return api.post(f"{BASE}/moderation/reports/{report_id}/decision", json=body, headers=headers)


def _appeal(api, decision_id, headers, reason=APPEAL):
    return api.post(f"{BASE}/decisions/{decision_id}/appeal", json={"reason": reason}, headers=headers)


def _decide_appeal(api, appeal_id, headers, outcome="overturned", note="复核后描述属实，撤销处罚。"):
    return api.post(f"{BASE}/appeals/{appeal_id}/decision", json={"outcome": outcome, "note": note}, headers=headers)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def open_report(make_listing, report, reporters):
    """An open hidden-defect report by the first reporter on a fresh listing of `seller`."""
    return report(reporters[0], make_listing())


@pytest.fixture
def confirmed(violate):
    """A confirmed hidden-defect decision against `seller`, by `moderator`."""
    return violate("hidden_defect")


# --- the queue -------------------------------------------------------------------------------------------


def test_the_queue_puts_the_riskiest_listing_first_with_its_factors(
    api, token_for, make_listing, report, reporters, moderator
):
    older = make_listing(title="旧手机一部")
    newer = make_listing(title="名牌手表一块")
    mild = report(reporters[0], older)
    severe = [report(r, newer, reason="counterfeit", detail="表盘字体与正品不同。") for r in reporters[:2]]
    headers = token_for(moderator)

    first = ok(api.get(f"{BASE}/moderation/reports?limit=2", headers=headers))
    assert [item["id"] for item in first["items"]] == [r.id for r in severe]
    item = first["items"][0]
    assert set(item) == {"id", "listing_id", "reason", "source", "created_at", "risk", "factors"}
    assert (item["listing_id"], item["reason"], item["source"]) == (newer.id, "counterfeit", "user")
    factors = {f["code"]: f["points"] for f in item["factors"]}
    assert factors["reporters"] > 0 and factors["severe"] > 0
    assert item["risk"] == sum(f["points"] for f in item["factors"])

    assert first["next_cursor"] is not None
    rest = ok(api.get(f"{BASE}/moderation/reports", query_string={"cursor": first["next_cursor"]}, headers=headers))
    assert [item["id"] for item in rest["items"]] == [mild.id]
    assert rest["items"][0]["risk"] < item["risk"]
    assert rest["next_cursor"] is None


def test_a_moderator_does_not_queue_reports_on_their_own_listings(
    api, token_for, verified_user, make_listing, report, reporters
):
    selling_moderator = verified_user("modseller", roles=("moderator",), real_name="吴卖")
    report(reporters[0], make_listing(user=selling_moderator))
    page = ok(api.get(f"{BASE}/moderation/reports", headers=token_for(selling_moderator)))
    assert page == {"items": [], "next_cursor": None}


def test_only_moderators_read_the_queue(api, token_for, reporters, supervisor):
    problem(api.get(f"{BASE}/moderation/reports"), 401)
    for who in (reporters[0], supervisor):
        problem(api.get(f"{BASE}/moderation/reports", headers=token_for(who)), 403)


@pytest.mark.parametrize("cursor", ["abc", "-1", "²", "99999999999"])
def test_a_bad_queue_cursor_is_422(api, token_for, moderator, cursor):
    resp = api.get(f"{BASE}/moderation/reports", query_string={"cursor": cursor}, headers=token_for(moderator))
    assert list(problem(resp, 422)["errors"]) == ["cursor"]


# --- deciding ----------------------------------------------------------------------------------------------


def test_confirming_penalises_the_seller_and_takes_the_listing_down(
    api, token_for, seller, make_listing, report, reporters, moderator
):
    listing = make_listing()
    made = [report(r, listing) for r in reporters[:2]]
    headers = token_for(moderator)
    body = ok(_decide(api, made[0].id, headers, outcome="confirmed", violation="hidden_defect", note=NOTE))
    assert set(body) == DECISION_KEYS | {"blacklist_entry"}
    assert (body["report_id"], body["listing_id"], body["outcome"], body["violation"]) == (
        made[0].id,
        listing.id,
        "confirmed",
        "hidden_defect",
    )
    assert (body["note"], body["penalised_id"], body["took_down"], body["blacklist_entry"]) == (
        NOTE,
        seller.id,
        True,
        None,
    )
    [event] = body["credit_events"]
    assert set(event) == {"id", "delta", "reason", "code"}
    assert (event["delta"], event["code"]) == (-60, "hidden_defect")
    # The listing is gone from the market, and both reports on it are closed.
    problem(api.get(f"{BASE}/listings/{listing.id}"), 404)
    assert ok(api.get(f"{BASE}/moderation/reports", headers=headers))["items"] == []
    assert ok(api.get(f"{BASE}/me", headers=token_for(seller)))["credit"]["score"] == 540


def test_a_confirmed_counterfeit_proposes_a_black_list_entry(
    api, token_for, seller, make_listing, report, reporters, moderator
):
    made = report(reporters[0], make_listing(), reason="counterfeit", detail="包装上的防伪码查询不到。")
    body = ok(_decide(api, made.id, token_for(moderator), outcome="confirmed", note=NOTE))
    assert body["violation"] == "counterfeit"
    assert body["blacklist_entry"]["status"] == "pending" and isinstance(body["blacklist_entry"]["id"], int)
    assert [e["delta"] for e in body["credit_events"]] == [-200]
    assert ok(api.get(f"{BASE}/me", headers=token_for(seller)))["list_status"] == "suspended"


def test_a_dismissal_penalises_nobody(api, token_for, seller, open_report, moderator):
    body = ok(_decide(api, open_report.id, token_for(moderator), outcome="dismissed"))
    assert (body["outcome"], body["violation"], body["penalised_id"], body["credit_events"]) == (
        "dismissed",
        None,
        None,
        [],
    )
    assert body["took_down"] is False
    assert ok(api.get(f"{BASE}/me", headers=token_for(seller)))["credit"]["score"] == 600


def test_a_malicious_report_penalises_the_reporter(api, token_for, open_report, reporters, moderator):
    body = ok(_decide(api, open_report.id, token_for(moderator), outcome="malicious", note="恶意举报，多次捏造。"))
    assert body["penalised_id"] == reporters[0].id
    assert [(e["delta"], e["code"]) for e in body["credit_events"]] == [(-20, "malicious_report")]


def test_a_decided_report_is_409(api, token_for, open_report, moderator, moderator2):
    assert _decide(api, open_report.id, token_for(moderator), outcome="dismissed").status_code == 200
    problem(_decide(api, open_report.id, token_for(moderator2), outcome="confirmed", note=NOTE), 409)


def test_an_unknown_report_is_404(api, token_for, moderator):
    problem(_decide(api, 424242, token_for(moderator), outcome="dismissed"), 404)


def test_a_moderator_does_not_decide_on_their_own_listing_or_report(
    api, token_for, verified_user, make_listing, report, reporters, moderator
):
    selling_moderator = verified_user("modseller", roles=("moderator",), real_name="吴卖")
    own = report(reporters[0], make_listing(user=selling_moderator))
    problem(_decide(api, own.id, token_for(selling_moderator), outcome="dismissed"), 404)
    filed = report(moderator, make_listing())
    body = problem(_decide(api, filed.id, token_for(moderator), outcome="confirmed", note=NOTE), 403)
    assert "自己提交" in body["detail"]


def test_only_moderators_decide(api, token_for, open_report, reporters, supervisor):
    problem(api.post(f"{BASE}/moderation/reports/{open_report.id}/decision", json={"outcome": "dismissed"}), 401)
    for who in (reporters[1], supervisor):
        problem(_decide(api, open_report.id, token_for(who), outcome="dismissed"), 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "outcome"),
        ({"outcome": "maybe"}, "outcome"),
        ({"outcome": "confirmed", "note": NOTE}, "violation"),  # an "other" report names no violation
        ({"outcome": "confirmed", "violation": "spam", "note": NOTE}, "violation"),
        ({"outcome": "confirmed", "violation": "hidden_defect"}, "note"),
        ({"outcome": "malicious", "note": "坏"}, "note"),
        ({"outcome": "dismissed", "note": "字" * 1001}, "note"),
        ({"outcome": "dismissed", "extra": 1}, "extra"),
    ],
    ids=["missing", "unknown-outcome", "no-violation", "unknown-violation", "no-note", "short-note", "long", "extra"],
)
def test_bad_decisions_are_422_on_the_field(api, token_for, make_listing, report, reporters, moderator, body, field):
    made = report(reporters[0], make_listing(), reason="other", detail="卖家态度很差。")
    headers = token_for(moderator)
    assert list(problem(_decide(api, made.id, headers, **body), 422)["errors"]) == [field]
    # Nothing was decided.
    assert [item["id"] for item in ok(api.get(f"{BASE}/moderation/reports", headers=headers))["items"]] == [made.id]


# --- reading a decision ---------------------------------------------------------------------------------------


def test_the_penalised_seller_reads_the_decision_without_who_reported(api, token_for, seller, confirmed, reporters):
    resp = api.get(f"{BASE}/decisions/{confirmed.id}", headers=token_for(seller))
    body = ok(resp)
    assert set(body) == DECISION_KEYS | {"blacklist_entries", "appeal", "appeal_deadline", "can_appeal"}
    assert (body["id"], body["outcome"], body["penalised_id"]) == (confirmed.id, "confirmed", seller.id)
    assert [(e["delta"], e["code"]) for e in body["credit_events"]] == [(-60, "hidden_defect")]
    assert (body["blacklist_entries"], body["appeal"], body["can_appeal"]) == ([], None, True)
    assert _when(body["appeal_deadline"]) - _when(body["created_at"]) == timedelta(days=15)
    text = resp.get_data(as_text=True)
    assert "reporter" not in text and reporters[0].username not in text


def test_moderators_and_supervisors_read_a_decision_others_get_404(
    api, token_for, confirmed, reporters, moderator2, supervisor, make_user
):
    for who in (moderator2, supervisor):
        body = ok(api.get(f"{BASE}/decisions/{confirmed.id}", headers=token_for(who)))
        assert body["id"] == confirmed.id and body["can_appeal"] is False
    for who in (reporters[0], make_user("stranger")):
        problem(api.get(f"{BASE}/decisions/{confirmed.id}", headers=token_for(who)), 404)
    problem(api.get(f"{BASE}/decisions/{confirmed.id}"), 401)
    problem(api.get(f"{BASE}/decisions/424242", headers=token_for(supervisor)), 404)


def test_a_decision_lists_the_entry_it_proposed(api, token_for, seller, violate):
    decision = violate("counterfeit")
    body = ok(api.get(f"{BASE}/decisions/{decision.id}", headers=token_for(seller)))
    assert body["blacklist_entries"] == [
        {"id": decision.blacklist_entry.id, "status": "pending", "reason": "counterfeit"}
    ]


# --- appealing -------------------------------------------------------------------------------------------------


def test_the_penalised_seller_appeals_once(api, token_for, seller, confirmed):
    headers = token_for(seller)
    body = ok(_appeal(api, confirmed.id, headers), 201)
    assert set(body) == APPEAL_KEYS
    assert (body["decision_id"], body["status"], body["reason"]) == (confirmed.id, "pending", APPEAL)
    assert (body["decider_id"], body["note"], body["decided_at"]) == (None, None, None)

    decision = ok(api.get(f"{BASE}/decisions/{confirmed.id}", headers=headers))
    assert decision["appeal"] == {"id": body["id"], "status": "pending"}
    assert decision["can_appeal"] is False
    problem(_appeal(api, confirmed.id, headers, reason="我还想再申诉一次，理由同上。"), 409)


def test_only_the_penalised_person_appeals(api, token_for, confirmed, reporters, moderator2):
    problem(api.post(f"{BASE}/decisions/{confirmed.id}/appeal", json={"reason": APPEAL}), 401)
    problem(_appeal(api, confirmed.id, token_for(moderator2)), 403)
    problem(_appeal(api, confirmed.id, token_for(reporters[0])), 404)
    problem(_appeal(api, 424242, token_for(reporters[0])), 404)


def test_no_appeal_after_the_deadline(api, db, token_for, seller, confirmed):
    confirmed.created_at = utcnow() - timedelta(days=16)
    db.session.commit()
    headers = token_for(seller)
    assert ok(api.get(f"{BASE}/decisions/{confirmed.id}", headers=headers))["can_appeal"] is False
    body = problem(_appeal(api, confirmed.id, headers), 403)
    assert "15" in body["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "reason"), ({"reason": "不服"}, "reason"), ({"reason": APPEAL, "evidence": "x"}, "evidence")],
    ids=["missing", "too-short", "extra"],
)
def test_bad_appeals_are_422_on_the_field(api, token_for, seller, confirmed, body, field):
    resp = api.post(f"{BASE}/decisions/{confirmed.id}/appeal", json=body, headers=token_for(seller))
    assert list(problem(resp, 422)["errors"]) == [field]


# --- deciding appeals --------------------------------------------------------------------------------------------


def test_pending_appeals_page_oldest_first_and_skip_ones_own_decisions(
    api, token_for, seller, violate, moderator, moderator2, supervisor, reporters
):
    filed = [ok(_appeal(api, violate().id, token_for(seller)), 201)["id"] for _ in range(3)]
    headers = token_for(moderator2)
    first = ok(api.get(f"{BASE}/moderation/appeals?limit=2", headers=headers))
    assert [a["id"] for a in first["items"]] == filed[:2]
    assert set(first["items"][0]) == APPEAL_KEYS
    rest = ok(api.get(f"{BASE}/moderation/appeals?limit=2&cursor={first['next_cursor']}", headers=headers))
    assert ([a["id"] for a in rest["items"]], rest["next_cursor"]) == (filed[2:], None)
    assert [a["id"] for a in ok(api.get(f"{BASE}/moderation/appeals", headers=token_for(supervisor)))["items"]] == filed
    # The original decider is not offered appeals of their own decisions.
    assert ok(api.get(f"{BASE}/moderation/appeals", headers=token_for(moderator)))["items"] == []
    problem(api.get(f"{BASE}/moderation/appeals"), 401)
    for who in (seller, reporters[0]):
        problem(api.get(f"{BASE}/moderation/appeals", headers=token_for(who)), 403)


def test_overturning_restores_the_listing_and_the_score(api, token_for, seller, confirmed, moderator2):
    seller_headers = token_for(seller)
    appeal = ok(_appeal(api, confirmed.id, seller_headers), 201)
    body = ok(_decide_appeal(api, appeal["id"], token_for(moderator2)))
    assert (body["id"], body["status"], body["decider_id"]) == (appeal["id"], "overturned", moderator2.id)
    assert body["note"] == "复核后描述属实，撤销处罚。" and body["decided_at"] is not None

    assert ok(api.get(f"{BASE}/listings/{confirmed.listing_id}"))["status"] == "active"
    assert ok(api.get(f"{BASE}/me", headers=seller_headers))["credit"]["score"] == 600
    decision = ok(api.get(f"{BASE}/decisions/{confirmed.id}", headers=seller_headers))
    assert [(e["delta"], e["code"]) for e in decision["credit_events"]] == [
        (-60, "hidden_defect"),
        (60, "compensation"),
    ]
    assert decision["appeal"] == {"id": appeal["id"], "status": "overturned"}


def test_upholding_keeps_the_decision(api, token_for, seller, confirmed, supervisor):
    appeal = ok(_appeal(api, confirmed.id, token_for(seller)), 201)
    body = ok(_decide_appeal(api, appeal["id"], token_for(supervisor), outcome="upheld", note="证据充分，维持原决定。"))
    assert (body["status"], body["decider_id"]) == ("upheld", supervisor.id)
    problem(api.get(f"{BASE}/listings/{confirmed.listing_id}"), 404)
    assert ok(api.get(f"{BASE}/me", headers=token_for(seller)))["credit"]["score"] == 540


def test_the_original_decider_may_not_decide_the_appeal(api, token_for, seller, confirmed, moderator):
    appeal = ok(_appeal(api, confirmed.id, token_for(seller)), 201)
    body = problem(_decide_appeal(api, appeal["id"], token_for(moderator)), 403)
    assert "原决定人" in body["detail"]


def test_appeal_decisions_need_a_moderator_or_supervisor(api, token_for, seller, confirmed, reporters):
    appeal = ok(_appeal(api, confirmed.id, token_for(seller)), 201)
    problem(api.post(f"{BASE}/appeals/{appeal['id']}/decision", json={"outcome": "upheld", "note": "维持"}), 401)
    for who in (seller, reporters[0]):
        problem(_decide_appeal(api, appeal["id"], token_for(who)), 403)


def test_an_appeal_is_decided_once(api, token_for, seller, confirmed, moderator2, supervisor):
    appeal = ok(_appeal(api, confirmed.id, token_for(seller)), 201)
    assert _decide_appeal(api, appeal["id"], token_for(moderator2), outcome="upheld").status_code == 200
    problem(_decide_appeal(api, appeal["id"], token_for(supervisor)), 409)
    problem(_decide_appeal(api, 424242, token_for(supervisor)), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "maybe", "note": "复核"}, "outcome"),
        ({"outcome": "upheld"}, "note"),
        ({"outcome": "upheld", "note": "  "}, "note"),
        ({"outcome": "upheld", "note": "复核", "extra": True}, "extra"),
    ],
    ids=["unknown-outcome", "missing-note", "blank-note", "extra"],
)
def test_bad_appeal_decisions_are_422_on_the_field(api, token_for, seller, confirmed, moderator2, body, field):
    appeal = ok(_appeal(api, confirmed.id, token_for(seller)), 201)
    resp = api.post(f"{BASE}/appeals/{appeal['id']}/decision", json=body, headers=token_for(moderator2))
    assert list(problem(resp, 422)["errors"]) == [field]


# --- flagged sellers ----------------------------------------------------------------------------------------------


def test_flagged_sellers_show_why_and_their_entry(api, token_for, seller, violate, moderator2):
    headers = token_for(moderator2)
    assert ok(api.get(f"{BASE}/moderation/flagged", headers=headers)) == {"items": [], "next_cursor": None}
    violate()
    violate()
    [item] = ok(api.get(f"{BASE}/moderation/flagged", headers=headers))["items"]
    assert (item["user_id"], item["display_name"], item["violations"], item["open_reports"]) == (
        seller.id,
        seller.display_name,
        2,
        0,
    )
    assert "violations" in item["reasons"] and item["entry"] is None
    third = violate()
    [item] = ok(api.get(f"{BASE}/moderation/flagged", headers=headers))["items"]
    assert item["violations"] == 3
    assert item["entry"] == {"id": third.blacklist_entry.id, "status": "pending"}


def test_only_moderators_see_flagged_sellers(api, token_for, reporters, supervisor):
    problem(api.get(f"{BASE}/moderation/flagged"), 401)
    for who in (reporters[0], supervisor):
        problem(api.get(f"{BASE}/moderation/flagged", headers=token_for(who)), 403)


# --- the document --------------------------------------------------------------------------------------------------


def test_the_routes_are_in_the_openapi_document(api):
    paths = ok(api.get(f"{BASE}/openapi.json"))["paths"]
    expected = {
        "/api/v1/moderation/reports": ("get", {"200", "401", "403", "422"}),
        "/api/v1/moderation/reports/{report_id}/decision": ("post", {"200", "401", "403", "404", "409", "422"}),
        "/api/v1/decisions/{decision_id}": ("get", {"200", "401", "404"}),
        "/api/v1/decisions/{decision_id}/appeal": ("post", {"201", "401", "403", "404", "409", "422"}),
        "/api/v1/moderation/appeals": ("get", {"200", "401", "403", "422"}),
        "/api/v1/appeals/{appeal_id}/decision": ("post", {"200", "401", "403", "404", "409", "422"}),
        "/api/v1/moderation/flagged": ("get", {"200", "401", "403"}),
    }
    for path, (method, codes) in expected.items():
        assert codes <= set(paths[path][method]["responses"]), path
