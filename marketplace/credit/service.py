"""Credit: events go into the ledger, the score comes out of it, under the versioned policy.

score = clamp(Σ weight(event)), where a penalty older than the ageing period counts
at the policy's weight (half), and nothing else changes with time. The k-th
confirmed violation within the repeat window is recorded k times over (at most the
policy's maximum). Rewards are capped per period when they are recorded. The user's
kept `credit_score` is recomputed whenever an event is added and, for ageing
penalties, by `flask --app wsgi maintenance`; `flask --app wsgi credit recompute
--check` replays every ledger against the kept scores. Services flush, never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.credit.models import CreditEvent
from marketplace.credit.policy import band, policy
from marketplace.db import db, utcnow
from marketplace.errors import Forbidden, Invalid, NotFound
from marketplace.text import clean_plain

CODE_LABELS = {
    "verification": _l("完成实名认证"),
    "exaggeration": _l("夸大宣传"),
    "hidden_defect": _l("隐瞒关键信息"),
    "fake_transaction": _l("虚假交易或刷评价"),
    "counterfeit": _l("假冒伪劣"),
    "prohibited": _l("发布违禁物品"),
    "breach": _l("接受订单后违约"),
    "malicious_report": _l("恶意举报"),
    "no_show": _l("报名摆摊后未到场"),
    "good_rating": _l("交易获得好评"),
    "checkin": _l("参加活动签到"),
    "adjustment": _l("人工调整"),
    "compensation": _l("申诉成立，撤销扣分"),
    "recount": _l("重新计算重复违规的倍数"),
}
SOURCE_LABELS = {
    "verification": _l("实名认证"),
    "decision": _l("审核决定"),
    "order": _l("订单"),
    "rating": _l("评价"),
    "event": _l("活动"),
    "adjustment": _l("人工调整"),
    "appeal": _l("申诉"),
}


# --- the score ---------------------------------------------------------------------------


def weight(event: CreditEvent, now: datetime) -> int:
    """What one event counts for now: its points, or the aged share of an old penalty (rounded toward zero)."""
    aging = policy()["aging"]
    if event.ages and now - event.at >= timedelta(days=aging["after_days"]):
        return int(event.points * aging["weight_percent"] / 100)
    return event.points


def counts(event: CreditEvent, by_id: dict[int, CreditEvent], now: datetime) -> int:
    """What an event counts for in its ledger now: a compensation cancels exactly what its event counts for."""
    if event.compensates_id is not None and event.compensates_id in by_id:
        return -weight(by_id[event.compensates_id], now)
    return weight(event, now)


def score_of(events, now: datetime | None = None) -> int | None:
    """The score a ledger gives (None until it holds the verification event), within the policy's bounds."""
    events = list(events)
    # No score before real-name verification, even if something was recorded against the account.
    if not any(e.code == "verification" for e in events):
        return None
    now = now or utcnow()
    by_id = {e.id: e for e in events}
    total = sum(counts(e, by_id, now) for e in events)
    return max(policy()["min_score"], min(policy()["max_score"], total))


def ledger(user: User | int) -> list[CreditEvent]:
    """The user's events, oldest first."""
    user_id = getattr(user, "id", user)
    return list(
        db.session.scalars(sa.select(CreditEvent).where(CreditEvent.user_id == user_id).order_by(CreditEvent.id))
    )


def recompute(user: User, now: datetime | None = None) -> int | None:
    """Replay the user's ledger into their kept score, under the user's lock; returns it.

    The lock keeps a concurrent event from landing between the replay and the write
    (maintenance recomputes outside any request).
    """
    _lock(user)
    user.credit_score = score_of(ledger(user), now)
    db.session.flush()
    return user.credit_score


def replay_differences(now: datetime | None = None) -> list[tuple[int, int | None, int | None]]:
    """(user id, kept, replayed) for every user whose kept score differs from their ledger."""
    now = now or utcnow()
    events: dict[int, list[CreditEvent]] = {}
    for event in db.session.scalars(sa.select(CreditEvent).order_by(CreditEvent.id)):
        events.setdefault(event.user_id, []).append(event)
    differ = []
    for user_id, kept in db.session.execute(sa.select(User.id, User.credit_score).order_by(User.id)):
        replayed = score_of(events.get(user_id, []), now)
        if replayed != kept:
            differ.append((user_id, kept, replayed))
    return differ


