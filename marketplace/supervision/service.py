"""Supervision: the black-list audit (every entry, filtered, with its whole history) and the audit chain's check.

Supervisors only. This package reads every feature and changes nothing but the audit
log (an export is recorded there); nothing imports it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import set_committed_value

from marketplace.accounts.models import User
from marketplace.audit.models import AuditEntry
from marketplace.audit.service import verify_chain
from marketplace.db import db, utcnow
from marketplace.errors import Forbidden, Invalid
from marketplace.identity.service import masked_real_names
from marketplace.listings.models import Listing
from marketplace.moderation.models import Appeal, Decision, Report
from marketplace.trust import service as trust
from marketplace.trust.models import BLACKLIST_REASONS, BLACKLIST_STATUSES, BlacklistEntry

# Dates typed in the filters are days as the pages show them (DESIGN.md: times shown in Asia/Shanghai).
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
PAGE = 50
BATCH = 500
FILTER_FIELDS = ("proposed_from", "proposed_to", "reason", "state")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

EVENT_LABELS = {
    "proposed": _l("提议列入黑名单"),
    "confirmed": _l("监督员确认"),
    "rejected": _l("监督员未予确认"),
    "taken_down": _l("下架在售商品"),
    "appeal_filed": _l("当事人提出申诉"),
    "appeal_decided": _l("申诉处理完毕"),
    "revoked": _l("撤销"),
    "expired": _l("到期"),
    "audit": _l("审计记录"),
}
# Which audit action stands for which step (the step then shows its audit sequence number).
AUDIT_KINDS = {
    "blacklist.proposed": "proposed",
    "blacklist.confirmed": "confirmed",
    "blacklist.rejected": "rejected",
    "blacklist.revoked": "revoked",
    "blacklist.expired": "expired",
    "appeal.filed": "appeal_filed",
    "appeal.decided": "appeal_decided",
}
_ORDER = {kind: i for i, kind in enumerate(EVENT_LABELS)}


# --- who may look -----------------------------------------------------------------------------------


def require_supervisor(actor: User | None) -> None:
    """Forbidden unless `actor` is an active market supervisor."""
    if not trust.is_supervisor(actor):
        raise Forbidden(_("只有市场监督员可以查看监督页面。"))


def why_not_review(actor: User, entry: BlacklistEntry, now: datetime | None = None) -> str | None:
    """Why `actor` may not confirm or reject `entry` now (None when they may)."""
    if entry.status != "pending":
        return _("该记录已%(status)s，不能再复核。", status=trust.STATUS_LABELS[entry.state(now or utcnow())])
    # The two-person rule lives in trust, once.
    return trust.why_not_decide(actor, entry)


# --- filters ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The black-list filters: proposal dates (local days, both inclusive), reason, state now."""

    proposed_from: date | None = None
    proposed_to: date | None = None
    reason: str | None = None
    state: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The filters that are set, as query-string values."""
        values = {name: getattr(self, name) for name in FILTER_FIELDS}
        return {name: str(value) for name, value in values.items() if value is not None}

    @property
    def any(self) -> bool:
        return bool(self.as_dict())


def _clean_date(text: str | None, name: str, errors: dict[str, list[str]]) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    if not _DATE.fullmatch(text):
        errors[name] = [_("请按 YYYY-MM-DD 的格式填写日期")]
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = [_("没有这一天，请检查日期")]
        return None


def clean_filters(values: Mapping[str, str | None]) -> Filters:
    """Read the filters from query values; Invalid naming each field at fault."""
    errors: dict[str, list[str]] = {}
    start = _clean_date(values.get("proposed_from"), "proposed_from", errors)
    end = _clean_date(values.get("proposed_to"), "proposed_to", errors)
    if start and end and start > end:
        errors["proposed_to"] = [_("结束日期不能早于开始日期")]
    reason = (values.get("reason") or "").strip() or None
    if reason is not None and reason not in BLACKLIST_REASONS:
        errors["reason"] = [_("请选择列表中的原因")]
    state = (values.get("state") or "").strip() or None
    if state is not None and state not in BLACKLIST_STATUSES:
        errors["state"] = [_("请选择列表中的状态")]
    if errors:
        raise Invalid(_("筛选条件有误，请检查标出的项目。"), errors=errors)
    return Filters(start, end, reason, state)


def local_day_start(day: date) -> datetime:
    """The UTC moment a local (Asia/Shanghai) day begins."""
    return datetime.combine(day, time.min, LOCAL_TZ).astimezone(UTC)


def _state_clause(state: str, now: datetime):
    # The state as it stands now (BlacklistEntry.state): an active entry past its end reads as expired.
    ended = sa.and_(BlacklistEntry.ends_at.is_not(None), BlacklistEntry.ends_at <= now)
    if state == "active":
        return sa.and_(BlacklistEntry.status == "active", sa.not_(ended))
    if state == "expired":
        return sa.or_(BlacklistEntry.status == "expired", sa.and_(BlacklistEntry.status == "active", ended))
    return BlacklistEntry.status == state


def _where(filters: Filters, now: datetime) -> list:
    clauses = []
    if filters.proposed_from:
        clauses.append(BlacklistEntry.proposed_at >= local_day_start(filters.proposed_from))
    if filters.proposed_to:
        clauses.append(BlacklistEntry.proposed_at < local_day_start(filters.proposed_to + timedelta(days=1)))
    if filters.reason:
        clauses.append(BlacklistEntry.reason == filters.reason)
    if filters.state:
        clauses.append(_state_clause(filters.state, now))
    return clauses


# --- reading entries --------------------------------------------------------------------------------


def blacklist_entries(
    actor: User, filters: Filters, *, before_id: int | None = None, limit: int = PAGE, now: datetime | None = None
) -> list[BlacklistEntry]:
    """Every entry matching the filters, newest first (keyset pages by id)."""
    require_supervisor(actor)
    query = sa.select(BlacklistEntry).where(*_where(filters, now or utcnow()))
    if before_id is not None:
        query = query.where(BlacklistEntry.id < before_id)
    return list(db.session.scalars(query.order_by(BlacklistEntry.id.desc()).limit(limit)))


def count_entries(actor: User, filters: Filters, *, now: datetime | None = None) -> tuple[int, int | None]:
    """How many entries match, and the highest matching id (an export stops there)."""
    require_supervisor(actor)
    n, top = db.session.execute(
        sa.select(sa.func.count(), sa.func.max(BlacklistEntry.id)).where(*_where(filters, now or utcnow()))
    ).one()
    return n, top


def iter_entries(
    actor: User, filters: Filters, *, up_to_id: int | None = None, batch: int | None = None, now: datetime | None = None
) -> Iterator[list[BlacklistEntry]]:
    """Matching entries in batches, newest first, each batch let go of once the caller moves on."""
    require_supervisor(actor)
    now, batch = now or utcnow(), batch or BATCH
    before = None if up_to_id is None else up_to_id + 1
    while True:
        rows = blacklist_entries(actor, filters, before_id=before, limit=batch, now=now)
        if not rows:
            return
        yield rows
        before = rows[-1].id
        for entry in rows:
            db.session.expunge(entry)


def pending_entries(actor: User) -> list[BlacklistEntry]:
    """Proposals waiting for a supervisor, oldest first."""
    require_supervisor(actor)
    return trust.pending(actor)


@dataclass
class Row:
    """An entry with what the audit shows beside it: masked real name, its decision and the appeal."""

    entry: BlacklistEntry
    real_name_masked: str | None
    decision: Decision | None
    appeal: Appeal | None


_PEOPLE = ("user", "proposed_by", "decided_by", "closed_by")


def _load_people(entries: list[BlacklistEntry]) -> None:
    """The people each entry names (subject, proposer, reviewer, who closed it) in one query, not one per entry."""
    ids = {getattr(e, f"{name}_id") for e in entries for name in _PEOPLE} - {None}
    if not ids:
        return
    people = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}
    for entry in entries:
        for name in _PEOPLE:
            set_committed_value(entry, name, people.get(getattr(entry, f"{name}_id")))


def rows_for(entries: list[BlacklistEntry]) -> list[Row]:
    """The entries with their masked names, people, decisions and appeals, loaded in a few queries."""
    _load_people(entries)
    names = masked_real_names({e.user_id for e in entries})
    decision_ids = {e.decision_id for e in entries if e.decision_id is not None}
    decisions = {}
    appeals = {}
    if decision_ids:
        decisions = {d.id: d for d in db.session.scalars(sa.select(Decision).where(Decision.id.in_(decision_ids)))}
        appeals = {
            a.decision_id: a for a in db.session.scalars(sa.select(Appeal).where(Appeal.decision_id.in_(decision_ids)))
        }
    return [Row(e, names.get(e.user_id), decisions.get(e.decision_id), appeals.get(e.decision_id)) for e in entries]


# --- an entry's history -------------------------------------------------------------------------------


@dataclass
class Event:
    """One step in an entry's history: when, what, by whom, its particulars and its audit entry."""

    at: datetime
    kind: str
    actor: User | None = None
    details: dict = field(default_factory=dict)
    audit_seq: int | None = None

    @property
    def label(self) -> str:
        return str(EVENT_LABELS[self.kind])


