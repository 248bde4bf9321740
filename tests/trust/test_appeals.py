"""Appeals: the penalised person, within the policy's days, once; decided by someone other than the decider."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.credit import service as credit
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.moderation import appeals, decisions
from marketplace.moderation.models import Appeal, Decision
from marketplace.trust import service as trust

REASON = "商品描述与实物一致，举报人误会了成色等级的含义。"
NOTE = "复核照片后认为描述属实。"


@pytest.fixture
def confirmed(violate):
    """A confirmed hidden-defect decision against `seller`, by `moderator`."""
    return violate("hidden_defect")


@pytest.fixture
def appeal(db, seller, confirmed):
    """The seller's pending appeal of `confirmed`."""
    made = appeals.file(seller, confirmed.id, REASON)
    db.session.commit()
    return made


def _age(db, decision: Decision, age: timedelta) -> None:
    """Pretend the decision was made `age` ago."""
    db.session.execute(sa.update(Decision).where(Decision.id == decision.id).values(created_at=utcnow() - age))
    db.session.commit()
    db.session.refresh(decision)


def _appeals(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Appeal))


# --- filing ------------------------------------------------------------------------------------------------------


def test_the_penalised_seller_files_an_appeal(db, seller, confirmed, audit):
    made = appeals.file(seller, confirmed.id, REASON)
    db.session.commit()

    assert (made.status, made.appellant_id, made.decision_id) == ("pending", seller.id, confirmed.id)
    assert made.reason == REASON
    (filed,) = audit("appeal.filed")
    assert (filed["subject_id"], filed["actor_id"], filed["decision_id"]) == (made.id, seller.id, confirmed.id)


def test_nobody_else_may_appeal(db, confirmed, reporters, moderator2):
    with pytest.raises(NotFound):
        appeals.file(reporters[0], confirmed.id, REASON)
    with pytest.raises(Forbidden):
        appeals.file(moderator2, confirmed.id, REASON)
    db.session.rollback()
    assert _appeals(db) == 0


def test_a_dismissal_penalises_nobody_and_cannot_be_appealed(
    db, seller, make_listing, reporters, report, decide, moderator
):
    decision = decide(moderator, report(reporters[0], make_listing()), "dismissed", note="")

    for user in (seller, reporters[0]):
        with pytest.raises(NotFound):
            appeals.file(user, decision.id, REASON)
    db.session.rollback()
    assert _appeals(db) == 0


def test_an_appeal_is_filed_within_the_policys_days(db, seller, confirmed):
    days = policy()["appeal_days"]
    _age(db, confirmed, timedelta(days=days) - timedelta(minutes=5))
    assert appeals.why_not_appeal(seller, confirmed) is None

    made = appeals.file(seller, confirmed.id, REASON)
    db.session.commit()
    assert made.status == "pending"


def test_an_appeal_after_the_policys_days_is_refused(db, seller, confirmed):
    days = policy()["appeal_days"]
    _age(db, confirmed, timedelta(days=days, minutes=5))

    with pytest.raises(Forbidden) as caught:
        appeals.file(seller, confirmed.id, REASON)
    assert str(days) in caught.value.message
    db.session.rollback()
    assert _appeals(db) == 0


def test_a_decision_is_appealed_once(db, seller, appeal, audit):
    with pytest.raises(Conflict):
        appeals.file(seller, appeal.decision_id, "我再补充一些理由，请重新审核这件商品。")
    db.session.rollback()
    assert _appeals(db) == 1 and len(audit("appeal.filed")) == 1


@pytest.mark.parametrize("reason", [None, "", "   ", "描述属实请复核", "我的电话 13912345678，请联系我核实情况"])
def test_an_appeal_needs_a_specific_reason(db, seller, confirmed, reason):
    with pytest.raises(Invalid) as caught:
        appeals.file(seller, confirmed.id, reason)
    assert list(caught.value.errors) == ["reason"]
    db.session.rollback()
    assert _appeals(db) == 0


# --- who decides ----------------------------------------------------------------------------------------------


def test_the_original_decider_cannot_decide_the_appeal(db, appeal, moderator):
    with pytest.raises(Forbidden):
        appeals.decide(moderator, appeal.id, "upheld", NOTE)
    db.session.rollback()
    assert db.session.get(Appeal, appeal.id).status == "pending"
    assert appeals.pending(moderator) == []


