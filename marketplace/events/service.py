"""Events: organisers create and run them; verified users register, are checked in, swap.

Registration takes a stall with one conditional UPDATE of the event's counter (so two
people can never both get the last stall); whoever does not get one waits in line and
moves up, first come first served, when a stallholder cancels. After the event a
stallholder who neither cancelled in time nor checked in is a no-show (a small
penalty of the policy, explained, appealable once, audited); a check-in earns the
policy's reward.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.credit import service as credit
from marketplace.credit.policy import BAND_LABELS, band, policy
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.events.models import EVENT_KINDS, Event, Registration
from marketplace.identity import service as identity
from marketplace.identity.places import CAMPUSES, DISTRICTS, campus_label, district_label
from marketplace.listings import service as listings
from marketplace.listings.models import Listing
from marketplace.notices.service import notify
from marketplace.trading import check_can_trade

SHANGHAI = ZoneInfo("Asia/Shanghai")
KIND_LABELS = {
    "campus_flea": _l("校园跳蚤市场"),
    "community_swap": _l("社区换物"),
    "book_share": _l("旧书分享"),
}
assert set(KIND_LABELS) == set(EVENT_KINDS)
STATUS_LABELS = {"open": _l("报名中"), "closed": _l("报名已截止"), "cancelled": _l("已取消")}
ROLE_LABELS = {"stall": _l("摆摊"), "visitor": _l("逛集")}
REGISTRATION_STATUS_LABELS = {"registered": _l("已报名"), "waitlisted": _l("候补中"), "cancelled": _l("已取消")}
# Check-in codes: no 0/O, 1/I/L, so a code read aloud or typed from a phone is unambiguous.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
MAX_STALLS = 2000
# Listings a stallholder may show at one event.
MAX_ATTACHED = 30


def rules() -> dict:
    """The event numbers of the credit policy (hours)."""
    return policy()["events"]


# --- who may do what ------------------------------------------------------------------------


def is_organiser(user: User | None) -> bool:
    """Organisers (and admins) create events."""
    return user is not None and user.is_authenticated and (user.has_role("organiser") or user.has_role("admin"))


def can_manage(user: User | None, event: Event) -> bool:
    """The event's own organiser, or an admin, runs it."""
    if user is None or not user.is_authenticated:
        return False
    return event.organiser_id == user.id or user.has_role("admin")


def is_moderator(user: User | None) -> bool:
    return user is not None and user.is_authenticated and user.has_role("moderator")


def get(event_id: int) -> Event:
    """An event by id (every event is public, cancelled ones too); NotFound otherwise."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(_("找不到该活动。"))
    return event


def get_managed(user: User, event_id: int) -> Event:
    """An event its organiser (or an admin) may run; Forbidden for anyone else."""
    event = get(event_id)
    if not can_manage(user, event):
        raise Forbidden(_("只有本活动的组织者可以进行此操作。"))
    return event


def has_ended(event: Event, now: datetime | None = None) -> bool:
    return (now or utcnow()) >= event.ends_at


def is_live(event: Event, now: datetime | None = None) -> bool:
    """Not cancelled and not over: listings may still be brought and swaps offered."""
    return event.status != "cancelled" and not has_ended(event, now)


# --- organisers' input ---------------------------------------------------------------------


@dataclass
class EventInput:
    """What an organiser types; None leaves a field as it is on edit."""

    title: str | None = None
    kind: str | None = None
    description: str | None = None
    venue: str | None = None
    district: str | None = None
    starts_at: str | datetime | None = None
    ends_at: str | datetime | None = None
    registration_deadline: str | datetime | None = None
    stalls: int | str | None = None
    restriction: str | None = None
    campus: str | None = None


def parse_local(value: str | datetime | None) -> datetime | None:
    """A time typed in Beijing time ("2026-12-05T09:30", or ISO 8601 with an offset) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip().replace(" ", "T")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved across midnight
        raise ValueError(str(value)) from None


def _text(value: str | None, field: str, limit: int, errors: dict, required: str | None = None) -> str:
    text = " ".join((value or "").split()) if field != "description" else (value or "").strip()
    if required and not text:
        errors[field] = [required]
    elif len(text) > limit:
        errors[field] = [_("最多 %(n)s 个字", n=limit)]
    return text