def _audit_for(rows: list[Row]) -> list[AuditEntry]:
    """Audit entries about the entries and the appeals of their decisions, in chain order."""
    subjects = [
        sa.and_(AuditEntry.subject_type == "blacklist_entry", AuditEntry.subject_id.in_([r.entry.id for r in rows]))
    ]
    appeal_ids = [r.appeal.id for r in rows if r.appeal is not None]
    if appeal_ids:
        subjects.append(sa.and_(AuditEntry.subject_type == "appeal", AuditEntry.subject_id.in_(appeal_ids)))
    return list(db.session.scalars(sa.select(AuditEntry).where(sa.or_(*subjects)).order_by(AuditEntry.seq)))


def _load_reports(decisions: list[Decision]) -> None:
    """The report of every decision (its reason and evidence go into the history) in one query."""
    if not decisions:
        return
    ids = {d.report_id for d in decisions}
    reports = {r.id: r for r in db.session.scalars(sa.select(Report).where(Report.id.in_(ids)))}
    for decision in decisions:
        set_committed_value(decision, "report", reports.get(decision.report_id))


def histories(rows: list[Row], now: datetime | None = None) -> dict[int, list[Event]]:
    """{entry id: its history}, with the audit entries and listing titles loaded once for all of them."""
    if not rows:
        return {}
    audit = _audit_for(rows)
    _load_reports([r.decision for r in rows if r.decision is not None])
    listing_ids = {i for r in rows for i in r.entry.taken_down or []}
    listing_ids |= {r.decision.listing_id for r in rows if r.decision is not None}
    for entry in audit:
        if entry.action == "blacklist.revoked":
            listing_ids.update(_data(entry).get("restored") or [])
    titles = dict(db.session.execute(sa.select(Listing.id, Listing.title).where(Listing.id.in_(listing_ids))).all())
    return {row.entry.id: _history(row, audit, titles, now or utcnow()) for row in rows}