def test_the_appellant_cannot_decide_their_own_appeal(
    db, make_listing, report, decide, moderator, moderator2, supervisor
):
    # A moderator's report on someone's listing is found malicious; the moderator appeals it.
    decision = decide(moderator, report(moderator2, make_listing()), "malicious", note="举报内容与商品无关。")
    made = appeals.file(moderator2, decision.id, REASON)
    db.session.commit()

    with pytest.raises(Forbidden):
        appeals.decide(moderator2, made.id, "overturned", NOTE)
    db.session.rollback()
    assert appeals.pending(moderator2) == []
    assert [a.id for a in appeals.pending(supervisor)] == [made.id]


@pytest.mark.parametrize("who", ["moderator2", "supervisor"])
def test_another_moderator_or_a_supervisor_decides(db, appeal, request, who, notices_of, seller):
    decider = request.getfixturevalue(who)
    assert [a.id for a in appeals.pending(decider)] == [appeal.id]

    appeals.decide(decider, appeal.id, "upheld", NOTE)
    db.session.commit()
    assert (appeal.status, appeal.decider_id, appeal.note) == ("upheld", decider.id, NOTE)
    assert ("appeal.upheld", "decision", appeal.decision_id) in notices_of(seller)


def test_a_resident_cannot_decide_an_appeal(db, appeal, reporters):
    with pytest.raises(NotFound):
        appeals.decide(reporters[0], appeal.id, "overturned", NOTE)


def test_an_appeal_decision_needs_an_outcome_and_a_reason(db, appeal, moderator2):
    with pytest.raises(Invalid) as caught:
        appeals.decide(moderator2, appeal.id, "maybe", "")
    assert set(caught.value.errors) == {"outcome", "note"}
    db.session.rollback()
    assert db.session.get(Appeal, appeal.id).status == "pending"


# --- upheld ------------------------------------------------------------------------------------------------------


def test_an_upheld_appeal_changes_nothing_else(db, seller, confirmed, appeal, moderator2, audit):
    score, ledger = seller.credit_score, [e.id for e in credit.ledger(seller)]

    appeals.decide(moderator2, appeal.id, "upheld", NOTE)
    db.session.commit()
    db.session.expire_all()
    assert seller.credit_score == score and [e.id for e in credit.ledger(seller)] == ledger
    assert confirmed.listing.status == "removed"
    assert credit.violations_within_window(seller) == 1
    assert audit("listing.restored") == []
    (decided,) = audit("appeal.decided")
    assert decided["outcome"] == "upheld" and decided["compensations"] == [] and not decided["listing_restored"]


# --- overturned ------------------------------------------------------------------------------------------------


def test_overturning_gives_back_exactly_the_penalty_and_the_listing(db, seller, confirmed, appeal, moderator2, audit):
    (penalty,) = decisions.credit_events_of(confirmed)
    assert credit.violations_within_window(seller) == 1

    appeals.decide(moderator2, appeal.id, "overturned", NOTE)
    db.session.commit()
    db.session.expire_all()
    assert seller.credit_score == policy()["initial_score"]
    assert credit.replay_differences() == []
    compensation = db.session.scalar(sa.select(CreditEvent).where(CreditEvent.compensates_id == penalty.id))
    assert compensation.points == -penalty.points and compensation.source == "appeal"
    assert confirmed.listing.status == "active"
    assert credit.violations_within_window(seller) == 0
    (decided,) = audit("appeal.decided")
    assert decided["outcome"] == "overturned" and decided["compensations"] == [compensation.id]
    assert decided["original_decider"] == confirmed.decider_id and decided["listing_restored"]


def test_overturning_a_repeat_violation_gives_back_its_multiplied_penalty(db, seller, violate, moderator2):
    violate("exaggeration")
    second = violate("exaggeration")
    assert decisions.credit_events_of(second)[0].points == -2 * policy()["penalties"]["exaggeration"]
    before_second = seller.credit_score + 2 * policy()["penalties"]["exaggeration"]

    made = appeals.file(seller, second.id, REASON)
    appeals.decide(moderator2, made.id, "overturned", NOTE)
    db.session.commit()
    assert seller.credit_score == before_second
    assert credit.violations_within_window(seller) == 1
    assert credit.replay_differences() == []


