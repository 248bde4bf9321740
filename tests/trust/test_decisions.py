"""Moderators' decisions: the risk-ordered queue, the three outcomes and the policy each one applies."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.credit import service as credit
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.listings.models import Listing
from marketplace.moderation import decisions, risk
from marketplace.moderation.models import Decision, Report
from marketplace.moderation.service import open_system_report
from marketplace.trust import redlist
from marketplace.trust.models import BlacklistEntry

NOTE = "照片与实物不符，确认违规。"


def _queue_ids(actor) -> list[int]:
    return [item.listing.id for item in risk.queue(actor)]


def _penalties(db, user) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(CreditEvent.points)
            .where(CreditEvent.user_id == user.id, CreditEvent.source == "decision")
            .order_by(CreditEvent.id)
        )
    )


def _entries(db, user) -> list[BlacklistEntry]:
    return list(db.session.scalars(sa.select(BlacklistEntry).where(BlacklistEntry.user_id == user.id)))


# --- the queue -----------------------------------------------------------------------------------------------


def test_three_reporters_put_a_listing_above_one_reported_once(db, make_listing, reporters, report, moderator):
    once = make_listing(title="小米手环 8 九成新")
    report(reporters[0], once)
    thrice = make_listing(title="华为 Mate 60 雅丹黑")
    for reporter in reporters:
        report(reporter, thrice)

    items = risk.queue(moderator)
    assert [item.listing.id for item in items] == [thrice.id, once.id]
    assert items[0].risk > items[1].risk
    assert len(items[0].reports) == 3


def test_an_inspectors_downgrade_ranks_above_a_single_users_report(db, make_listing, reporters, report, moderator):
    reported = make_listing(title="小米手环 8 九成新")
    report(reporters[0], reported)
    certified = make_listing(title="华为 Mate 60 雅丹黑")
    open_system_report(certified, "hidden_defect", "certification", {"certified_grade": "C"})
    db.session.commit()

    assert _queue_ids(moderator) == [certified.id, reported.id]


def test_a_reporter_once_found_malicious_weighs_less(db, make_listing, reporters, report, decide, moderator):
    first = make_listing(title="小米手环 8 九成新")
    second = make_listing(title="华为 Mate 60 雅丹黑")
    report(reporters[0], first)
    report(reporters[1], second)
    # Equal risk: the older report first.
    assert _queue_ids(moderator) == [first.id, second.id]

    earlier = make_listing(title="iPad Air 5 64GB")
    decide(moderator, report(reporters[0], earlier, reason="counterfeit"), "malicious", note="多次无理由举报同一卖家。")

    items = risk.queue(moderator)
    assert [item.listing.id for item in items] == [second.id, first.id]
    assert ("malicious_reporter", risk.RISK["malicious_reporter"]) in items[1].factors


def test_a_moderator_sees_no_report_on_their_own_listing_nor_on_one_they_reported(
    db, seller, make_listing, reporters, report, moderator, moderator2
):
    own = make_listing(user=moderator, title="审核员自己的旧手机")
    on_own = report(reporters[0], own)
    theirs = make_listing(title="华为 Mate 60 雅丹黑")
    report(moderator, theirs)
    report(reporters[1], theirs)

    assert _queue_ids(moderator) == []
    assert sorted(_queue_ids(moderator2)) == sorted([own.id, theirs.id])
    with pytest.raises(NotFound):
        decisions.reviewable(moderator, on_own.id)


# --- dismissed ------------------------------------------------------------------------------------------------


def test_a_dismissal_closes_only_that_report_and_tells_its_reporter(
    db, seller, make_listing, reporters, report, decide, moderator, notices_of
):
    listing = make_listing()
    dismissed, other = report(reporters[0], listing), report(reporters[1], listing)
    before = seller.credit_score

    decision = decide(moderator, dismissed, "dismissed", note="")
    db.session.expire_all()
    assert (dismissed.status, dismissed.decision_id) == ("dismissed", decision.id)
    assert other.status == "open"
    assert listing.status == "active"
    assert seller.credit_score == before
    assert decision.penalised_id is None and _penalties(db, seller) == []
    assert ("report.dismissed", "listing", listing.id) in notices_of(reporters[0])
    assert notices_of(reporters[1]) == []
    assert notices_of(seller) == []


# --- confirmed -------------------------------------------------------------------------------------------------


def test_a_confirmation_closes_every_report_penalises_takes_down_and_tells_everyone(
    db, seller, make_listing, make_order, reporters, report, decide, moderator, notices_of
):
    listing = make_listing()
    order = make_order(listing, status="accepted")
    made = [report(r, listing) for r in reporters]
    before = seller.credit_score

    decision = decide(moderator, made[1], "confirmed", "hidden_defect")
    db.session.expire_all()
    assert [(r.status, r.decision_id) for r in made] == [("confirmed", decision.id)] * 3
    assert seller.credit_score == before - policy()["penalties"]["hidden_defect"]
    assert decision.penalised_id == seller.id
    assert listing.status == "removed" and decision.took_down
    # The order that held the listing is closed, nobody's breach.
    assert (order.status, order.cancelled_by, order.breach) == ("cancelled", "moderator", False)
    assert ("decision.confirmed", "decision", decision.id) in notices_of(seller)
    for reporter in reporters:
        assert ("report.confirmed", "listing", listing.id) in notices_of(reporter)


def test_the_kth_violation_in_a_year_weighs_k_times_at_most_three(
    db, seller, make_listing, reporters, report, decide, moderator
):
    # Listed first: after two violations the seller's band allows few listings, after three none.
    listings = [make_listing(title=f"二手手机 第{n}台") for n in range(1, 5)]
    made = [report(reporters[0], listing, reason="exaggeration") for listing in listings]
    base = policy()["penalties"]["exaggeration"]

    outcome = [decide(moderator, r, "confirmed", "exaggeration") for r in made]
    assert _penalties(db, seller) == [-base, -2 * base, -3 * base, -3 * base]
    assert seller.credit_score == 600 - 9 * base
    assert [d.blacklist_entry is not None for d in outcome] == [False, False, True, False]
    # The third proposes the entry; the fourth finds it in force and proposes nothing more.
    (entry,) = _entries(db, seller)
    assert (entry.reason, entry.status, entry.decision_id) == ("repeat_violations", "pending", outcome[2].id)


def test_a_confirmed_counterfeit_proposes_a_black_list_entry(db, seller, violate, moderator, audit):
    decision = violate("counterfeit")

    entry = decision.blacklist_entry
    assert (entry.reason, entry.status, entry.user_id) == ("counterfeit", "pending", seller.id)
    assert (entry.proposed_by_id, entry.decision_id) == (moderator.id, decision.id)
    assert [a["subject_id"] for a in audit("blacklist.proposed")] == [entry.id]


def test_a_score_falling_below_300_proposes_low_score(
    db, seller, make_listing, reporters, report, decide, moderator, supervisor
):
    listing = make_listing()
    credit.adjust(supervisor, seller, -200, "测试：前期违约扣分")
    credit.adjust(supervisor, seller, -100, "测试：前期违约扣分")
    db.session.commit()
    assert seller.credit_score == 300

    decision = decide(moderator, report(reporters[0], listing), "confirmed", "hidden_defect")
    assert seller.credit_score == 300 - policy()["penalties"]["hidden_defect"]
    assert decision.blacklist_entry is not None
    assert (decision.blacklist_entry.reason, decision.blacklist_entry.status) == ("low_score", "pending")


def test_a_seller_on_the_red_list_is_withdrawn_at_once_on_a_confirmation(
    db, seller, qualify, violate, audit, make_listing
):
    qualify(seller, score=820)
    redlist.compute_edition()
    db.session.commit()
    assert redlist.on_current(seller.id)

    decision = violate("exaggeration")
    assert not redlist.on_current(seller.id)
    (withdrawn,) = audit("redlist.withdrawn")
    assert withdrawn["user_id"] == seller.id and withdrawn["actor_id"] == decision.decider_id


# --- malicious ---------------------------------------------------------------------------------------------------


def test_a_malicious_report_costs_the_reporter_and_spares_the_seller(
    db, seller, make_listing, reporters, report, decide, moderator, notices_of
):
    listing = make_listing()
    made = report(reporters[0], listing, reason="counterfeit")
    before = seller.credit_score

    decision = decide(moderator, made, "malicious", note="举报内容与商品无关，系恶意举报。")
    db.session.expire_all()
    assert made.status == "malicious"
    assert reporters[0].credit_score == 600 - policy()["penalties"]["malicious_report"]
    assert decision.penalised_id == reporters[0].id
    assert seller.credit_score == before and listing.status == "active"
    assert ("decision.malicious", "decision", decision.id) in notices_of(reporters[0])
    assert notices_of(seller) == []


def test_a_report_the_system_opened_cannot_be_found_malicious(db, make_listing, moderator):
    listing = make_listing()
    made = open_system_report(listing, "hidden_defect", "rating", {"accuracy": 2})
    db.session.commit()

    with pytest.raises(Invalid) as caught:
        decisions.decide(moderator, made.id, "malicious", None, "系统举报不能认定恶意")
    assert "outcome" in caught.value.errors
    db.session.rollback()
    assert db.session.get(Report, made.id).status == "open"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 0


# --- who may decide --------------------------------------------------------------------------------------------


def test_a_moderator_cannot_decide_a_report_on_their_own_listing(db, make_listing, reporters, report, moderator):
    made = report(reporters[0], make_listing(user=moderator, title="审核员自己的旧手机"))

    with pytest.raises(NotFound):
        decisions.decide(moderator, made.id, "dismissed", None, "")
    db.session.rollback()
    assert db.session.get(Report, made.id).status == "open"


def test_a_moderator_cannot_decide_a_report_they_filed(db, make_listing, report, moderator):
    made = report(moderator, make_listing())

    with pytest.raises(Forbidden):
        decisions.decide(moderator, made.id, "confirmed", "hidden_defect", NOTE)
    db.session.rollback()
    assert db.session.get(Report, made.id).status == "open"


def test_a_moderator_who_reported_a_listing_cannot_confirm_anothers_report_on_it(
    db, seller, make_listing, reporters, report, moderator
):
    listing = make_listing()
    report(moderator, listing)
    made = report(reporters[0], listing)

    with pytest.raises(Forbidden):
        decisions.decide(moderator, made.id, "confirmed", "hidden_defect", NOTE)
    db.session.rollback()
    assert db.session.get(Listing, listing.id).status == "active"
    assert credit.ledger(seller)[-1].code == "verification"


def test_a_non_moderator_cannot_decide(db, make_listing, reporters, report):
    made = report(reporters[0], make_listing())

    with pytest.raises(NotFound):
        decisions.decide(reporters[1], made.id, "confirmed", "hidden_defect", NOTE)


# --- once ------------------------------------------------------------------------------------------------------


def test_deciding_a_decided_report_again_is_a_conflict(
    db, seller, make_listing, reporters, report, decide, moderator, moderator2, audit
):
    made = report(reporters[0], make_listing())
    decide(moderator, made, "confirmed", "hidden_defect")
    score = seller.credit_score

    with pytest.raises(Conflict):
        decisions.decide(moderator2, made.id, "confirmed", "hidden_defect", NOTE)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1
    assert len(_penalties(db, seller)) == 1 and seller.credit_score == score
    assert len(audit("report.decided")) == 1


def test_a_report_closed_by_a_confirmation_of_another_cannot_be_decided_again(
    db, seller, make_listing, reporters, report, decide, moderator, moderator2, audit
):
    listing = make_listing()
    first, second = report(reporters[0], listing), report(reporters[1], listing)
    decide(moderator, first, "confirmed", "hidden_defect")
    score = seller.credit_score

    with pytest.raises(Conflict):
        decisions.decide(moderator2, second.id, "confirmed", "hidden_defect", NOTE)
    db.session.rollback()
    db.session.expire_all()
    assert second.status == "confirmed"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1
    assert len(_penalties(db, seller)) == 1 and seller.credit_score == score
    assert len(audit("report.decided")) == 1


# --- the record --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["dismissed", "confirmed", "malicious"])
def test_every_decision_writes_one_audit_entry_naming_its_credit_events(
    db, make_listing, reporters, report, decide, moderator, audit, outcome
):
    made = report(reporters[0], make_listing())

    decision = decide(moderator, made, outcome, "hidden_defect" if outcome == "confirmed" else None)
    (entry,) = audit("report.decided")
    events = decisions.credit_events_of(decision)
    assert len(events) == (0 if outcome == "dismissed" else 1)
    assert entry["subject_id"] == decision.id and entry["actor_id"] == moderator.id
    assert entry["outcome"] == outcome
    assert entry["credit_events"] == [e.id for e in events]


@pytest.mark.parametrize("note", ["卖家电话 13912345678，已核实", "卖家电话 139 1234 5678，已核实"])
def test_a_decision_note_with_a_full_phone_number_is_refused(db, make_listing, reporters, report, moderator, note):
    made = report(reporters[0], make_listing())

    with pytest.raises(Invalid) as caught:
        decisions.decide(moderator, made.id, "confirmed", "hidden_defect", note)
    assert list(caught.value.errors) == ["note"]
    db.session.rollback()
    assert db.session.get(Report, made.id).status == "open"


def test_a_confirmation_needs_a_reason_the_seller_can_read(db, make_listing, reporters, report, moderator):
    made = report(reporters[0], make_listing())

    with pytest.raises(Invalid) as caught:
        decisions.decide(moderator, made.id, "confirmed", "hidden_defect", "  ")
    assert "note" in caught.value.errors
