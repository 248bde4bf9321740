"""The black list: proposed by a moderator's decision, confirmed or rejected by a second person, expiring.

A proposal suspends the user from trading at once (the gate registered below); a
supervisor other than the proposer confirms it (one conditional UPDATE whose row
count is checked: two supervisors confirming at once, one wins) or rejects it. A
confirmed entry lasts the policy's months (more for a counterfeit), takes down the
user's listings on sale and ends their sessions; it expires on its own (reads
compare `ends_at`; maintenance marks it expired). An overturned appeal revokes it
and puts the listings back. Every change is audited and the user is told why.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import User
from marketplace.accounts.service import end_all_sessions
from marketplace.audit.service import record
from marketplace.credit.policy import policy
from marketplace.db import db, utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity.masking import mask_name
from marketplace.identity.service import masked_real_names, register_list_status
from marketplace.listings import service as listings
from marketplace.listings.models import Listing
from marketplace.notices.service import notify
from marketplace.text import clean_plain
from marketplace.trading import register_gate
from marketplace.trust import redlist
from marketplace.trust.models import BlacklistEntry

REASON_LABELS = {
    "counterfeit": _l("销售假冒伪劣商品"),
    "low_score": _l("信用分低于 300 分"),
    "repeat_violations": _l("一年内第三次确认违规"),
}
STATUS_LABELS = {
    "pending": _l("待复核"),
    "active": _l("生效中"),
    "rejected": _l("未确认"),
    "revoked": _l("已撤销"),
    "expired": _l("已到期"),
    "superseded": _l("已被更长的记录取代"),
}
NOTE_MAX = 500


def rule() -> dict:
    """The black-list numbers of the policy file."""
    return policy()["blacklist"]


def local_date(moment: datetime) -> str:
    """The calendar day of `moment` where the market is (the pages show the same day)."""
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date().isoformat()


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later (the month's last day when the day does not exist)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


# --- who may do what ---------------------------------------------------------------------------


def is_supervisor(user: User | None) -> bool:
    """Active market supervisors confirm, reject and audit entries."""
    return bool(user and user.status == "active" and user.has_role("supervisor"))


def _require_supervisor(actor: User) -> None:
    if not is_supervisor(actor):
        raise Forbidden(_("只有市场监督员可以复核黑名单。"))


# --- reading --------------------------------------------------------------------------------------


def _in_force_at(now: datetime):
    """Pending, or active and not yet ended at `now`."""
    return sa.or_(
        BlacklistEntry.status == "pending",
        sa.and_(BlacklistEntry.status == "active", BlacklistEntry.ends_at > now),
    )


def in_force(user_id: int, now: datetime | None = None) -> BlacklistEntry | None:
    """The user's pending or active, unexpired entry, if any."""
    return db.session.scalar(
        sa.select(BlacklistEntry)
        .where(BlacklistEntry.user_id == user_id, _in_force_at(now or utcnow()))
        .order_by(BlacklistEntry.id.desc())
        .limit(1)
    )


def in_force_by_user(user_ids, now: datetime | None = None) -> dict[int, BlacklistEntry]:
    """{user id: their entry in force} for many users in one query: `in_force` for a page of people."""
    user_ids = set(user_ids)
    if not user_ids:
        return {}
    rows = db.session.scalars(
        sa.select(BlacklistEntry)
        .where(BlacklistEntry.user_id.in_(user_ids), _in_force_at(now or utcnow()))
        .order_by(BlacklistEntry.id)
    )
    return {entry.user_id: entry for entry in rows}  # ascending ids: each user's newest is kept


@register_gate
def trading_gate(user: User) -> None:
    """Refuse trading to a user with an entry in force, saying why and what they can do."""
    entry = in_force(user.id)
    if entry is None:
        return
    if entry.status == "pending":
        raise Forbidden(
            _(
                "你的账户因“%(reason)s”被提议列入黑名单，在市场监督员复核前暂停交易。"
                "你可以在“我的信用”中查看原因，并对相关审核决定提出申诉。",
                reason=REASON_LABELS[entry.reason],
            )
        )
    raise Forbidden(
        _(
            "你的账户因“%(reason)s”被列入黑名单，%(ends)s 前不能发布商品、下单或报名活动。"
            "你可以在“我的信用”中查看原因，并对相关审核决定提出申诉。",
            reason=REASON_LABELS[entry.reason],
            ends=local_date(entry.ends_at),
        )
    )