def ageing_users(now: datetime | None = None) -> list[int]:
    """Users with a penalty old enough to count less: their kept score may be out of date."""
    cutoff = (now or utcnow()) - timedelta(days=policy()["aging"]["after_days"])
    return list(
        db.session.scalars(
            sa.select(CreditEvent.user_id).where(CreditEvent.ages.is_(True), CreditEvent.at <= cutoff).distinct()
        )
    )


# --- adding events --------------------------------------------------------------------------


def _add(user: User, code: str, points: int, source: str, source_id: int | None, reason: str, **extra) -> CreditEvent:
    event = CreditEvent(
        user_id=user.id,
        at=extra.pop("at", None) or utcnow(),
        code=code,
        points=points,
        source=source,
        source_id=source_id,
        reason=reason,
        policy_version=policy()["version"],
        **extra,
    )
    db.session.add(event)
    db.session.flush()
    recompute(user)
    return event


def _lock(user: User) -> None:
    # Events of one user are added one at a time (PostgreSQL row lock; SQLite's BEGIN IMMEDIATE
    # already serialises writers): the repeat count, the reward cap and the kept score are read
    # and written without a concurrent event slipping in between.
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())


def _recorded(user: User, code: str, source: str, source_id: int | None) -> CreditEvent | None:
    return db.session.scalar(
        sa.select(CreditEvent).where(
            CreditEvent.user_id == user.id,
            CreditEvent.code == code,
            CreditEvent.source == source,
            CreditEvent.source_id == source_id,
        )
    )


def open_account(user: User, *, source_id: int | None = None) -> CreditEvent | None:
    """The initial score when a user is first verified (once; a later re-verification adds nothing)."""
    _lock(user)
    existing = db.session.scalar(
        sa.select(CreditEvent).where(CreditEvent.user_id == user.id, CreditEvent.code == "verification")
    )
    if existing is not None:
        return None
    return _add(
        user, "verification", policy()["initial_score"], "verification", source_id, "完成实名认证，获得初始信用分。"
    )


def _compensated_ids(user: User) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(CreditEvent.compensates_id).where(
                CreditEvent.user_id == user.id, CreditEvent.compensates_id.is_not(None)
            )
        )
    )


def violations_within_window(user: User, now: datetime | None = None) -> int:
    """Confirmed violations (not overturned) of the user within the repeat window."""
    now = now or utcnow()
    since = now - timedelta(days=policy()["repeat"]["window_days"])
    rows = db.session.scalars(
        sa.select(CreditEvent.id).where(
            CreditEvent.user_id == user.id,
            CreditEvent.code.in_(policy()["violations"]),
            CreditEvent.at > since,
            CreditEvent.at <= now,
        )
    ).all()
    overturned = _compensated_ids(user)
    return sum(1 for event_id in rows if event_id not in overturned)


def penalise(
    user: User,
    code: str,
    *,
    source: str,
    source_id: int | None,
    reason: str,
    actor: User | None = None,
) -> CreditEvent:
    """Record a penalty of the policy: a violation weighs k times as the k-th within the window (capped)."""
    _lock(user)
    points = policy()["penalties"][code]
    multiplier = 1
    if code in policy()["violations"]:
        multiplier = min(violations_within_window(user) + 1, policy()["repeat"]["max_multiplier"])
    existing = _recorded(user, code, source, source_id)
    if existing is not None:
        return existing
    return _add(
        user,
        code,
        -points * multiplier,
        source,
        source_id,
        reason,
        multiplier=multiplier,
        ages=True,
        actor_id=getattr(actor, "id", None),
    )


def reward(user: User, code: str, *, source: str, source_id: int | None, reason: str) -> CreditEvent | None:
    """Record a reward of the policy, within its cap per period; None when capped, unverified or paid already."""
    rule = policy()["rewards"][code]
    _lock(user)
    if user.credit_score is None or _recorded(user, code, source, source_id) is not None:
        return None
    since = utcnow() - timedelta(days=rule["period_days"])
    earned = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CreditEvent.points), 0)).where(
            CreditEvent.user_id == user.id, CreditEvent.code == code, CreditEvent.at > since
        )
    )
    points = min(rule["points"], rule["cap"] - earned)
    if points <= 0:
        return None
    return _add(user, code, points, source, source_id, reason)


