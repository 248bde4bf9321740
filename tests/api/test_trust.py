"""Lists API: the public red and black boards (masked names only) and supervisors confirming or rejecting entries."""

from __future__ import annotations

from datetime import datetime

import pytest

from marketplace.errors import Forbidden
from tests.api.responses import ok, problem
from tests.trust.factories import *  # noqa: F403

BASE = "/api/v1"
BOARD_KEYS = {"id", "display_name", "reason_category", "starts_at", "ends_at"}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def counterfeit(make_listing, report, decide, reporters, moderator):
    """counterfeit(seller=None, actor=moderator) → a confirmed counterfeit decision, which proposes an entry."""

    def make(seller=None, actor=None):
        made = report(reporters[0], make_listing(user=seller), reason="counterfeit", detail="防伪码查询不到。")
        return decide(actor or moderator, made, "confirmed", "counterfeit")

    return make


@pytest.fixture
def entry(counterfeit):
    """A pending black-list entry of `seller`, proposed by `moderator`."""
    return counterfeit().blacklist_entry


def _confirm(api, entry_id, headers, **body):
    return api.post(f"{BASE}/trust/black/{entry_id}/confirm", json=body, headers=headers)


def _reject(api, entry_id, headers, **body):
    return api.post(f"{BASE}/trust/black/{entry_id}/reject", json=body, headers=headers)


# --- the red list ----------------------------------------------------------------------------------------------


def test_before_the_first_edition_the_red_list_is_empty(api):
    assert ok(api.get(f"{BASE}/trust/red")) == {"id": None, "period": None, "computed_at": None, "entries": []}


def test_the_red_list_shows_standing_sellers_masked(api, db, seller, buyer, make_user):
    from marketplace.trust import redlist
    from marketplace.trust.models import RedListEdition, RedListEntry

    plain = make_user("plain", display_name="王大锤")
    edition = RedListEdition(period="2026-05", rule=redlist.rule())
    db.session.add(edition)
    db.session.flush()
    for position, (who, centi) in enumerate(((seller, 490), (buyer, 485), (plain, 481)), start=1):
        db.session.add(
            RedListEntry(
                edition_id=edition.id,
                user_id=who.id,
                position=position,
                score=800 - position,
                sales=12,
                ratings=6,
                average_centi=centi,
            )
        )
    db.session.flush()
    db.session.expire(edition, ["entries"])
    redlist.withdraw(buyer.id, actor=None, reason="审核决定确认违规")
    db.session.commit()

    resp = api.get(f"{BASE}/trust/red")
    body = ok(resp)
    assert (body["id"], body["period"]) == (edition.id, "2026-05")
    assert body["entries"] == [
        {
            "position": 1,
            "user_id": seller.id,
            "display_name": "张*三",
            "score": 799,
            "sales": 12,
            "ratings": 6,
            "average": 4.9,
        },
        {
            "position": 3,
            "user_id": plain.id,
            "display_name": "王*锤",
            "score": 797,
            "sales": 12,
            "ratings": 6,
            "average": 4.81,
        },
    ]
    text = resp.get_data(as_text=True)
    for name in ("张小三", seller.display_name, "王大锤", "李四", buyer.display_name):
        assert name not in text


# --- the black list ----------------------------------------------------------------------------------------------


def test_a_confirmed_entry_goes_on_the_public_board_masked(api, token_for, seller, entry, supervisor):
    # A proposal is not public.
    assert ok(api.get(f"{BASE}/trust/black")) == {"items": [], "next_cursor": None}
    body = ok(_confirm(api, entry.id, token_for(supervisor), note="防伪码核实为假。"))
    assert set(body) == {"id", "status", "starts_at", "ends_at"}
    assert (body["id"], body["status"]) == (entry.id, "active")
    # A counterfeit lasts 36 months.
    starts, ends = _when(body["starts_at"]), _when(body["ends_at"])
    assert (ends.year - starts.year) * 12 + ends.month - starts.month == 36

    resp = api.get(f"{BASE}/trust/black")
    [row] = ok(resp)["items"]
    assert row == {
        "id": entry.id,
        "display_name": "张*三",
        "reason_category": "counterfeit",
        "starts_at": body["starts_at"],
        "ends_at": body["ends_at"],
    }
    text = resp.get_data(as_text=True)
    assert "张小三" not in text and seller.display_name not in text
    assert ok(api.get(f"{BASE}/me", headers=token_for(seller)))["list_status"] == "black"