def _moment(value, field: str, errors: dict, required: str) -> datetime | None:
    try:
        moment = parse_local(value)
    except ValueError:
        errors[field] = [_("时间格式应为 2026-12-05 09:30")]
        return None
    if moment is None:
        errors[field] = [required]
    return moment


def _clean(data: EventInput, current: Event | None) -> dict:
    """Every field checked; Invalid with all the field errors at once."""
    errors: dict[str, list[str]] = {}
    values: dict = {}

    def given(name: str) -> bool:
        return current is None or getattr(data, name) is not None

    if given("title"):
        values["title"] = _text(data.title, "title", 80, errors, _("请填写活动名称"))
    if given("description"):
        values["description"] = _text(data.description, "description", 4000, errors)
    if given("venue"):
        values["venue"] = _text(data.venue, "venue", 120, errors, _("请填写活动地点（如：宁夏大学怀远校区东门广场）"))
    if given("kind"):
        if data.kind not in EVENT_KINDS:
            errors["kind"] = [_("请选择活动类型")]
        values["kind"] = data.kind
    if given("district"):
        if data.district not in DISTRICTS:
            errors["district"] = [_("请选择所在区县")]
        values["district"] = data.district
    for name, required in (
        ("starts_at", _("请填写开始时间")),
        ("ends_at", _("请填写结束时间")),
        ("registration_deadline", _("请填写报名截止时间")),
    ):
        if given(name):
            values[name] = _moment(getattr(data, name), name, errors, required)
    if given("stalls"):
        try:
            stalls = int(str(data.stalls).strip())
        except (TypeError, ValueError):
            errors["stalls"] = [_("摊位数应为 0 到 %(n)s 之间的整数", n=MAX_STALLS)]
        else:
            if not 0 <= stalls <= MAX_STALLS:
                errors["stalls"] = [_("摊位数应为 0 到 %(n)s 之间的整数", n=MAX_STALLS)]
            elif current is not None and stalls < current.stalls_taken:
                errors["stalls"] = [_("已有 %(n)s 位摊主报名，摊位数不能少于这个数", n=current.stalls_taken)]
            values["stalls"] = stalls
    restriction = data.restriction if given("restriction") else current.restriction
    if restriction not in ("none", "campus", "district"):
        errors["restriction"] = [_("请选择谁可以报名")]
    values["restriction"] = restriction
    campus = (data.campus or None) if (current is None or data.campus is not None) else current.campus
    if campus is not None and campus not in CAMPUSES:
        errors["campus"] = [_("请选择学校")]
    if restriction == "campus" and campus is None:
        errors["campus"] = [_("仅限本校学生的活动须选择学校")]
    values["campus"] = campus
    kind = values.get("kind", current.kind if current else None)
    if kind == "campus_flea" and campus is None and "campus" not in errors:
        errors["campus"] = [_("校园跳蚤市场须选择举办的学校")]

    merged = {name: values.get(name, getattr(current, name, None)) for name in ("starts_at", "ends_at")}
    merged["registration_deadline"] = values.get(
        "registration_deadline", getattr(current, "registration_deadline", None)
    )
    starts, ends, deadline = merged["starts_at"], merged["ends_at"], merged["registration_deadline"]
    if starts and ends and ends <= starts and "ends_at" not in errors:
        errors["ends_at"] = [_("结束时间须晚于开始时间")]
    if starts and ends and ends - starts > timedelta(days=7) and "ends_at" not in errors:
        errors["ends_at"] = [_("一场活动最长 7 天")]
    if starts and deadline and deadline > starts and "registration_deadline" not in errors:
        errors["registration_deadline"] = [_("报名须在活动开始前截止")]
    if current is None and starts and starts <= utcnow() and "starts_at" not in errors:
        errors["starts_at"] = [_("开始时间须在将来")]
    if errors:
        raise Invalid(errors=errors)
    return values


