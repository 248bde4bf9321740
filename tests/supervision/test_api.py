"""The supervision API: the black list with histories, the chain's check, the CSV export; supervisors only."""

from __future__ import annotations

import csv
import io

import pytest

from marketplace.moderation import appeals
from tests.api.responses import ok, problem

ROUTES = (
    "/api/v1/supervision/blacklist",
    "/api/v1/supervision/audit/verify",
    "/api/v1/supervision/export/blacklist.csv",
)


@pytest.mark.parametrize("path", ROUTES)
def test_refusals(api, token_for, moderator, make_user, path):
    problem(api.get(path), 401)
    problem(api.get(path, headers=token_for(moderator)), 403)
    problem(api.get(path, headers=token_for(make_user("boss", roles=("admin",)))), 403)


def test_blacklist_with_history_decisions_and_deciders(
    api, token_for, db, seller, sellers, propose, confirm, supervisor, moderator, moderator2
):
    entry = confirm(supervisor, propose(), "假冒证据确凿")
    appeal = appeals.file(seller, entry.decision_id, "耳机是在官方渠道购买的，有发票，可以提供给平台核实。")
    db.session.commit()
    appeals.decide(moderator2, appeal.id, "upheld", "发票与序列号不符，维持原决定")
    db.session.commit()
    other = propose(user=sellers[0])

    body = ok(api.get("/api/v1/supervision/blacklist", headers=token_for(supervisor)))
    assert [item["id"] for item in body["items"]] == [other.id, entry.id]
    item = body["items"][1]
    assert item["user"] == {"id": seller.id, "display_name": seller.display_name, "real_name_masked": "张*三"}
    assert item["state"] == "active" and item["reason"] == "counterfeit"
    assert item["proposed_by"]["id"] == moderator.id
    assert item["decided_by"]["id"] == supervisor.id and item["decision_note"] == "假冒证据确凿"
    assert item["decision"]["decider"]["id"] == moderator.id
    assert item["decision"]["violation"] == "counterfeit"
    assert item["decision"]["appeal"]["status"] == "upheld"
    assert item["decision"]["appeal"]["decider"]["id"] == moderator2.id
    kinds = [event["kind"] for event in item["history"]]
    assert kinds == ["proposed", "confirmed", "appeal_filed", "appeal_decided"]
    assert all(event["audit_seq"] for event in item["history"])


def test_blacklist_filters_and_cursor(api, token_for, seller, sellers, propose, confirm, supervisor):
    made = [propose(user=user) for user in (seller, *sellers)]
    confirm(supervisor, made[0])
    headers = token_for(supervisor)
    first = ok(api.get("/api/v1/supervision/blacklist?limit=2", headers=headers))
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = ok(api.get(f"/api/v1/supervision/blacklist?limit=2&cursor={first['next_cursor']}", headers=headers))
    assert rest["next_cursor"] is None
    assert [i["id"] for i in first["items"] + rest["items"]] == sorted((e.id for e in made), reverse=True)
    active = ok(api.get("/api/v1/supervision/blacklist?state=active", headers=headers))
    assert [i["id"] for i in active["items"]] == [made[0].id]


@pytest.mark.parametrize(
    ("query", "field"),
    [("proposed_from=2026-02-30", "proposed_from"), ("state=gone", "state"), ("colour=red", "colour")],
)
def test_bad_filters_are_422(api, token_for, supervisor, query, field):
    body = problem(api.get(f"/api/v1/supervision/blacklist?{query}", headers=token_for(supervisor)), 422)
    assert field in body["errors"]


def test_verify_names_the_head(api, token_for, supervisor):
    body = ok(api.get("/api/v1/supervision/audit/verify", headers=token_for(supervisor)))
    assert body["ok"] is True and body["first_bad"] is None
    assert body["entries"] >= 1 and body["head_seq"] == body["entries"]
    assert len(body["head_hash"]) == 64


def test_csv_export(api, token_for, seller, propose, supervisor):
    entry = propose()
    resp = api.get("/api/v1/supervision/export/blacklist.csv?reason=counterfeit", headers=token_for(supervisor))
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert [row["id"] for row in rows] == [str(entry.id)]
