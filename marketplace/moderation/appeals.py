"""Appeals: the penalised user appeals a decision once, within the policy's days; someone else decides.

Overturning adds compensating ledger events for what the decision recorded, revokes
the black-list entries it proposed and puts back the listing it took down. Nothing
is deleted: the decision, its events and the entry stay, each with its outcome.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.credit import service as credit
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import policy
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.listings import service as listings
from marketplace.listings.models import Listing
from marketplace.moderation import decisions
from marketplace.moderation.models import Appeal, Decision, Report
from marketplace.notices.service import notify
from marketplace.text import clean_plain
from marketplace.trust import service as trust

REASON_MIN, REASON_MAX = 10, 1000
NOTE_MAX = 1000
APPEAL_OUTCOMES = ("upheld", "overturned")


def deadline(decision: Decision) -> datetime:
    """The last moment an appeal of `decision` may be filed."""
    return decision.created_at + timedelta(days=policy()["appeal_days"])


def why_not_appeal(user: User | None, decision: Decision, now: datetime | None = None) -> str | None:
    """Why `user` may not appeal `decision` now (None when they may)."""
    if user is None or user.id != decision.penalised_id:
        return _("只有被处罚的当事人可以申诉。")
    if decision.appeal is not None:
        return _("该决定已经申诉过一次，每个决定只能申诉一次。")
    if (now or utcnow()) > deadline(decision):
        return _("申诉期限（决定后 %(n)s 天内）已过。", n=policy()["appeal_days"])
    return None


def file(user: User, decision_id: int, reason: str | None) -> Appeal:
    """File the user's appeal with their reason (audited); Conflict if the decision was appealed already."""
    decision = db.session.get(Decision, decision_id)
    if decision is None or (decision.penalised_id != user.id and not user.has_role("moderator", "supervisor")):
        raise NotFound(_("找不到该审核决定。"))
    why = why_not_appeal(user, decision)
    if why is not None:
        raise (Conflict if decision.appeal is not None else Forbidden)(why)
    errors: dict[str, list[str]] = {}
    reason = clean_plain(reason, field="reason", errors=errors, max_len=REASON_MAX, required=_("请写明申诉理由"))
    if "reason" not in errors and len(reason) < REASON_MIN:
        errors["reason"] = [_("请把申诉理由写得具体一些（至少 %(n)s 个字）", n=REASON_MIN)]
    if errors:
        raise Invalid(_("请检查标出的项目。"), errors=errors)
    appeal = Appeal(decision_id=decision.id, appellant_id=user.id, reason=reason, status="pending", created_at=utcnow())
    try:
        # Once per decision: the UNIQUE index decides between two submissions at once.
        with db.session.begin_nested():
            db.session.add(appeal)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("该决定已经申诉过一次，每个决定只能申诉一次。")) from None
    record("appeal.filed", actor=user, subject_type="appeal", subject_id=appeal.id, data={"decision_id": decision.id})
    return appeal


# --- deciding ------------------------------------------------------------------------------------------


def can_decide_appeals(user: User | None) -> bool:
    """Moderators and supervisors decide appeals (never their own decision's)."""
    return bool(user and user.status == "active" and user.has_role("moderator", "supervisor"))


def why_not_decide(actor: User | None, appeal: Appeal) -> str | None:
    """Why `actor` may not decide `appeal` (None when they may)."""
    if not can_decide_appeals(actor):
        return _("只有审核员或市场监督员可以处理申诉。")
    if appeal.decision.decider_id == actor.id:
        return _("原决定人不能处理对自己决定的申诉。")
    if appeal.appellant_id == actor.id:
        return _("不能处理自己的申诉。")
    if actor.id in interested_parties(appeal.decision):
        return _("你是该举报所涉商品的卖家或举报人，请交给其他人处理。")
    return None


def interested_parties(decision: Decision) -> set[int]:
    """The seller of the listing and everyone who reported it for this decision: none of them judges the appeal."""
    reporters = db.session.scalars(
        sa.select(Report.reporter_id).where(Report.decision_id == decision.id, Report.reporter_id.is_not(None))
    )
    return {decision.listing.seller_id, *reporters}


def pending(actor: User, *, before_id: int | None = None, limit: int = 20) -> list[Appeal]:
    """Pending appeals `actor` may decide, oldest first (keyset pages by id)."""
    if not can_decide_appeals(actor):
        raise Forbidden(_("只有审核员或市场监督员可以处理申诉。"))
    reported = sa.select(Report.decision_id).where(Report.reporter_id == actor.id, Report.decision_id.is_not(None))
    query = (
        sa.select(Appeal)
        .join(Decision, Decision.id == Appeal.decision_id)
        .join(Listing, Listing.id == Decision.listing_id)
        .where(
            Appeal.status == "pending",
            Decision.decider_id != actor.id,
            Appeal.appellant_id != actor.id,
            Listing.seller_id != actor.id,
            Decision.id.not_in(reported),
        )
        .options(
            sa.orm.selectinload(Appeal.decision).selectinload(Decision.listing),
            sa.orm.selectinload(Appeal.appellant),
        )
    )
    if before_id is not None:
        query = query.where(Appeal.id > before_id)
    return list(db.session.scalars(query.order_by(Appeal.id).limit(limit)))