def create(organiser: User, data: EventInput) -> Event:
    """An organiser announces an event (open for registration at once)."""
    if not is_organiser(organiser):
        raise Forbidden(_("只有活动组织者可以创建活动。"))
    values = _clean(data, None)
    event = Event(organiser_id=organiser.id, status="open", stalls_taken=0, **values)
    db.session.add(event)
    db.session.flush()
    record("event.created", actor=organiser, subject_type="event", subject_id=event.id, data={"kind": event.kind})
    return event


def edit(user: User, event: Event, data: EventInput) -> Event:
    """The organiser changes what was given; more stalls move waiting stallholders up."""
    event = lock(event.id)
    if not can_manage(user, event):
        raise Forbidden(_("只有本活动的组织者可以进行此操作。"))
    if event.status == "cancelled" or has_ended(event):
        raise Conflict(_("活动已取消或已结束，不能再修改。"))
    values = _clean(data, event)
    moved = {name: value for name, value in values.items() if getattr(event, name) != value}
    for name, value in moved.items():
        setattr(event, name, value)
    db.session.flush()
    _fill_stalls(event)
    if {"starts_at", "ends_at", "venue"} & set(moved):
        for registration in live_registrations(event):
            notify(registration.user_id, "event.changed", subject_type="event", subject_id=event.id, title=event.title)
    return event


def cancel(user: User, event: Event, reason: str | None) -> Event:
    """The organiser cancels; every participant is told why; attached listings go back to plain sale."""
    event = lock(event.id)
    if not can_manage(user, event):
        raise Forbidden(_("只有本活动的组织者可以进行此操作。"))
    text = (reason or "").strip()
    if len(text) < 4:
        raise Invalid(errors={"reason": [_("请写明取消的原因（至少 4 个字），报名的人会收到它")]})
    if event.status == "cancelled":
        raise Conflict(_("活动已经取消了。"))
    if has_ended(event):
        raise Conflict(_("活动已经结束，不能取消。"))
    event.status = "cancelled"
    event.cancel_reason = text[:500]
    for registration in live_registrations(event, include_waitlist=True):
        notify(
            registration.user_id,
            "event.cancelled",
            subject_type="event",
            subject_id=event.id,
            title=event.title,
            reason=event.cancel_reason,
        )
    # Listings locked in id order, as a swap being accepted locks them.
    db.session.execute(sa.select(Listing.id).where(Listing.event_id == event.id).order_by(Listing.id).with_for_update())
    db.session.execute(
        sa.update(Listing).where(Listing.event_id == event.id).values(event_id=None, updated_at=Listing.updated_at)
    )
    from marketplace.events.swaps import void_pending

    void_pending(event)
    record("event.cancelled", actor=user, subject_type="event", subject_id=event.id, data={"reason": text[:500]})
    db.session.flush()
    return event


def set_registration_open(user: User, event: Event, open_: bool) -> Event:
    """The organiser closes registration early (or opens it again before the deadline)."""
    event = lock(event.id)
    if not can_manage(user, event):
        raise Forbidden(_("只有本活动的组织者可以进行此操作。"))
    if event.status == "cancelled":
        raise Conflict(_("活动已取消。"))
    if open_ and utcnow() >= event.registration_deadline:
        raise Conflict(_("报名截止时间已过，请先修改截止时间。"))
    event.status = "open" if open_ else "closed"
    db.session.flush()
    return event


def lock(event_id: int) -> Event:
    """The event row, locked for this transaction on PostgreSQL (SQLite holds the write lock already)."""
    event = db.session.scalar(sa.select(Event).where(Event.id == event_id).with_for_update(of=Event))
    if event is None:
        raise NotFound(_("找不到该活动。"))
    db.session.refresh(event)
    return event


# --- lists -------------------------------------------------------------------------------------


def upcoming(
    *, kind: str | None = None, district: str | None = None, after: tuple[datetime, int] | None = None, limit: int = 20
) -> list[Event]:
    """Events not over yet, soonest first (cancelled ones included, marked), keyset-paged by (starts_at, id)."""
    query = sa.select(Event).where(Event.ends_at > utcnow())
    if kind:
        query = query.where(Event.kind == kind)
    if district:
        query = query.where(Event.district == district)
    if after is not None:
        query = query.where(sa.tuple_(Event.starts_at, Event.id) > sa.tuple_(*after))
    return list(db.session.scalars(query.order_by(Event.starts_at, Event.id).limit(limit)))