def test_overturning_revokes_the_entry_and_puts_back_what_it_took_down(
    db, seller, make_listing, violate, supervisor, moderator2, notices_of, audit
):
    kept = make_listing(title="小米手环 8")
    decision = violate("counterfeit")
    entry = decision.blacklist_entry
    trust.confirm(supervisor, entry.id, "假冒属实")
    db.session.commit()
    assert kept.status == "removed"

    made = appeals.file(seller, decision.id, "经品牌方鉴定为正品，附鉴定编号，请复核。")
    appeals.decide(moderator2, made.id, "overturned", "品牌方鉴定为正品。")
    db.session.commit()
    db.session.expire_all()
    assert entry.status == "revoked" and entry.closed_by_id == moderator2.id
    assert kept.status == "active" and decision.listing.status == "active"
    assert trust.in_force(seller.id) is None and trust.board() == []
    assert seller.credit_score == policy()["initial_score"]
    assert make_listing(title="申诉成立后的新商品").status == "active"
    assert ("blacklist.revoked", "decision", decision.id) in notices_of(seller)
    assert ("appeal.overturned", "decision", decision.id) in notices_of(seller)
    (revoked,) = audit("blacklist.revoked")
    assert sorted(revoked["restored"]) == sorted(entry.taken_down)


def test_overturning_a_malicious_finding_gives_the_reporter_back_their_points(
    db, make_listing, reporters, report, decide, moderator, moderator2
):
    decision = decide(moderator, report(reporters[0], make_listing()), "malicious", note="举报内容与商品无关。")
    assert reporters[0].credit_score == 600 - policy()["penalties"]["malicious_report"]

    made = appeals.file(reporters[0], decision.id, "我收到的实物确实有划痕，附有照片，请复核。")
    appeals.decide(moderator2, made.id, "overturned", NOTE)
    db.session.commit()
    assert reporters[0].credit_score == 600


def test_an_appeal_is_decided_once(db, seller, appeal, moderator2, supervisor, audit):
    appeals.decide(moderator2, appeal.id, "overturned", NOTE)
    db.session.commit()
    score = seller.credit_score

    with pytest.raises(Conflict):
        appeals.decide(supervisor, appeal.id, "upheld", "维持原决定，理由如下。")
    db.session.rollback()
    db.session.expire_all()
    assert (appeal.status, appeal.decider_id) == ("overturned", moderator2.id)
    assert seller.credit_score == score
    assert len(audit("appeal.decided")) == 1


def test_overturning_an_earlier_violation_recounts_the_later_ones(db, seller, violate, moderator2):
    base = policy()["penalties"]["exaggeration"]
    first, second, third = (violate("exaggeration") for _ in range(3))
    # As recorded: ×1, ×2, ×3.
    assert [e.points for d in (first, second, third) for e in decisions.credit_events_of(d)] == [
        -base,
        -2 * base,
        -3 * base,
    ]
    before = seller.credit_score
    appeal = appeals.file(seller, first.id, "第一件商品的描述与实物一致，举报人误解了成色等级。")
    appeals.decide(moderator2, appeal.id, "overturned", "复核后描述属实，撤销原决定。")
    db.session.commit()
    # Without the first, the second is the first of the year (×1) and the third the second (×2).
    recount = db.session.scalar(sa.select(CreditEvent).where(CreditEvent.code == "recount"))
    assert recount is not None and recount.points == (2 * base + 3 * base) - (base + 2 * base)
    assert seller.credit_score == before + base + recount.points
    assert credit.replay_differences() == []
    # A second overturn recounts from what the ledger already holds: the third alone weighs ×1.
    appeal = appeals.file(seller, second.id, "第二件商品同样描述属实，有照片为证，请再核实。")
    appeals.decide(moderator2, appeal.id, "overturned", "复核后描述属实，撤销原决定。")
    db.session.commit()
    standing = -base  # the third, as the only violation left
    ledger = credit.ledger(seller)
    violations = sum(e.points for e in ledger if e.code == "exaggeration")
    compensations = sum(e.points for e in ledger if e.code in ("compensation", "recount"))
    assert violations + compensations == standing
    assert credit.replay_differences() == []