def test_the_black_board_pages_newest_first(api, db, verified_user, counterfeit, supervisor):
    from marketplace.trust import service

    sellers = [verified_user(f"s{i}", real_name=name) for i, name in enumerate(("陈一二", "陈三四", "陈五六"))]
    ids = []
    for who in sellers:
        entry_id = counterfeit(who).blacklist_entry.id
        service.confirm(supervisor, entry_id)
        ids.append(entry_id)
    db.session.commit()
    first = ok(api.get(f"{BASE}/trust/black?limit=2"))
    assert [row["id"] for row in first["items"]] == ids[:0:-1]
    assert set(first["items"][0]) == BOARD_KEYS
    rest = ok(api.get(f"{BASE}/trust/black", query_string={"limit": 2, "cursor": first["next_cursor"]}))
    assert ([row["id"] for row in rest["items"]], rest["next_cursor"]) == ([ids[0]], None)
    names = {row["display_name"] for row in first["items"] + rest["items"]}
    assert names == {"陈*二", "陈*四", "陈*六"}


@pytest.mark.parametrize("cursor", ["abc", "-1", "99999999999"])
def test_a_bad_board_cursor_is_422(api, cursor):
    assert list(problem(api.get(f"{BASE}/trust/black", query_string={"cursor": cursor}), 422)["errors"]) == ["cursor"]


# --- confirming and rejecting -------------------------------------------------------------------------------------


def test_only_supervisors_review_entries(api, token_for, entry, seller, reporters, moderator2):
    problem(api.post(f"{BASE}/trust/black/{entry.id}/confirm", json={}), 401)
    problem(api.post(f"{BASE}/trust/black/{entry.id}/reject", json={"note": "证据不足。"}), 401)
    for who in (seller, reporters[0], moderator2):
        problem(_confirm(api, entry.id, token_for(who)), 403)
        problem(_reject(api, entry.id, token_for(who), note="证据不足。"), 403)


def test_the_proposer_may_not_confirm_their_own_proposal(api, token_for, verified_user, counterfeit):
    both = verified_user("modsup", roles=("moderator", "supervisor"), real_name="郑双")
    proposed = counterfeit(actor=both).blacklist_entry
    body = problem(_confirm(api, proposed.id, token_for(both)), 403)
    assert "提议人" in body["detail"]
    problem(_reject(api, proposed.id, token_for(both), note="我改主意了。"), 403)


def test_an_entry_is_reviewed_once(api, token_for, entry, supervisor, make_user):
    other = make_user("sup2", roles=("supervisor",))
    assert _confirm(api, entry.id, token_for(supervisor)).status_code == 200
    problem(_confirm(api, entry.id, token_for(other)), 409)
    problem(_reject(api, entry.id, token_for(other), note="证据不足。"), 409)
    problem(_confirm(api, 424242, token_for(other)), 404)


def test_rejecting_ends_the_suspension(api, token_for, seller, entry, supervisor, make_listing):
    with pytest.raises(Forbidden):
        make_listing()
    body = ok(_reject(api, entry.id, token_for(supervisor), note="防伪码系统故障，证据不足。"))
    assert body == {"id": entry.id, "status": "rejected", "starts_at": None, "ends_at": None}
    assert ok(api.get(f"{BASE}/me", headers=token_for(seller)))["list_status"] == "none"
    assert ok(api.get(f"{BASE}/trust/black"))["items"] == []
    make_listing()  # trading again


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("reject", {}, "note"),
        ("reject", {"note": "否"}, "note"),
        ("reject", {"note": 5}, "note"),
        ("confirm", {"note": "字" * 501}, "note"),
        ("confirm", {"reason": "x"}, "reason"),
    ],
    ids=["reject-no-note", "reject-short-note", "reject-not-text", "confirm-long-note", "confirm-extra"],
)
def test_bad_reviews_are_422_on_the_field(api, token_for, entry, supervisor, route, body, field):
    resp = api.post(f"{BASE}/trust/black/{entry.id}/{route}", json=body, headers=token_for(supervisor))
    assert list(problem(resp, 422)["errors"]) == [field]


def test_the_routes_are_in_the_openapi_document(api):
    paths = ok(api.get(f"{BASE}/openapi.json"))["paths"]
    assert "security" not in paths["/api/v1/trust/red"]["get"]
    assert "security" not in paths["/api/v1/trust/black"]["get"]
    for action in ("confirm", "reject"):
        responses = paths[f"/api/v1/trust/black/{{entry_id}}/{action}"]["post"]["responses"]
        assert {"200", "401", "403", "404", "409", "422"} <= set(responses)