def past(
    *, kind: str | None = None, district: str | None = None, before: tuple[datetime, int] | None = None, limit: int = 20
) -> list[Event]:
    """Events that are over, latest first, keyset-paged by (starts_at, id) descending."""
    query = sa.select(Event).where(Event.ends_at <= utcnow())
    if before is not None:
        query = query.where(sa.tuple_(Event.starts_at, Event.id) < sa.tuple_(*before))
    if kind:
        query = query.where(Event.kind == kind)
    if district:
        query = query.where(Event.district == district)
    return list(db.session.scalars(query.order_by(Event.starts_at.desc(), Event.id.desc()).limit(limit)))


def in_month(year: int, month: int) -> list[Event]:
    """Every event starting in a calendar month of Beijing time (for the calendar page)."""
    start = datetime(year, month, 1, tzinfo=SHANGHAI)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=SHANGHAI)
    return list(
        db.session.scalars(
            sa.select(Event)
            .where(Event.starts_at >= start.astimezone(UTC), Event.starts_at < end.astimezone(UTC))
            .order_by(Event.starts_at, Event.id)
        )
    )


def organised_by(user: User) -> list[Event]:
    """An organiser's events, newest first."""
    return list(
        db.session.scalars(
            sa.select(Event).where(Event.organiser_id == user.id).order_by(Event.starts_at.desc(), Event.id.desc())
        )
    )


def live_registrations(event: Event, *, include_waitlist: bool = False) -> list[Registration]:
    statuses = ("registered", "waitlisted") if include_waitlist else ("registered",)
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event.id, Registration.status.in_(statuses))
            .order_by(Registration.id)
        )
    )


def registrations(event: Event) -> dict[str, list[Registration]]:
    """The organiser's view: stallholders, waiting list (in order), visitors, cancelled."""
    rows = db.session.scalars(
        sa.select(Registration).where(Registration.event_id == event.id).order_by(Registration.id)
    ).all()
    out: dict[str, list[Registration]] = {"stall": [], "waitlist": [], "visitor": [], "cancelled": []}
    for row in rows:
        if row.status == "cancelled":
            out["cancelled"].append(row)
        elif row.status == "waitlisted":
            out["waitlist"].append(row)
        else:
            out[row.role].append(row)
    return out


def my_registrations(user: User) -> list[Registration]:
    """A user's registrations, the next event first, then the past ones."""
    rows = db.session.scalars(
        sa.select(Registration).where(Registration.user_id == user.id).order_by(Registration.id.desc())
    ).all()
    now = utcnow()
    coming = sorted((r for r in rows if r.event.ends_at > now), key=lambda r: r.event.starts_at)
    return coming + [r for r in rows if r.event.ends_at <= now]


def registration_of(user: User | None, event: Event) -> Registration | None:
    """The user's live registration for the event, if any."""
    if user is None or not user.is_authenticated:
        return None
    return db.session.scalar(
        sa.select(Registration).where(
            Registration.event_id == event.id, Registration.user_id == user.id, Registration.status != "cancelled"
        )
    )


def get_registration(user: User, registration_id: int) -> Registration:
    """A registration its holder, the event's organiser or a moderator may see; NotFound for anyone else."""
    registration = db.session.get(Registration, registration_id)
    if registration is None or not (
        registration.user_id == user.id or can_manage(user, registration.event) or is_moderator(user)
    ):
        raise NotFound(_("找不到该报名。"))
    return registration