def get(viewer: User | None, appeal_id: int) -> Appeal:
    """An appeal its appellant, moderators or supervisors may read; NotFound otherwise."""
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or viewer is None:
        raise NotFound(_("找不到该申诉。"))
    if viewer.id != appeal.appellant_id and not can_decide_appeals(viewer):
        raise NotFound(_("找不到该申诉。"))
    return appeal


def clean_decision(outcome: str | None, note: str | None) -> tuple[str, str]:
    """Check an appeal's outcome and note; Invalid naming each field at fault (writes nothing)."""
    errors: dict[str, list[str]] = {}
    outcome = (outcome or "").strip()
    if outcome not in APPEAL_OUTCOMES:
        errors["outcome"] = [_("请选择申诉结果")]
    note = clean_plain(note, field="note", errors=errors, max_len=NOTE_MAX, required=_("请写明理由，申诉人会看到"))
    if errors:
        raise Invalid(_("请检查标出的项目。"), errors=errors)
    return outcome, note


def preview_overturn(appeal: Appeal) -> dict:
    """What overturning would undo: the appellant's standing penalties, the entries in force, the listing taken down."""
    decision = appeal.decision
    events = decisions.credit_events_of(decision)
    compensated = {e.compensates_id for e in events if e.compensates_id}
    return {
        "returned": [
            e for e in events if e.source == "decision" and e.user_id == appeal.appellant_id and e.id not in compensated
        ],
        "entries": [e for e in decisions.entries_of(decision) if e.status in ("pending", "active")],
        "restores": decision.took_down and decision.listing.status == "removed",
    }


def decide(actor: User, appeal_id: int, outcome: str | None, note: str | None) -> Appeal:
    """Uphold or overturn a pending appeal (one conditional UPDATE decides who was first); audited."""
    appeal = get(actor, appeal_id)
    why = why_not_decide(actor, appeal)
    if why is not None:
        raise Forbidden(why)
    outcome, note = clean_decision(outcome, note)
    result = db.session.execute(
        sa.update(Appeal)
        .where(Appeal.id == appeal.id, Appeal.status == "pending")
        .values(status=outcome, decider_id=actor.id, note=note, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(appeal)
    if result.rowcount != 1:
        raise Conflict(_("该申诉已被处理。"))
    compensations, revoked, restored = [], [], False
    if outcome == "overturned":
        compensations, revoked, restored = _overturn(actor, appeal)
    record(
        "appeal.decided",
        actor=actor,
        subject_type="appeal",
        subject_id=appeal.id,
        data={
            "decision_id": appeal.decision_id,
            "outcome": outcome,
            "original_decider": appeal.decision.decider_id,
            "compensations": [e.id for e in compensations],
            "revoked_entries": [e.id for e in revoked],
            "listing_restored": restored,
        },
    )
    notify(
        appeal.appellant_id,
        f"appeal.{outcome}",
        subject_type="decision",
        subject_id=appeal.decision_id,
        decision=appeal.decision_id,
    )
    return appeal


def _overturn(actor: User, appeal: Appeal) -> tuple[list[CreditEvent], list, bool]:
    decision = appeal.decision
    appellant = appeal.appellant
    # The person first, then their listings: the lock order of decisions and black-list confirmations.
    db.session.execute(sa.select(User.id).where(User.id == appellant.id).with_for_update())
    events = db.session.scalars(
        sa.select(CreditEvent)
        .where(
            CreditEvent.source == "decision",
            CreditEvent.source_id == decision.id,
            CreditEvent.user_id == appellant.id,
        )
        .order_by(CreditEvent.id)
    ).all()
    compensations = [
        credit.compensate(event, source="appeal", source_id=appeal.id, reason="申诉成立，撤销该项扣分", actor=actor)
        for event in events
    ]
    if compensations:
        # The overturned violation no longer counts towards the repeat multiplier of the later ones.
        recount = credit.recount_repeats(appellant, source="appeal", source_id=appeal.id, actor=actor)
        compensations += [recount] if recount is not None else []
    revoked = trust.revoke_for_decision(actor, decision.id, appeal_id=appeal.id)
    # Entries other decisions proposed may have rested on this one (the third violation, a score under 300).
    revoked += [
        entry
        for entry in trust.entries_in_force(appellant.id)
        if not still_founded(entry, appellant)
        and trust.revoke(actor, entry, appeal_id=appeal.id, cause="reason_no_longer_holds")
    ]
    restored = False
    if decision.took_down:
        restored = listings.restore(
            actor, decision.listing, cause=f"appeal:{appeal.id}", to=decision.took_down_from or "active"
        )
    return compensations, revoked, restored


def still_founded(entry, user: User) -> bool:
    """Whether the policy's reason for a black-list entry still holds on the user's ledger as it now stands."""
    if entry.reason == "counterfeit":
        events = credit.ledger(user)
        overturned = {e.compensates_id for e in events if e.compensates_id is not None}
        return any(e.code == "counterfeit" and e.id not in overturned for e in events)
    if entry.reason == "repeat_violations":
        standing = credit.violations_within_window(user, now=entry.proposed_at)
        return standing >= trust.rule()["violations_within_window"]
    return user.credit_score is not None and user.credit_score < trust.rule()["score_below"]