@register_list_status
def _list_status(user: User) -> str | None:
    # A pending proposal suspends trading; the profile says "black" only once a second person confirmed it.
    entry = in_force(user.id)
    if entry is not None:
        return "black" if entry.status == "active" else "suspended"
    return "red" if redlist.on_current(user.id) else None


def get(entry_id: int) -> BlacklistEntry:
    """An entry by id; NotFound when there is none."""
    entry = db.session.get(BlacklistEntry, entry_id)
    if entry is None:
        raise NotFound(_("找不到该黑名单记录。"))
    return entry


def pending(actor: User) -> list[BlacklistEntry]:
    """Entries waiting for a supervisor, oldest first."""
    _require_supervisor(actor)
    return list(
        db.session.scalars(
            sa.select(BlacklistEntry).where(BlacklistEntry.status == "pending").order_by(BlacklistEntry.id)
        )
    )


def masked_names(users) -> dict[int, str]:
    """{user id: the name the public boards show}: the masked real name, else the masked display name."""
    users = list(users)
    real = masked_real_names({u.id for u in users})
    return {u.id: real.get(u.id) or mask_name(u.display_name) or "*" for u in users}


def masked_name(user: User) -> str:
    """The name the public boards show for one user."""
    return masked_names([user])[user.id]


def board(*, before_id: int | None = None, limit: int = 50, now: datetime | None = None) -> list[BlacklistEntry]:
    """The public black board: active, unexpired entries, newest first (keyset pages by id)."""
    now = now or utcnow()
    query = (
        sa.select(BlacklistEntry)
        .where(BlacklistEntry.status == "active", BlacklistEntry.ends_at > now)
        .options(sa.orm.selectinload(BlacklistEntry.user))
    )
    if before_id is not None:
        query = query.where(BlacklistEntry.id < before_id)
    return list(db.session.scalars(query.order_by(BlacklistEntry.id.desc()).limit(limit)))


def public_rows(entries: list[BlacklistEntry]) -> list[dict]:
    """What the public may read about entries: masked name, reason category and dates."""
    names = masked_names(entry.user for entry in entries)
    return [
        {
            "id": entry.id,
            "display_name": names[entry.user_id],
            "reason_category": entry.reason,
            "starts_at": entry.starts_at,
            "ends_at": entry.ends_at,
        }
        for entry in entries
    ]


# --- changing ----------------------------------------------------------------------------------------


def _lock_user(user_id: int) -> None:
    # One proposal at a time per user (PostgreSQL row lock; SQLite serialises writers already).
    db.session.execute(sa.select(User.id).where(User.id == user_id).with_for_update())


def propose(user: User, *, reason: str, proposer: User, decision_id: int | None) -> BlacklistEntry | None:
    """Propose an entry for `user` (the account is suspended from trading at once); None if one is in force."""
    if reason not in REASON_LABELS:
        raise ValueError(f"unknown black-list reason {reason!r}")
    _lock_user(user.id)
    existing = in_force(user.id)
    if existing is not None:
        if reason == "counterfeit" and existing.reason != "counterfeit" and existing.status == "pending":
            return _escalate(existing, proposer, decision_id)
        if reason != "counterfeit" or existing.reason == "counterfeit":
            return None
        # An active, shorter entry: a counterfeit is proposed beside it (a supervisor confirms it, which
        # supersedes the shorter one), so the longer term is never applied by one person.
    entry = BlacklistEntry(
        user_id=user.id,
        decision_id=decision_id,
        reason=reason,
        status="pending",
        proposed_at=utcnow(),
        proposed_by_id=proposer.id,
        taken_down=[],
    )
    db.session.add(entry)
    db.session.flush()
    record(
        "blacklist.proposed",
        actor=proposer,
        subject_type="blacklist_entry",
        subject_id=entry.id,
        data={"user_id": user.id, "reason": reason, "decision_id": decision_id},
    )
    _tell(entry, "blacklist.proposed")
    return entry