def waitlist_count(event: Event) -> int:
    """How many stallholders wait for a stall."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(Registration.event_id == event.id, Registration.status == "waitlisted")
    )


def recent_checkins(event: Event, limit: int = 10) -> list[Registration]:
    """The latest check-ins, newest first (the check-in page lists them)."""
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event.id, Registration.checked_in_at.is_not(None))
            .order_by(Registration.checked_in_at.desc(), Registration.id.desc())
            .limit(limit)
        )
    )


def waitlist_position(registration: Registration) -> int | None:
    """1 for the first in line; None when not waiting."""
    if registration.status != "waitlisted":
        return None
    ahead = db.session.scalar(
        sa.select(sa.func.count()).where(
            Registration.event_id == registration.event_id,
            Registration.status == "waitlisted",
            Registration.id < registration.id,
        )
    )
    return ahead + 1


# --- eligibility and registration ---------------------------------------------------------------


def why_not_register(user: User | None, event: Event, now: datetime | None = None) -> str | None:
    """The reason, in words, that `user` may not register for `event`; None when they may."""
    now = now or utcnow()
    if user is None or not user.is_authenticated:
        return _("请先登录。")
    if event.status == "cancelled":
        return _("活动已取消。")
    if event.status == "closed" or now >= event.registration_deadline:
        return _("报名已截止。")
    if event.organiser_id == user.id:
        return _("你是本活动的组织者，不需要报名。")
    if user.status != "active":
        return _("该账户已停用或注销，不能报名。")
    verified = identity.verified_identity(user)
    if verified is None:
        return _("报名活动需要先完成实名认证。")
    try:
        check_can_trade(user)
    except Forbidden as refusal:
        return refusal.message
    code = band(user.credit_score)
    limits = policy().get("limits", {}).get(code) if code else None
    if limits and limits.get("can_register_events", True) is False:
        return _(
            "你的信用分为 %(score)s，处于“%(band)s”档：暂时不能报名活动。请在“我的信用”中查看每一条扣分的原因。",
            score=user.credit_score,
            band=BAND_LABELS[code],
        )
    if event.restriction == "campus":
        campus = verified.campus if verified.kind == "student" else None
        if campus != event.campus:
            return _(
                "本活动仅限已认证的%(campus)s学生报名；你的实名认证不是该校学生身份。",
                campus=campus_label(event.campus),
            )
    if event.restriction == "district" and identity.resident_district(user) != event.district:
        return _(
            "本活动仅限户籍在%(district)s的居民报名（按实名认证的身份证号判断）。",
            district=district_label(event.district),
        )
    return None


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _take_stall(event_id: int) -> bool:
    # One conditional UPDATE: the database decides who gets the last stall.
    result = db.session.execute(
        sa.update(Event)
        .where(Event.id == event_id, Event.stalls_taken < Event.stalls)
        .values(stalls_taken=Event.stalls_taken + 1, updated_at=Event.updated_at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def register(user: User, event_id: int, role: str) -> Registration:
    """Register as a stallholder (a stall, else the waiting list) or a visitor; Forbidden with the reason."""
    if role not in ("stall", "visitor"):
        raise Invalid(errors={"role": [_("请选择摆摊或逛集")]})
    event = get(event_id)
    reason = why_not_register(user, event)
    if reason:
        raise Forbidden(reason)
    if registration_of(user, event) is not None:
        raise Conflict(_("你已经报名了这个活动。"))
    status = "registered"
    if role == "stall" and not _take_stall(event.id):
        status = "waitlisted"
    registration = Registration(
        event_id=event.id, user_id=user.id, role=role, status=status, checkin_code=_new_code(), created_at=utcnow()
    )
    try:
        with db.session.begin_nested():
            db.session.add(registration)
            db.session.flush()
    except sa.exc.IntegrityError:
        # The same person twice at once (two tabs): the other request registered them.
        raise Conflict(_("你已经报名了这个活动。")) from None
    db.session.refresh(event)
    return registration


def cancel_registration(user: User, registration: Registration, now: datetime | None = None) -> Registration:
    """The participant cancels; a freed stall goes to the first in line. Late cancellations are said to count."""
    now = now or utcnow()
    if registration.user_id != user.id:
        raise Forbidden(_("只能取消自己的报名。"))
    event = registration.event
    if registration.checked_in_at is not None:
        raise Conflict(_("你已经签到，不能再取消报名。"))
    if now >= event.ends_at:
        raise Conflict(_("活动已经结束。"))
    was = registration.status
    if was == "cancelled":
        raise Conflict(_("这个报名已经取消了。"))
    result = db.session.execute(
        sa.update(Registration)
        .where(
            Registration.id == registration.id,
            # As read: a waiting stallholder promoted meanwhile holds a stall to give back.
            Registration.status == was,
            Registration.checked_in_at.is_(None),
        )
        .values(
            status="cancelled",
            cancelled_at=now,
            # A stall given up too late counts as a no-show when the event is settled.
            late_cancellation=registration.role == "stall"
            and was == "registered"
            and is_late_cancellation(registration, now),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(registration)
    if result.rowcount != 1:
        if registration.status != "cancelled" and registration.checked_in_at is None:
            return cancel_registration(user, registration, now)  # promoted meanwhile: again, as it is now
        raise Conflict(
            _("这个报名已经取消了。") if registration.status == "cancelled" else _("你已经签到，不能再取消报名。")
        )
    if registration.role == "stall" and was == "registered":
        _give_back_stall(event.id)
        mine = (Listing.event_id == event.id, Listing.seller_id == user.id, Listing.status == "active")
        db.session.execute(sa.select(Listing.id).where(*mine).order_by(Listing.id).with_for_update())
        db.session.execute(
            sa.update(Listing)
            .where(Listing.event_id == event.id, Listing.seller_id == user.id, Listing.status == "active")
            .values(event_id=None, updated_at=Listing.updated_at)
        )
        if event.status != "cancelled":
            _fill_stalls(event)
    if was == "registered":
        from marketplace.events.swaps import void_pending

        void_pending(event, user)
    db.session.refresh(event)
    return registration


def is_late_cancellation(registration: Registration, when: datetime | None = None) -> bool:
    """Whether cancelling now (or at `when`) is too late to avoid counting as a no-show."""
    hours = rules()["no_show_cancel_hours"]
    return (when or utcnow()) > registration.event.starts_at - timedelta(hours=hours)


def _give_back_stall(event_id: int) -> None:
    db.session.execute(
        sa.update(Event)
        .where(Event.id == event_id, Event.stalls_taken > 0)
        .values(stalls_taken=Event.stalls_taken - 1, updated_at=Event.updated_at)
        .execution_options(synchronize_session=False)
    )


def _fill_stalls(event: Event) -> None:
    """Move waiting stallholders up, first come first served, while there are free stalls.

    The stall is taken first (the UPDATE locks the event row), then the first in line is
    read: two cancellations at once cannot both promote the same person.
    """
    while _take_stall(event.id):
        first = db.session.scalar(
            sa.select(Registration)
            .where(Registration.event_id == event.id, Registration.status == "waitlisted")
            .order_by(Registration.id)
            .limit(1)
        )
        if first is None:
            _give_back_stall(event.id)
            break
        result = db.session.execute(
            sa.update(Registration)
            .where(Registration.id == first.id, Registration.status == "waitlisted")
            .values(status="registered", promoted_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            _give_back_stall(event.id)
            continue
        db.session.refresh(first)
        notify(first.user_id, "event.promoted", subject_type="event", subject_id=event.id, title=event.title)
    db.session.refresh(event)


# --- at the event --------------------------------------------------------------------------------


def checkin_window(event: Event) -> tuple[datetime, datetime]:
    """When the organiser may check people in: from a little before the start to a little after the end."""
    opens = event.starts_at - timedelta(hours=rules()["checkin_opens_hours"])
    return opens, event.ends_at + timedelta(hours=rules()["checkin_closes_hours"])


def normalise_code(code: str | None) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def check_in(organiser: User, event: Event, code: str | None, now: datetime | None = None) -> Registration:
    """The organiser checks a participant in by their code; the check-in reward is paid once."""
    now = now or utcnow()
    if not can_manage(organiser, event):
        raise Forbidden(_("只有本活动的组织者可以签到。"))
    if event.status == "cancelled":
        raise Conflict(_("活动已取消。"))
    opens, closes = checkin_window(event)
    if not opens <= now <= closes:
        raise Conflict(
            _(
                "现在不在签到时间内（活动开始前 %(h)s 小时起，到结束后 %(h2)s 小时）。",
                h=rules()["checkin_opens_hours"],
                h2=rules()["checkin_closes_hours"],
            )
        )
    value = normalise_code(code)
    if len(value) != CODE_LENGTH:
        raise Invalid(errors={"checkin_code": [_("签到码是 %(n)s 位字母和数字", n=CODE_LENGTH)]})
    registration = db.session.scalar(
        sa.select(Registration).where(Registration.event_id == event.id, Registration.checkin_code == value)
    )
    if registration is None:
        raise NotFound(_("这个签到码不属于本活动。"))
    if registration.status == "cancelled":
        raise Conflict(_("这个报名已经取消了。"))
    if registration.status == "waitlisted":
        raise Conflict(_("这位摊主还在候补名单上，没有摊位。"))
    result = db.session.execute(
        sa.update(Registration)
        .where(Registration.id == registration.id, Registration.checked_in_at.is_(None))
        .values(checked_in_at=now, checked_in_by=organiser.id)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(registration)
    if result.rowcount != 1:
        raise Conflict(_("已经签到过了。"))
    user = db.session.get(User, registration.user_id)
    credit.reward(
        user,
        "checkin",
        source="event",
        source_id=registration.id,
        reason=_("参加活动“%(title)s”并签到", title=event.title),
    )
    return registration


# --- listings brought to an event ------------------------------------------------------------------


def why_not_bring(user: User, event: Event) -> str | None:
    """Whether `user` may bring listings to `event`: a stallholder with a stall, before it ends."""
    if not is_live(event):
        return _("活动已取消或已结束。")
    registration = registration_of(user, event)
    if registration is None or registration.role != "stall":
        return _("只有报名摆摊的摊主可以把商品带到活动。")
    if registration.status != "registered":
        return _("你还在候补名单上，有了摊位才能把商品带到活动。")
    return None


@listings.register_event_check
def _listing_event_check(user: User, event_id: int) -> str | None:
    event = db.session.get(Event, event_id)
    if event is None:
        return _("找不到该活动")
    return why_not_bring(user, event)


def attach(user: User, event: Event, listing_ids: list[int]) -> list[Listing]:
    """A stallholder brings their active listings to the event (the "at the event" badge)."""
    reason = why_not_bring(user, event)
    if reason:
        raise Forbidden(reason)
    ids = sorted({int(i) for i in listing_ids})
    if not ids:
        raise Invalid(errors={"listing_ids": [_("请选择要带到活动的商品")]})
    rows = db.session.scalars(sa.select(Listing).where(Listing.id.in_(ids))).all()
    if len(rows) != len(ids) or any(row.seller_id != user.id for row in rows):
        raise Invalid(errors={"listing_ids": [_("只能带自己的商品")]})
    if any(row.status != "active" for row in rows):
        raise Invalid(errors={"listing_ids": [_("只能带在售的商品")]})
    already = db.session.scalar(
        sa.select(sa.func.count()).where(Listing.event_id == event.id, Listing.seller_id == user.id)
    )
    if already + sum(1 for row in rows if row.event_id != event.id) > MAX_ATTACHED:
        raise Invalid(errors={"listing_ids": [_("每位摊主最多带 %(n)s 件商品", n=MAX_ATTACHED)]})
    for row in rows:
        row.event_id = event.id
    db.session.flush()
    return list(rows)


def detach(user: User, listing: Listing) -> Listing:
    """The seller takes a listing back from the event (it stays on sale)."""
    if listing.seller_id != user.id:
        raise Forbidden(_("只有卖家本人可以进行此操作。"))
    if listing.event_id is None:
        raise Conflict(_("这件商品没有带到活动。"))
    listing.event_id = None
    db.session.flush()
    return listing


def attached(user: User, event: Event) -> list[Listing]:
    """The user's own listings at the event."""
    return list(
        db.session.scalars(
            sa.select(Listing)
            .where(Listing.event_id == event.id, Listing.seller_id == user.id)
            .order_by(Listing.id.desc())
        )
    )


def attachable(user: User, event: Event) -> list[Listing]:
    """The user's active listings not at this event yet."""
    return list(
        db.session.scalars(
            sa.select(Listing)
            .where(
                Listing.seller_id == user.id,
                Listing.status == "active",
                sa.or_(Listing.event_id.is_(None), Listing.event_id != event.id),
            )
            .order_by(Listing.id.desc())
            .limit(100)
        )
    )