def entry_history(entry: BlacklistEntry, now: datetime | None = None) -> list[Event]:
    """What happened to an entry, in time order: proposal, review, take-downs, appeal, revocation or expiry."""
    return histories(rows_for([entry]), now)[entry.id]


def _data(audit: AuditEntry) -> dict:
    try:
        data = json.loads(audit.data)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _listings(ids, titles: dict[int, str]) -> list[dict]:
    return [{"id": i, "title": titles.get(i, "")} for i in ids or []]


def _history(row: Row, audit: list[AuditEntry], titles: dict[int, str], now: datetime) -> list[Event]:
    entry, decision, appeal = row.entry, row.decision, row.appeal
    proposal = {"reason": entry.reason, "decision_id": entry.decision_id}
    if decision is not None:
        snapshot = (decision.report.evidence or {}).get("listing") or {}
        proposal |= {
            "report_id": decision.report_id,
            "report_reason": decision.report.reason,
            "outcome": decision.outcome,
            "violation": decision.violation,
            "note": decision.note,
            "listing_id": decision.listing_id,
            "listing_title": snapshot.get("title") or titles.get(decision.listing_id, ""),
        }
    events = [Event(entry.proposed_at, "proposed", entry.proposed_by, proposal)]
    if entry.decided_at is not None:
        # Only a confirmation sets the start; a rejection leaves it empty.
        kind = "confirmed" if entry.starts_at is not None else "rejected"
        details = {"note": entry.decision_note}
        if kind == "confirmed":
            details |= {"starts_at": entry.starts_at, "ends_at": entry.ends_at}
        events.append(Event(entry.decided_at, kind, entry.decided_by, details))
        if entry.taken_down:
            taken = {"listings": _listings(entry.taken_down, titles)}
            events.append(Event(entry.decided_at, "taken_down", entry.decided_by, taken))
    if appeal is not None:
        filed = {"appeal_id": appeal.id, "reason": appeal.reason}
        events.append(Event(appeal.created_at, "appeal_filed", appeal.appellant, filed))
        if appeal.decided_at is not None:
            outcome = {"appeal_id": appeal.id, "outcome": appeal.status, "note": appeal.note}
            events.append(Event(appeal.decided_at, "appeal_decided", appeal.decider, outcome))
    if entry.status == "revoked" and entry.closed_at is not None:
        events.append(Event(entry.closed_at, "revoked", entry.closed_by, {"restored": []}))
    if entry.state(now) == "expired" and entry.ends_at is not None:
        events.append(Event(entry.ends_at, "expired", None, {"marked_at": entry.closed_at}))
    _link_audit(events, row, audit, titles)
    return sorted(events, key=lambda e: (e.at, _ORDER[e.kind]))