def _escalate(entry: BlacklistEntry, proposer: User, decision_id: int | None) -> BlacklistEntry:
    """A pending entry becomes a counterfeit one (the longer term), still for a supervisor to confirm; audited."""
    before = {"reason": entry.reason, "decision_id": entry.decision_id}
    entry.reason, entry.decision_id = "counterfeit", decision_id
    db.session.flush()
    record(
        "blacklist.escalated",
        actor=proposer,
        subject_type="blacklist_entry",
        subject_id=entry.id,
        data={"user_id": entry.user_id, "reason": "counterfeit", "decision_id": decision_id, "before": before},
    )
    return entry


def _tell(entry: BlacklistEntry, kind: str, **params) -> None:
    # The user reads about it on the decision that caused it (where the appeal is).
    if entry.decision_id is not None:
        notify(entry.user_id, kind, subject_type="decision", subject_id=entry.decision_id, **params)
    else:
        notify(entry.user_id, kind, **params)


def _clean_note(note: str | None, *, required: bool) -> str:
    errors: dict[str, list[str]] = {}
    note = (note or "").strip()
    if required and len(note) < 4:
        errors["note"] = [_("请写明理由（至少 4 个字）")]
    elif note:
        note = clean_plain(note, field="note", errors=errors, max_len=NOTE_MAX)
    if errors:
        raise Invalid(_("请检查标出的项目。"), errors=errors)
    return note


def why_not_decide(actor: User | None, entry: BlacklistEntry) -> str | None:
    """Why `actor` may not confirm or reject `entry` (None when they may): two people, never about oneself."""
    if not is_supervisor(actor):
        return _("只有市场监督员可以复核黑名单。")
    if entry.proposed_by_id == actor.id:
        return _("提议人不能复核自己提出的黑名单（须由另一人确认）。")
    if entry.user_id == actor.id:
        return _("不能复核关于自己的黑名单记录。")
    return None


