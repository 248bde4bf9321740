"""Issue 5's whole path through the API with bearer tokens only: three reports, a confirmed violation, a third one
that proposes a black-list entry, the two-person confirmation, the appeal that overturns it, and the restoration."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from tests.api.responses import ok, problem
from tests.trust.factories import *  # noqa: F403

BASE = "/api/v1"
FALSE_TITLE = "九成新 iPhone 13 无划痕 128GB"
SPARE_TITLE = "小米 14 手机 陶瓷白 512GB"
DETAIL = "屏幕右下角有明显划痕，电池健康只有 79%，描述都没写。"
BOOKS = {"title": "旧书一套", "description": "书脊完好", "category": "books", "price_fen": 3500, "district": "xingqing"}
APPEAL = "这台荣耀确实全新未拆封，举报人把官方翻新机的包装误认成了拆封过的，我有购买发票可以核实。"


def _report(api, listing_id, headers, reason="hidden_defect", detail=DETAIL):
    return api.post(f"{BASE}/listings/{listing_id}/reports", json={"reason": reason, "detail": detail}, headers=headers)


def _decide(api, report_id, headers, violation, note="核实与描述不符，确认违规。"):
    body = {"outcome": "confirmed", "violation": violation, "note": note}
    return api.post(f"{BASE}/moderation/reports/{report_id}/decision", json=body, headers=headers)


def _deltas(decision: dict) -> list[tuple[int, str]]:
    return [(event["delta"], event["code"]) for event in decision["credit_events"]]


def _search(api, q: str) -> list[int]:
    return [item["id"] for item in ok(api.get(f"{BASE}/listings", query_string={"q": q}))["items"]]


def test_reported_confirmed_black_listed_appealed_and_restored(
    api, db, token_for, seller, make_listing, reporters, moderator, moderator2, supervisor, verified_user
):
    from marketplace.audit.models import AuditEntry
    from marketplace.credit import service as credit

    both = verified_user("modsup", roles=("moderator", "supervisor"), real_name="郑双")
    false_id = make_listing(title=FALSE_TITLE).id
    spare_id = make_listing(title=SPARE_TITLE).id
    second_id = make_listing(title="华为 Mate 60 手机 夸大").id
    third_id = make_listing(title="荣耀 Magic6 手机 全新未拆封").id
    start_seq = db.session.scalar(sa.select(sa.func.max(AuditEntry.seq))) or 0
    h = {"seller": token_for(seller), "mod": token_for(moderator), "mod2": token_for(moderator2)}
    h |= {"both": token_for(both), "sup": token_for(supervisor)}
    reporter_h = [token_for(r) for r in reporters]

    # Three residents report the listing; the moderator's queue holds the three, the listing's risk on each.
    made = [ok(_report(api, false_id, headers), 201) for headers in reporter_h]
    assert {(r["listing_id"], r["reason"], r["source"], r["status"]) for r in made} == {
        (false_id, "hidden_defect", "user", "open")
    }
    queue = ok(api.get(f"{BASE}/moderation/reports", headers=h["mod"]))
    assert [item["id"] for item in queue["items"]] == [r["id"] for r in made]
    assert {"reporters"} <= {f["code"] for f in queue["items"][0]["factors"]}

    # One decision confirms the hidden defect: the policy's 60 points, the listing down, every report closed.
    first = ok(_decide(api, made[0]["id"], h["mod"], "hidden_defect"))
    assert (first["outcome"], first["penalised_id"], first["took_down"]) == ("confirmed", seller.id, True)
    assert _deltas(first) == [(-60, "hidden_defect")] and first["blacklist_entry"] is None
    assert ok(api.get(f"{BASE}/moderation/reports", headers=h["mod"]))["items"] == []
    problem(_decide(api, made[1]["id"], h["mod"], "hidden_defect"), 409)
    assert ok(api.get(f"{BASE}/listings/{false_id}", headers=h["seller"]))["status"] == "removed"
    problem(api.get(f"{BASE}/listings/{false_id}"), 404)
    ledger = ok(api.get(f"{BASE}/users/{seller.id}/credit", headers=h["seller"]))
    assert ledger["score"] == 540
    assert (ledger["events"][0]["delta"], ledger["events"][0]["source"]) == (-60, "decision")

    # A second violation counts twice; the third, decided by a moderator who is also a supervisor, three times
    # and proposes a black-list entry, which suspends the seller at once.
    second = ok(_report(api, second_id, reporter_h[1], "exaggeration", "写着全新，实际有使用痕迹。"), 201)
    assert _deltas(ok(_decide(api, second["id"], h["mod"], "exaggeration"))) == [(-60, "exaggeration")]
    third_report = ok(_report(api, third_id, reporter_h[2], "exaggeration", "包装明显拆封过，却写全新未拆封。"), 201)
    third = ok(_decide(api, third_report["id"], h["both"], "exaggeration"))
    assert _deltas(third) == [(-90, "exaggeration")]
    entry_id = third["blacklist_entry"]["id"]
    assert third["blacklist_entry"]["status"] == "pending"
    assert ok(api.get(f"{BASE}/me", headers=h["seller"]))["list_status"] == "suspended"
    gate = problem(api.post(f"{BASE}/listings", json=BOOKS, headers=h["seller"]), 403)
    assert "黑名单" in gate["detail"]
    assert ok(api.get(f"{BASE}/trust/black"))["items"] == []

    # Two people: a moderator may not confirm, nor the supervisor who proposed it; another supervisor does.
    confirm_url = f"{BASE}/trust/black/{entry_id}/confirm"
    problem(api.post(confirm_url, json={}, headers=h["mod"]), 403)
    refused = problem(api.post(confirm_url, json={}, headers=h["both"]), 403)
    assert "提议人" in refused["detail"]
    confirmed = ok(api.post(confirm_url, json={"note": "三次违规属实。"}, headers=h["sup"]))
    assert (confirmed["id"], confirmed["status"]) == (entry_id, "active")

    # The seller's listings leave the search, their tokens stop working, the board shows them masked.
    assert _search(api, "陶瓷") == []
    problem(api.get(f"{BASE}/me", headers=h["seller"]), 401)
    [row] = ok(api.get(f"{BASE}/trust/black"))["items"]
    assert row == {
        "id": entry_id,
        "display_name": "张*三",
        "reason_category": "repeat_violations",
        "starts_at": confirmed["starts_at"],
        "ends_at": confirmed["ends_at"],
    }

    # The seller signs in again and appeals the third decision, once.
    h["seller"] = token_for(seller)
    assert ok(api.get(f"{BASE}/me", headers=h["seller"]))["list_status"] == "black"
    appeal_url = f"{BASE}/decisions/{third['id']}/appeal"
    appeal = ok(api.post(appeal_url, json={"reason": APPEAL}, headers=h["seller"]), 201)
    assert (appeal["decision_id"], appeal["status"], appeal["decider_id"]) == (third["id"], "pending", None)
    problem(api.post(appeal_url, json={"reason": APPEAL}, headers=h["seller"]), 409)

    # The original decider neither sees nor decides it; another moderator overturns it.
    assert appeal["id"] not in [a["id"] for a in ok(api.get(f"{BASE}/moderation/appeals", headers=h["both"]))["items"]]
    assert [a["id"] for a in ok(api.get(f"{BASE}/moderation/appeals", headers=h["mod2"]))["items"]] == [appeal["id"]]
    verdict = {"outcome": "overturned", "note": "发票核实为全新机，原决定撤销。"}
    problem(api.post(f"{BASE}/appeals/{appeal['id']}/decision", json=verdict, headers=h["both"]), 403)
    decided = ok(api.post(f"{BASE}/appeals/{appeal['id']}/decision", json=verdict, headers=h["mod2"]))
    assert (decided["status"], decided["decider_id"]) == ("overturned", moderator2.id)

    # Score, list and listings are restored, and the decision says so.
    ledger = ok(api.get(f"{BASE}/users/{seller.id}/credit", headers=h["seller"]))
    assert ledger["score"] == 480
    assert (ledger["events"][0]["delta"], ledger["events"][0]["source"]) == (90, "appeal")
    assert ok(api.get(f"{BASE}/trust/black"))["items"] == []
    assert ok(api.get(f"{BASE}/me", headers=h["seller"]))["list_status"] == "none"
    assert ok(api.get(f"{BASE}/listings/{third_id}"))["status"] == "active"
    assert _search(api, "陶瓷") == [spare_id]
    detail = ok(api.get(f"{BASE}/decisions/{third['id']}", headers=h["seller"]))
    assert detail["appeal"] == {"id": appeal["id"], "status": "overturned"}
    assert [(e["id"], e["status"]) for e in detail["blacklist_entries"]] == [(entry_id, "revoked")]
    assert sorted(_deltas(detail)) == [(-90, "exaggeration"), (90, "compensation")]

    # The supervisors' record: the entry's whole history, the CSV export, the audit chain.
    [entry] = ok(api.get(f"{BASE}/supervision/blacklist", headers=h["sup"]))["items"]
    assert (entry["id"], entry["state"], entry["decided_by"]["id"]) == (entry_id, "revoked", supervisor.id)
    assert (entry["proposed_by"]["id"], entry["taken_down"]) == (both.id, [spare_id])
    assert entry["decision"]["appeal"]["status"] == "overturned"
    kinds = [event["kind"] for event in entry["history"]]
    for kind in ("proposed", "confirmed", "taken_down", "appeal_filed", "appeal_decided", "revoked"):
        assert kind in kinds, kind
    assert all(event["audit_seq"] for event in entry["history"] if event["kind"] != "taken_down")

    exported = api.get(f"{BASE}/supervision/export/blacklist.csv", headers=h["sup"])
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    [csv_row] = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert (csv_row["id"], csv_row["status"], csv_row["appeal_status"]) == (str(entry_id), "revoked", "overturned")
    assert (csv_row["real_name_masked"], csv_row["decided_by"]) == ("张*三", str(supervisor.id))
    assert "张小三" not in text
    problem(api.get(f"{BASE}/supervision/export/blacklist.csv", headers=h["mod2"]), 403)

    chain = ok(api.get(f"{BASE}/supervision/audit/verify", headers=h["sup"]))
    assert (chain["ok"], chain["first_bad"]) == (True, None)
    actions = list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.seq > start_seq)))
    assert actions.count("report.opened") == 5 and actions.count("report.decided") == 3
    for action in (
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
    assert chain["entries"] >= len(actions)
    assert credit.replay_differences() == []
