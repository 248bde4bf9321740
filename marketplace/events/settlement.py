"""After an event: no-shows settled once (a small penalty, explained), and their one appeal."""

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
from marketplace.events.models import Event, Registration
from marketplace.events.service import can_manage, is_moderator, rules
from marketplace.notices.service import notify


def is_no_show(registration: Registration) -> bool:
    """A stallholder with a stall who neither checked in nor cancelled at least 24 hours ahead."""
    if registration.role != "stall" or registration.checked_in_at is not None:
        return False
    return registration.status == "registered" or (
        registration.status == "cancelled" and registration.late_cancellation
    )


def settle(event: Event, now: datetime | None = None) -> int:
    """Once, after the event: mark no-shows and record their penalty (explained, appealable). Returns how many."""
    now = now or utcnow()
    if event.status == "cancelled" or now < event.ends_at + timedelta(hours=rules()["settle_after_hours"]):
        return 0
    result = db.session.execute(
        sa.update(Event)
        .where(Event.id == event.id, Event.settled_at.is_(None))
        .values(settled_at=now, updated_at=Event.updated_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return 0
    rows = db.session.scalars(
        sa.select(Registration).where(Registration.event_id == event.id, Registration.role == "stall")
    ).all()
    count = 0
    for registration in rows:
        if not is_no_show(registration):
            continue
        registration.no_show = True
        user = db.session.get(User, registration.user_id)
        if user.credit_score is not None:
            credit.penalise(
                user,
                "no_show",
                source="event",
                source_id=registration.id,
                reason=_("报名在“%(title)s”摆摊，既未提前 24 小时取消，也未签到", title=event.title),
            )
        notify(
            registration.user_id,
            "event.no_show",
            subject_type="registration",
            subject_id=registration.id,
            title=event.title,
            points=policy()["penalties"]["no_show"],
            days=policy()["appeal_days"],
        )
        record(
            "event.no_show",
            subject_type="registration",
            subject_id=registration.id,
            data={"event_id": event.id, "user_id": registration.user_id},
        )
        count += 1
    db.session.flush()
    return count


def due_for_settlement(now: datetime | None = None, limit: int = 200) -> list[int]:
    """Ids of events over (plus the grace hours) and not settled yet."""
    now = now or utcnow()
    cutoff = now - timedelta(hours=rules()["settle_after_hours"])
    return list(
        db.session.scalars(
            sa.select(Event.id)
            .where(Event.settled_at.is_(None), Event.status != "cancelled", Event.ends_at <= cutoff)
            .order_by(Event.id)
            .limit(limit)
        )
    )


# --- appeals of a no-show --------------------------------------------------------------------------


def appeal_deadline(registration: Registration) -> datetime | None:
    settled = registration.event.settled_at
    return settled + timedelta(days=policy()["appeal_days"]) if settled else None


def can_appeal(user: User | None, registration: Registration, now: datetime | None = None) -> bool:
    """The no-show themself, once, within the appeal days of the settlement."""
    deadline = appeal_deadline(registration)
    return (
        user is not None
        and registration.user_id == user.id
        and registration.no_show
        and registration.appeal_status is None
        and deadline is not None
        and (now or utcnow()) <= deadline
    )


def appeal(user: User, registration: Registration, reason: str | None) -> Registration:
    """The stallholder explains (illness, the weather...); the organiser or a moderator decides."""
    if registration.user_id != user.id:
        raise NotFound(_("找不到该报名。"))
    if not registration.no_show:
        raise Conflict(_("这个报名没有被记为缺席，不需要申诉。"))
    text = (reason or "").strip()
    if len(text) < 10:
        raise Invalid(errors={"reason": [_("请写明原因（至少 10 个字）")]})
    if registration.appeal_status is not None:
        raise Conflict(_("每次缺席只能申诉一次。"))
    if not can_appeal(user, registration):
        raise Conflict(_("申诉期已过（结算后 %(days)s 天内）。", days=policy()["appeal_days"]))
    result = db.session.execute(
        sa.update(Registration)
        .where(Registration.id == registration.id, Registration.appeal_status.is_(None))
        .values(appeal_status="pending", appeal_reason=text[:2000], appeal_filed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(_("每次缺席只能申诉一次。"))
    db.session.refresh(registration)
    event = registration.event
    notify(event.organiser_id, "event.no_show_appealed", subject_type="event", subject_id=event.id, title=event.title)
    record("event.no_show_appealed", actor=user, subject_type="registration", subject_id=registration.id)
    return registration


def can_decide(user: User | None, registration: Registration) -> bool:
    """The event's organiser or a moderator, never the appellant."""
    if user is None or registration.appeal_status != "pending" or registration.user_id == user.id:
        return False
    return can_manage(user, registration.event) or is_moderator(user)


def pending_appeals(event: Event) -> list[Registration]:
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event.id, Registration.appeal_status == "pending")
            .order_by(Registration.appeal_filed_at)
        )
    )


def decide(actor: User, registration: Registration, outcome: str, note: str | None) -> Registration:
    """Excused: the penalty is compensated (the event stays in the ledger); upheld: it stands."""
    if outcome not in ("excused", "upheld"):
        raise Invalid(errors={"outcome": [_("请选择免除或维持")]})
    if registration.appeal_status != "pending":
        raise Conflict(_("这项申诉已经处理过了。"))
    if not can_decide(actor, registration):
        raise Forbidden(_("只有活动组织者或审核员可以处理缺席申诉，且不能处理自己的申诉。"))
    text = (note or "").strip()[:1000]
    result = db.session.execute(
        sa.update(Registration)
        .where(Registration.id == registration.id, Registration.appeal_status == "pending")
        .values(appeal_status=outcome, appeal_decided_by=actor.id, appeal_note=text)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(_("这项申诉已经处理过了。"))
    db.session.refresh(registration)
    if outcome == "excused":
        penalty = db.session.scalar(
            sa.select(CreditEvent).where(
                CreditEvent.user_id == registration.user_id,
                CreditEvent.code == "no_show",
                CreditEvent.source == "event",
                CreditEvent.source_id == registration.id,
            )
        )
        if penalty is not None:
            credit.compensate(
                penalty,
                source="event",
                source_id=None,
                reason=_("缺席申诉成立：%(title)s", title=registration.event.title),
                actor=actor,
            )
    notify(
        registration.user_id,
        f"event.no_show_{outcome}",
        subject_type="registration",
        subject_id=registration.id,
        title=registration.event.title,
    )
    record(
        "event.no_show_decided",
        actor=actor,
        subject_type="registration",
        subject_id=registration.id,
        data={"outcome": outcome},
    )
    return registration