def _link_audit(events: list[Event], row: Row, audit: list[AuditEntry], titles: dict[int, str]) -> None:
    """Give each step its audit entry's number; audit entries about the entry that match no step become steps."""
    mine = {("blacklist_entry", row.entry.id), ("appeal", row.appeal.id if row.appeal is not None else None)}
    for audit_entry in audit:
        if (audit_entry.subject_type, audit_entry.subject_id) not in mine:
            continue
        kind = AUDIT_KINDS.get(audit_entry.action)
        step = next((e for e in events if e.kind == kind and e.audit_seq is None), None)
        if step is not None:
            step.audit_seq = audit_entry.seq
            if kind == "revoked":
                data = _data(audit_entry)
                step.details = {"appeal_id": data.get("appeal_id"), "restored": _listings(data.get("restored"), titles)}
        elif audit_entry.subject_type == "blacklist_entry" and kind is None:
            actor = db.session.get(User, audit_entry.actor_id) if audit_entry.actor_id else None
            details = {"action": audit_entry.action}
            events.append(Event(audit_entry.at, "audit", actor, details, audit_entry.seq))


# --- the audit chain --------------------------------------------------------------------------------


@dataclass
class ChainCheck:
    """The chain's verification: whole or broken where, and the last good link to note down elsewhere."""

    ok: bool
    entries: int
    first_bad: int | None
    head_seq: int | None
    head_hash: str | None
    checked_at: datetime


def check_chain(actor: User) -> ChainCheck:
    """Verify the whole chain; the head is the last entry that verified (the chain's end when it is whole)."""
    require_supervisor(actor)
    report = verify_chain()
    head = db.session.get(AuditEntry, report.entries) if report.entries else None
    return ChainCheck(
        ok=report.ok,
        entries=report.entries,
        first_bad=report.first_bad,
        head_seq=head.seq if head is not None else None,
        head_hash=head.hash if head is not None else None,
        checked_at=utcnow(),
    )