def compensate(event: CreditEvent, *, source: str, source_id: int | None, reason: str, actor: User) -> CreditEvent:
    """Cancel an event's effect with an opposite one (an appeal upheld); the original stays in the ledger."""
    user = db.session.get(User, event.user_id)
    _lock(user)
    # Once per event (also a UNIQUE index): a second compensation would cancel it twice over.
    # Checked under the user's lock, so two appeals decided at once cannot both pass.
    existing = db.session.scalar(sa.select(CreditEvent).where(CreditEvent.compensates_id == event.id))
    if existing is not None:
        return existing
    return _add(
        user,
        "compensation",
        -event.points,
        source,
        # One appeal may cancel several events: each compensation is keyed by what it cancels.
        event.id,
        f"{reason}（申诉 #{source_id}）" if source_id is not None else reason,
        compensates_id=event.id,
        actor_id=actor.id,
    )


def recount_repeats(user: User, *, source: str, source_id: int, actor: User) -> CreditEvent | None:
    """After a violation is overturned, the later ones weigh as the k-th of what still stands (one event; None if even).

    Each standing violation should weigh its base points times (1 + the standing violations
    within the repeat window before it), capped; the difference to what the ledger holds
    (its recorded penalties plus earlier recounts) is added as one `recount` event.
    """
    _lock(user)
    events = ledger(user)
    overturned = {e.compensates_id for e in events if e.compensates_id is not None}
    window = timedelta(days=policy()["repeat"]["window_days"])
    cap = policy()["repeat"]["max_multiplier"]
    standing = [e for e in events if e.code in policy()["violations"] and e.id not in overturned]
    target = 0
    for event in standing:
        before = sum(1 for other in standing if other.id < event.id and event.at - other.at < window)
        target += event.points // event.multiplier * min(before + 1, cap)
    held = sum(e.points for e in standing) + sum(e.points for e in events if e.code == "recount")
    if target == held:
        return None
    return _add(
        user,
        "recount",
        target - held,
        source,
        source_id,
        "此前的一次违规经申诉撤销，之后的违规按重新计算的次数计分。",
        ages=True,
        actor_id=actor.id,
    )


ADJUST_MAX = 200


def adjustable(actor: User, user_id: int) -> User:
    """The user whose score `actor` may adjust by hand: supervisors, anyone but themselves."""
    if not (actor.status == "active" and actor.has_role("supervisor")):
        raise Forbidden(_("只有市场监督员可以人工调整信用分。"))
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("找不到该用户。"))
    if actor.id == user.id:
        raise Forbidden(_("不能调整自己的信用分。"))
    return user


def adjust(actor: User, user: User, points, reason: str | None) -> CreditEvent:
    """A supervisor's manual adjustment, with a reason (audited)."""
    user = adjustable(actor, user.id)
    errors: dict[str, list[str]] = {}
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or abs(points) > ADJUST_MAX:
        errors["points"] = [_("调整分值须为 -%(n)s 到 %(n)s 之间的非零整数", n=ADJUST_MAX)]
    reason = (reason or "").strip()
    if not 4 <= len(reason) <= 500:
        errors["reason"] = [_("请写明调整原因（4 到 500 字）")]
    else:
        # The user reads the reason: no control characters, no full phone or ID numbers.
        reason = clean_plain(reason, field="reason", errors=errors, max_len=500)
    if user.credit_score is None:
        errors["points"] = [_("该用户尚未实名认证，没有信用分")]
    if errors:
        raise Invalid(_("请检查标出的项目。"), errors=errors)
    _lock(user)
    event = _add(user, "adjustment", points, "adjustment", None, reason, actor_id=actor.id)
    record(
        "credit.adjusted",
        actor=actor,
        subject_type="user",
        subject_id=user.id,
        data={"event_id": event.id, "points": points, "score": user.credit_score},
    )
    return event


# --- reading ------------------------------------------------------------------------------------


def can_view(viewer: User | None, user: User) -> bool:
    """The user themself, moderators and supervisors."""
    if viewer is None:
        return False
    return viewer.id == user.id or (viewer.status == "active" and viewer.has_role("moderator", "supervisor"))


def details(viewer: User | None, user_id: int) -> dict:
    """{score, band, events (newest first)} for those who may see it; NotFound for anyone else."""
    user = db.session.get(User, user_id)
    if user is None or not can_view(viewer, user):
        raise NotFound(_("找不到该用户。"))
    now = utcnow()
    events = ledger(user)
    by_id = {e.id: e for e in events}
    overturned = {e.compensates_id for e in events if e.compensates_id}
    rows = []
    for e in reversed(events):
        now_counts = counts(e, by_id, now)
        rows.append(
            {"event": e, "counts": now_counts, "aged": now_counts != e.points, "overturned": e.id in overturned}
        )
    return {"user": user, "score": user.credit_score, "band": band(user.credit_score), "events": rows}
