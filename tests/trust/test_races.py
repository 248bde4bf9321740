"""Races on the trust decisions: two people acting on the same thing at once leave one result, written once.

Each thread has its own app context, session and transaction, as two requests would.
Run on PostgreSQL too: TEST_DATABASE_URL=postgresql+psycopg://postgres@localhost/marketplace_test.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.credit import service as credit
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.moderation import appeals, decisions
from marketplace.moderation.models import Appeal, Decision
from marketplace.trust import service as trust
from marketplace.trust.models import BlacklistEntry
from tests.races import JOIN, in_thread, race

ON_POSTGRES = (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres")
REASON = "商品描述与实物一致，举报人误会了成色等级的含义。"


def _second_meanwhile(app, db, monkeypatch, first, second) -> dict:
    """Run `first` until it is about to record its penalty, start `second` meanwhile, then let both finish."""
    db.session.commit()
    reached, release = threading.Event(), threading.Event()
    original = credit.penalise

    def paused(*args, **kwargs):
        if not reached.is_set():
            reached.set()
            assert release.wait(JOIN)
        return original(*args, **kwargs)

    monkeypatch.setattr(credit, "penalise", paused)
    outcome: dict = {}
    one = in_thread(app, first, outcome, "first")
    assert reached.wait(20), outcome
    two = in_thread(app, second, outcome, "second")
    time.sleep(0.5)  # PostgreSQL: the second gets as far as it can; SQLite: it waits for the write lock
    release.set()
    one.join(JOIN)
    two.join(JOIN)
    db.session.expire_all()
    return outcome


def _count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _decision_penalties(db, user_id: int) -> list[int]:
    return sorted(
        db.session.scalars(
            sa.select(CreditEvent.points).where(CreditEvent.user_id == user_id, CreditEvent.source == "decision")
        )
    )


@pytest.mark.parametrize("rounds", [3])
def test_two_supervisors_confirming_the_same_entry_at_once(
    app, db, verified_user, make_listing, reporters, report, decide, moderator, supervisor, supervisor2, audit, rounds
):
    entry_ids = []
    for n in range(rounds):
        fake = verified_user(f"fake{n}", real_name="钱多多")
        made = report(reporters[0], make_listing(user=fake, title="名牌手表"), reason="counterfeit")
        entry = decide(moderator, made, "confirmed", "counterfeit").blacklist_entry
        ids = (entry.id, supervisor.id, supervisor2.id)

        def confirm(user_id, entry_id=ids[0]):
            return lambda s: trust.confirm(s.get(User, user_id), entry_id, "假冒商品属实")

        outcome = race(app, db, {"one": confirm(ids[1]), "two": confirm(ids[2])})
        assert sorted(outcome.values()) == ["Conflict", "ok"], outcome
        entry = db.session.get(BlacklistEntry, ids[0])
        winner = ids[1] if outcome["one"] == "ok" else ids[2]
        assert (entry.status, entry.decided_by_id) == ("active", winner)
        assert db.session.get(User, fake.id).session_version == 2
        entry_ids.append(entry.id)
    assert [a["subject_id"] for a in audit("blacklist.confirmed")] == entry_ids


def test_two_moderators_deciding_the_same_report_at_once(
    app, db, seller, make_listing, reporters, report, moderator, moderator2, audit
):
    made = report(reporters[0], make_listing())
    ids = (made.id, moderator.id, moderator2.id)

    def confirm(user_id):
        return lambda s: decisions.decide(
            s.get(User, user_id), ids[0], "confirmed", "hidden_defect", "描述与实物不符。"
        )

    outcome = race(app, db, {"one": confirm(ids[1]), "two": confirm(ids[2])})
    assert sorted(outcome.values()) == ["Conflict", "ok"], outcome
    assert _count(db, Decision) == 1
    assert len(_decision_penalties(db, seller.id)) == 1
    assert len(audit("report.decided")) == 1


def _confirm(user_id: int, report_id: int, violation: str):
    return lambda s: decisions.decide(s.get(User, user_id), report_id, "confirmed", violation, "经核实确认违规。")


def test_a_confirmation_made_while_another_on_the_same_listing_runs_is_a_conflict(
    app, db, seller, make_listing, reporters, report, moderator, moderator2, audit, monkeypatch
):
    listing = make_listing()
    first, second = report(reporters[0], listing), report(reporters[1], listing)
    ids = (first.id, second.id, moderator.id, moderator2.id)

    outcome = _second_meanwhile(
        app, db, monkeypatch, _confirm(ids[2], ids[0], "exaggeration"), _confirm(ids[3], ids[1], "exaggeration")
    )
    assert outcome == {"first": "ok", "second": "Conflict"}, outcome
    assert _count(db, Decision) == 1
    assert _decision_penalties(db, seller.id) == [-policy()["penalties"]["exaggeration"]]
    assert len(audit("report.decided")) == 1


def test_two_counterfeit_confirmations_at_once_weigh_as_two_and_propose_one_entry(
    app, db, seller, make_listing, reporters, report, moderator, moderator2, monkeypatch
):
    first = report(reporters[0], make_listing(title="名牌手表"), reason="counterfeit")
    second = report(reporters[1], make_listing(title="名牌背包"), reason="counterfeit")
    ids = (first.id, second.id, moderator.id, moderator2.id)

    outcome = _second_meanwhile(
        app, db, monkeypatch, _confirm(ids[2], ids[0], "counterfeit"), _confirm(ids[3], ids[1], "counterfeit")
    )
    assert outcome == {"first": "ok", "second": "ok"}, outcome
    # The second is the seller's second violation of the year, and finds the first one's entry in force.
    penalty = policy()["penalties"]["counterfeit"]
    assert _decision_penalties(db, seller.id) == [-2 * penalty, -penalty]
    (entry,) = db.session.scalars(sa.select(BlacklistEntry).where(BlacklistEntry.user_id == seller.id))
    assert (entry.reason, entry.status) == ("counterfeit", "pending")


@pytest.mark.parametrize("rounds", [3])
def test_two_appeals_of_the_same_decision_at_once(app, db, seller, violate, audit, rounds):
    for _ in range(rounds):
        decision = violate("hidden_defect")
        ids = (decision.id, seller.id)

        def file(decision_id=ids[0], user_id=ids[1]):
            return lambda s: appeals.file(s.get(User, user_id), decision_id, REASON)

        outcome = race(app, db, {"phone": file(), "laptop": file()})
        assert sorted(outcome.values()) == ["Conflict", "ok"], outcome
        assert _count(db, Appeal, Appeal.decision_id == ids[0]) == 1
    assert len(audit("appeal.filed")) == rounds


def test_two_people_deciding_the_same_appeal_at_once(app, db, seller, violate, moderator2, supervisor, audit):
    decision = violate("hidden_defect")
    appeal = appeals.file(seller, decision.id, REASON)
    db.session.commit()
    ids = (appeal.id, moderator2.id, supervisor.id)

    def decide(user_id, outcome_):
        return lambda s: appeals.decide(s.get(User, user_id), ids[0], outcome_, "复核后作出决定。")

    outcome = race(app, db, {"overturn": decide(ids[1], "overturned"), "uphold": decide(ids[2], "upheld")})
    assert sorted(outcome.values()) == ["Conflict", "ok"], outcome
    appeal = db.session.get(Appeal, ids[0])
    assert appeal.status == ("overturned" if outcome["overturn"] == "ok" else "upheld")
    compensations = _count(db, CreditEvent, CreditEvent.user_id == seller.id, CreditEvent.code == "compensation")
    assert compensations == (1 if appeal.status == "overturned" else 0)
    assert len(audit("appeal.decided")) == 1
