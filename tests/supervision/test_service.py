"""The black-list audit through the service: filters (dates, reason, state now) and an entry's whole history."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from marketplace.db import utcnow
from marketplace.errors import Forbidden, Invalid
from marketplace.moderation import appeals
from marketplace.supervision import service
from marketplace.supervision.service import Filters, clean_filters
from marketplace.trust import service as trust


def _ids(actor, **filters) -> list[int]:
    return [e.id for e in service.blacklist_entries(actor, Filters(**filters))]


def _at(entry, db, **values) -> None:
    for name, value in values.items():
        setattr(entry, name, value)
    db.session.commit()


@pytest.fixture
def three(db, seller, sellers, propose, confirm, supervisor):
    """A pending counterfeit entry, an active one, and one whose end has passed (still marked active)."""
    pending = propose()
    active = confirm(supervisor, propose(user=sellers[0]))
    ended = confirm(supervisor, propose(user=sellers[1]))
    _at(ended, db, ends_at=utcnow() - timedelta(days=1))
    return pending, active, ended


def test_state_filter_reads_the_state_now(supervisor, three):
    pending, active, ended = three
    assert ended.status == "active"  # maintenance has not marked it yet
    assert _ids(supervisor, state="pending") == [pending.id]
    assert _ids(supervisor, state="active") == [active.id]
    assert _ids(supervisor, state="expired") == [ended.id]
    assert _ids(supervisor, state="revoked") == []
    assert _ids(supervisor) == [ended.id, active.id, pending.id]


def test_marked_expired_entries_count_as_expired(db, supervisor, three):
    _pending, _active, ended = three
    assert trust.expire_due() == [ended.id]
    db.session.commit()
    assert _ids(supervisor, state="expired") == [ended.id]


def test_reason_filter(db, supervisor, seller, sellers, propose, moderator):
    counterfeit = propose(user=sellers[0])
    low = trust.propose(sellers[1], reason="low_score", proposer=moderator, decision_id=None)
    db.session.commit()
    assert _ids(supervisor, reason="counterfeit") == [counterfeit.id]
    assert _ids(supervisor, reason="low_score") == [low.id]
    assert _ids(supervisor, reason="repeat_violations") == []


def test_date_filter_takes_whole_local_days(db, supervisor, three):
    pending, active, ended = three
    # 2026-03-01 00:30 in Shanghai is still 2026-02-28 in UTC: the filter goes by the day people see.
    _at(pending, db, proposed_at=datetime.fromisoformat("2026-02-28T16:30:00+00:00"))
    _at(active, db, proposed_at=datetime.fromisoformat("2026-03-31T15:59:00+00:00"))
    _at(ended, db, proposed_at=datetime.fromisoformat("2026-03-31T16:01:00+00:00"))
    march = clean_filters({"proposed_from": "2026-03-01", "proposed_to": "2026-03-31"})
    assert [e.id for e in service.blacklist_entries(supervisor, march)] == [active.id, pending.id]
    assert _ids(supervisor, proposed_from=march.proposed_from) == [ended.id, active.id, pending.id]
    assert _ids(supervisor, proposed_to=datetime(2026, 2, 28).date()) == []


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"proposed_from": "2026/03/01"}, "proposed_from"),
        ({"proposed_to": "2026-02-30"}, "proposed_to"),
        ({"proposed_from": "２０２６-03-01"}, "proposed_from"),
        ({"proposed_from": "2026-03-02", "proposed_to": "2026-03-01"}, "proposed_to"),
        ({"reason": "rude"}, "reason"),
        ({"state": "gone"}, "state"),
    ],
)
def test_bad_filters_name_the_field(values, field):
    with pytest.raises(Invalid) as caught:
        clean_filters(values)
    assert list(caught.value.errors) == [field]


def test_keyset_pages_cover_every_entry_once(supervisor, three):
    first = service.blacklist_entries(supervisor, Filters(), limit=2)
    rest = service.blacklist_entries(supervisor, Filters(), before_id=first[-1].id, limit=2)
    assert [e.id for e in first + rest] == sorted((e.id for e in three), reverse=True)


def test_only_supervisors(moderator, make_user):
    for actor in (moderator, make_user("boss", roles=("admin",))):
        with pytest.raises(Forbidden):
            service.blacklist_entries(actor, Filters())
        with pytest.raises(Forbidden):
            service.check_chain(actor)


def test_history_of_the_full_path(db, seller, make_listing, propose, confirm, supervisor, moderator, moderator2):
    on_sale = make_listing(title="九成新 小米手环 8")
    entry = propose(title="原装正品 AirPods Pro 2")
    decision = entry.decision_id
    confirm(supervisor, entry, "假冒证据确凿")
    appeal = appeals.file(seller, decision, "耳机是在官方渠道购买的，有发票，可以提供给平台核实。")
    db.session.commit()
    appeals.decide(moderator2, appeal.id, "overturned", "发票核实无误，撤销原决定")
    db.session.commit()

    history = service.entry_history(entry)
    assert [e.kind for e in history] == [
        "proposed",
        "confirmed",
        "taken_down",
        "appeal_filed",
        "appeal_decided",
        "revoked",
    ]
    proposed, confirmed, taken, filed, decided, revoked = history
    assert proposed.actor == moderator
    assert proposed.details["decision_id"] == decision
    assert proposed.details["violation"] == "counterfeit"
    assert proposed.details["listing_title"] == "原装正品 AirPods Pro 2"
    assert proposed.details["note"] == "照片与实物不符，确认违规。"
    assert confirmed.actor == supervisor and confirmed.details["note"] == "假冒证据确凿"
    assert taken.details["listings"] == [{"id": on_sale.id, "title": "九成新 小米手环 8"}]
    assert filed.actor == seller and "发票" in filed.details["reason"]
    assert decided.actor == moderator2 and decided.details["outcome"] == "overturned"
    assert revoked.actor == moderator2
    assert revoked.details["appeal_id"] == appeal.id
    assert revoked.details["restored"] == [{"id": on_sale.id, "title": "九成新 小米手环 8"}]
    # Every step names its audit entry (the take-down is recorded with the confirmation).
    seqs = [e.audit_seq for e in history if e.kind != "taken_down"]
    assert None not in seqs and len(set(seqs)) == len(seqs)


def test_history_of_a_rejection_and_of_an_expiry(db, seller, sellers, propose, confirm, supervisor):
    rejected = trust.reject(supervisor, propose().id, "证据不足，不予确认")
    db.session.commit()
    assert [(e.kind, e.details.get("note")) for e in service.entry_history(rejected)][1] == (
        "rejected",
        "证据不足，不予确认",
    )

    ended = confirm(supervisor, propose(user=sellers[0]))
    year_ago = utcnow() - timedelta(days=366)
    _at(ended, db, proposed_at=year_ago, decided_at=year_ago, starts_at=year_ago, ends_at=utcnow() - timedelta(hours=1))
    assert service.entry_history(ended)[-1].kind == "expired"
    trust.expire_due()
    db.session.commit()
    last = service.entry_history(ended)[-1]
    assert last.kind == "expired" and last.details["marked_at"] is not None and last.audit_seq is not None


def test_proposer_may_not_review_their_own_proposal(db, moderator, supervisor, seller):
    entry = trust.propose(seller, reason="low_score", proposer=supervisor, decision_id=None)
    db.session.commit()
    assert "提议人" in service.why_not_review(supervisor, entry)