def _decide(actor: User, entry_id: int, status: str, note: str, **values) -> BlacklistEntry:
    """pending → `status`, by a supervisor who did not propose it: one conditional UPDATE."""
    entry = get(entry_id)
    why = why_not_decide(actor, entry)
    if why is not None:
        raise Forbidden(why)
    result = db.session.execute(
        sa.update(BlacklistEntry)
        .where(
            BlacklistEntry.id == entry.id,
            BlacklistEntry.status == "pending",
            BlacklistEntry.proposed_by_id.is_distinct_from(actor.id),
        )
        .values(status=status, decided_by_id=actor.id, decided_at=utcnow(), decision_note=note or None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(entry)
    if result.rowcount != 1:
        raise Conflict(_("该黑名单记录已%(status)s，不能再复核。", status=STATUS_LABELS[entry.state(utcnow())]))
    return entry


def confirm(actor: User, entry_id: int, note: str | None = None) -> BlacklistEntry:
    """A supervisor (not the proposer) confirms: the entry starts, listings come down, sessions end."""
    _require_supervisor(actor)
    note = _clean_note(note, required=False)
    now = utcnow()
    entry = get(entry_id)
    # The person first, then their listings: the order decisions and appeals lock in too.
    _lock_user(entry.user_id)
    months = rule()["counterfeit_months"] if entry.reason == "counterfeit" else rule()["months"]
    entry = _decide(actor, entry_id, "active", note, starts_at=now, ends_at=add_months(now, months))
    taken = [
        listing.id
        for listing in listings.on_sale_of(entry.user_id)
        if listings.take_down(actor, listing, cause=f"blacklist:{entry.id}")
    ]
    entry.taken_down = taken
    superseded = list(
        db.session.scalars(
            sa.update(BlacklistEntry)
            .where(
                BlacklistEntry.user_id == entry.user_id,
                BlacklistEntry.id != entry.id,
                BlacklistEntry.status == "active",
            )
            .values(status="superseded", closed_at=now, closed_by_id=actor.id)
            .returning(BlacklistEntry.id)
            .execution_options(synchronize_session=False)
        )
    )
    end_all_sessions(entry.user)
    db.session.flush()
    record(
        "blacklist.confirmed",
        actor=actor,
        subject_type="blacklist_entry",
        subject_id=entry.id,
        data={
            "user_id": entry.user_id,
            "reason": entry.reason,
            "proposed_by": entry.proposed_by_id,
            "ends_at": entry.ends_at.isoformat(),
            "taken_down": taken,
            "superseded": superseded,
        },
    )
    _tell(entry, "blacklist.confirmed", ends=local_date(entry.ends_at))
    redlist.withdraw(entry.user_id, actor=actor, reason=f"列入黑名单 #{entry.id}")
    return entry


def reject(actor: User, entry_id: int, note: str | None) -> BlacklistEntry:
    """A supervisor (not the proposer) rejects a proposal, with a reason: the suspension ends."""
    _require_supervisor(actor)
    note = _clean_note(note, required=True)
    entry = _decide(actor, entry_id, "rejected", note)
    record(
        "blacklist.rejected",
        actor=actor,
        subject_type="blacklist_entry",
        subject_id=entry.id,
        data={"user_id": entry.user_id, "reason": entry.reason, "proposed_by": entry.proposed_by_id},
    )
    _tell(entry, "blacklist.rejected")
    return entry


def revoke_for_decision(actor: User, decision_id: int, *, appeal_id: int) -> list[BlacklistEntry]:
    """An appeal overturned `decision_id`: the entries it proposed that are in force are revoked."""
    entries = db.session.scalars(
        sa.select(BlacklistEntry).where(
            BlacklistEntry.decision_id == decision_id, BlacklistEntry.status.in_(("pending", "active"))
        )
    ).all()
    return [entry for entry in entries if revoke(actor, entry, appeal_id=appeal_id, cause="decision_overturned")]


def entries_in_force(user_id: int, now: datetime | None = None) -> list[BlacklistEntry]:
    """Every pending or active, unexpired entry of the user."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            sa.select(BlacklistEntry).where(
                BlacklistEntry.user_id == user_id,
                sa.or_(
                    BlacklistEntry.status == "pending",
                    sa.and_(BlacklistEntry.status == "active", BlacklistEntry.ends_at > now),
                ),
            )
        )
    )


def revoke(actor: User, entry: BlacklistEntry, *, appeal_id: int, cause: str) -> bool:
    """Revoke a pending or active entry after an appeal (audited, the user told), its listings given back."""
    result = db.session.execute(
        sa.update(BlacklistEntry)
        .where(BlacklistEntry.id == entry.id, BlacklistEntry.status.in_(("pending", "active")))
        .values(status="revoked", closed_at=utcnow(), closed_by_id=actor.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    db.session.refresh(entry)
    restored = [
        listing_id
        for listing_id in entry.taken_down or []
        if (listing := db.session.get(Listing, listing_id)) is not None
        and listings.restore(actor, listing, cause=f"blacklist:{entry.id}")
    ]
    record(
        "blacklist.revoked",
        actor=actor,
        subject_type="blacklist_entry",
        subject_id=entry.id,
        data={"user_id": entry.user_id, "appeal_id": appeal_id, "cause": cause, "restored": restored},
    )
    _tell(entry, "blacklist.revoked")
    return True


def expire_due(now: datetime | None = None) -> list[int]:
    """Mark active entries past their end as expired (audited); returns their ids. Reads need not wait for it."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            sa.select(BlacklistEntry.id).where(BlacklistEntry.status == "active", BlacklistEntry.ends_at <= now)
        )
    )
    expired = []
    for entry_id in due:
        result = db.session.execute(
            sa.update(BlacklistEntry)
            .where(BlacklistEntry.id == entry_id, BlacklistEntry.status == "active")
            .values(status="expired", closed_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            record("blacklist.expired", subject_type="blacklist_entry", subject_id=entry_id, data={})
            expired.append(entry_id)
    return expired
