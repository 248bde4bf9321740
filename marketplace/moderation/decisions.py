"""Deciding reports: the risk-ordered queue, what a moderator sees, and the decision that applies the policy.

A decision is one of dismissed, confirmed (with the violation) or malicious (the
reporter is penalised). A confirmation closes every open report on the listing,
records the policy's penalty in the seller's ledger, takes the listing down,
withdraws the seller from the red list and, when the policy says so, proposes a
black-list entry. The penalised person is told why, with a link to appeal. A
moderator never decides a report about their own listing or one they filed.
"""

from __future__ import annotations

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
from marketplace.moderation.models import DECISION_OUTCOMES, VIOLATIONS, Decision, Report
from marketplace.moderation.risk import standing_violations
from marketplace.moderation.service import REASON_LABELS, can_review
from marketplace.notices.service import notify
from marketplace.text import clean_plain
from marketplace.trust import redlist
from marketplace.trust import service as trust
from marketplace.trust.models import BlacklistEntry

NOTE_MAX = 1000


# --- who may decide ---------------------------------------------------------------------------------


def why_not_decide(actor: User | None, report: Report) -> str | None:
    """Why `actor` may not decide `report` (None when they may)."""
    if not can_review(actor):
        return _("只有审核员可以处理举报。")
    if report.listing.seller_id == actor.id:
        return _("不能处理关于自己商品的举报。")
    if report.reporter_id == actor.id:
        return _("不能处理自己提交的举报。")
    return None


def _own_reports_on(actor: User, listing_id: int) -> bool:
    return (
        db.session.scalar(
            sa.select(Report.id).where(Report.listing_id == listing_id, Report.reporter_id == actor.id).limit(1)
        )
        is not None
    )


# --- what the moderator sees ------------------------------------------------------------------------


def reviewable(actor: User, report_id: int) -> Report:
    """The report `actor` may open; NotFound for non-moderators and for their own listings' reports."""
    report = db.session.get(Report, report_id)
    if report is None or not can_review(actor) or report.listing.seller_id == actor.id:
        raise NotFound(_("找不到该举报。"))
    return report


def review(actor: User, report_id: int) -> dict:
    """The report, the other reports on the listing, the seller's standing and their earlier decisions."""
    report = reviewable(actor, report_id)
    seller = report.listing.seller
    siblings = list(
        db.session.scalars(sa.select(Report).where(Report.listing_id == report.listing_id).order_by(Report.id))
    )
    earlier = list(
        db.session.scalars(
            sa.select(Decision)
            .join(Listing, Listing.id == Decision.listing_id)
            .where(Listing.seller_id == seller.id)
            .order_by(Decision.id.desc())
            .limit(50)
        )
    )
    entries = list(
        db.session.scalars(
            sa.select(BlacklistEntry).where(BlacklistEntry.user_id == seller.id).order_by(BlacklistEntry.id.desc())
        )
    )
    return {
        "report": report,
        "listing": report.listing,
        "snapshot": (report.evidence or {}).get("listing") or {},
        "reports": siblings,
        "seller": seller,
        "standing_violations": standing_violations({seller.id}).get(seller.id, 0),
        "decisions": earlier,
        "blacklist": entries,
        "why_not": why_not_decide(actor, report)
        or (_("你也举报过这件商品，请交给其他审核员处理。") if _own_reports_on(actor, report.listing_id) else None),
    }


# --- deciding ------------------------------------------------------------------------------------------


def clean_decision(outcome: str | None, violation: str | None, note: str | None, report: Report) -> tuple:
    """Check the outcome, the violation (confirmations) and the note; Invalid naming each field at fault."""
    errors: dict[str, list[str]] = {}
    outcome = (outcome or "").strip()
    violation = (violation or "").strip() or None
    if outcome not in DECISION_OUTCOMES:
        errors["outcome"] = [_("请选择处理结果")]
    if outcome == "confirmed":
        if violation is None and report.reason in VIOLATIONS:
            violation = report.reason
        if violation not in VIOLATIONS:
            errors["violation"] = [_("确认违规时请选择违规类型")]
    else:
        violation = None
    if outcome == "malicious" and report.reporter_id is None:
        errors["outcome"] = [_("系统自动提交的举报不能认定为恶意举报")]
    required = _("请写明理由，当事人会看到（至少 4 个字）") if outcome in ("confirmed", "malicious") else None
    note = clean_plain(note, field="note", errors=errors, max_len=NOTE_MAX, required=required)
    if required and note and len(note) < 4 and "note" not in errors:
        errors["note"] = [required]
    if errors:
        raise Invalid(_("请检查标出的项目。"), errors=errors)
    return outcome, violation, note


def decide(actor: User, report_id: int, outcome: str | None, violation: str | None, note: str | None) -> Decision:
    """Decide an open report and apply the policy (see the module's docstring); Conflict if already decided."""
    report = reviewable(actor, report_id)
    why = why_not_decide(actor, report)
    if why is None and _own_reports_on(actor, report.listing_id):
        # Whatever the outcome: a co-reporter must neither confirm their own report nor judge the others'.
        why = _("你也举报过这件商品，请交给其他审核员处理。")
    if why:
        raise Forbidden(why)
    if report.status != "open":
        raise Conflict(_("该举报已被其他审核员处理。"))
    outcome, violation, note = clean_decision(outcome, violation, note, report)
    listing = report.listing
    penalised_id = {"confirmed": listing.seller_id, "malicious": report.reporter_id}.get(outcome)
    # Lock order, everywhere a person is penalised or restored: the person first, then their listings
    # (black-list confirmations and appeals do the same), so two such changes about one seller wait for
    # each other instead of deadlocking on PostgreSQL.
    if penalised_id is not None:
        db.session.execute(sa.select(User.id).where(User.id == penalised_id).with_for_update())
    db.session.execute(sa.select(Listing.id).where(Listing.id == listing.id).with_for_update())
    db.session.refresh(report)
    if report.status != "open":
        raise Conflict(_("该举报已被其他审核员处理。"))
    decision = Decision(
        report_id=report.id,
        listing_id=listing.id,
        decider_id=actor.id,
        outcome=outcome,
        violation=violation,
        note=note,
        penalised_id=penalised_id,
        created_at=utcnow(),
    )
    try:
        # One decision per report (UNIQUE): a parallel decision committed a moment ago loses here.
        with db.session.begin_nested():
            db.session.add(decision)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("该举报已被其他审核员处理。")) from None
    # Who decides: the one conditional UPDATE that finds the report still open.
    closing = [report.id]
    if outcome == "confirmed":
        closing = list(
            db.session.scalars(sa.select(Report.id).where(Report.listing_id == listing.id, Report.status == "open"))
        )
        closing = closing if report.id in closing else [report.id]
    result = db.session.execute(
        sa.update(Report)
        .where(Report.id.in_(closing), Report.status == "open")
        .values(status=outcome, decision_id=decision.id)
        .execution_options(synchronize_session=False)
    )
    decided_by = db.session.scalar(sa.select(Report.decision_id).where(Report.id == report.id))
    if result.rowcount == 0 or decided_by != decision.id:
        raise Conflict(_("该举报已被其他审核员处理。"))
    events, entry = [], None
    if outcome == "confirmed":
        events, entry = _confirm(actor, decision, listing)
    elif outcome == "malicious":
        events, entry = _malicious(actor, decision, report)
    _tell_reporters(decision, closing, listing)
    record(
        "report.decided",
        actor=actor,
        subject_type="decision",
        subject_id=decision.id,
        data={
            "report_id": report.id,
            "closed_reports": closing,
            "listing_id": listing.id,
            "outcome": outcome,
            "violation": violation,
            "penalised_id": penalised_id,
            "credit_events": [e.id for e in events],
            "blacklist_entry": entry.id if entry is not None else None,
            "took_down": decision.took_down,
        },
    )
    decision.credit_events = events
    decision.blacklist_entry = entry
    return decision


def proposal_reason(violation: str | None, standing: int, score: int | None) -> str | None:
    """Why the policy black-lists someone after a decision (DESIGN.md), strongest first; None when it does not.

    `violation` is the one just confirmed (None for a malicious report), `standing` the confirmed
    violations still standing in the repeat window (this one included), `score` the score after it.
    """
    if violation == "counterfeit":
        return "counterfeit"
    if violation is not None and standing >= trust.rule()["violations_within_window"]:
        return "repeat_violations"
    if score is not None and score < trust.rule()["score_below"]:
        return "low_score"
    return None


def _confirm(actor: User, decision: Decision, listing: Listing) -> tuple[list[CreditEvent], BlacklistEntry | None]:
    seller = listing.seller
    label = REASON_LABELS[decision.violation]
    event = credit.penalise(
        seller,
        decision.violation,
        source="decision",
        source_id=decision.id,
        reason=f"审核决定 #{decision.id}：商品“{listing.title}”经核实存在“{label}”。",
        actor=actor,
    )
    before = listing.status
    decision.took_down = listings.take_down(actor, listing, cause=f"decision:{decision.id}")
    decision.took_down_from = before if decision.took_down else None
    redlist.withdraw(seller.id, actor=actor, reason=f"审核决定 #{decision.id} 确认违规")
    reason = proposal_reason(decision.violation, credit.violations_within_window(seller), seller.credit_score)
    entry = trust.propose(seller, reason=reason, proposer=actor, decision_id=decision.id) if reason else None
    notify(
        seller.id,
        "decision.confirmed",
        subject_type="decision",
        subject_id=decision.id,
        title=listing.title,
        points=-event.points,
        days=policy()["appeal_days"],
    )
    return [event], entry


def _malicious(actor: User, decision: Decision, report: Report) -> tuple[list[CreditEvent], BlacklistEntry | None]:
    reporter = report.reporter
    event = credit.penalise(
        reporter,
        "malicious_report",
        source="decision",
        source_id=decision.id,
        reason=f"审核决定 #{decision.id}：对商品“{report.listing.title}”的举报被认定为恶意举报。",
        actor=actor,
    )
    entry = None
    if proposal_reason(None, 0, reporter.credit_score) is not None:
        entry = trust.propose(reporter, reason="low_score", proposer=actor, decision_id=decision.id)
    notify(
        reporter.id,
        "decision.malicious",
        subject_type="decision",
        subject_id=decision.id,
        title=report.listing.title,
        points=-event.points,
        days=policy()["appeal_days"],
    )
    return [event], entry


def _tell_reporters(decision: Decision, closing: list[int], listing: Listing) -> None:
    kind = {"confirmed": "report.confirmed", "dismissed": "report.dismissed"}.get(decision.outcome)
    if kind is None:
        return
    reporters = db.session.scalars(
        sa.select(Report.reporter_id).where(Report.id.in_(closing), Report.reporter_id.is_not(None)).distinct()
    )
    for reporter_id in reporters:
        notify(reporter_id, kind, subject_type="listing", subject_id=listing.id, title=listing.title)


def preview(report: Report, outcome: str, violation: str | None) -> dict:
    """What deciding `report` so would do, in the policy's numbers (for the confirmation page); writes nothing."""
    listing = report.listing
    if outcome == "dismissed":
        return {"person": None}
    if outcome == "malicious":
        person, nth, multiplier = report.reporter, None, 1
        points = policy()["penalties"]["malicious_report"]
    else:
        person = listing.seller
        nth = credit.violations_within_window(person) + 1
        multiplier = min(nth, policy()["repeat"]["max_multiplier"])
        points = policy()["penalties"][violation] * multiplier
    after = None if person.credit_score is None else max(policy()["min_score"], person.credit_score - points)
    proposal = proposal_reason(violation if outcome == "confirmed" else None, nth or 0, after)
    return {
        "person": person,
        "points": points,
        "multiplier": multiplier,
        "nth": nth,
        "after": after,
        "proposal": proposal,
        "in_force": trust.in_force(person.id),
        "takes_down": outcome == "confirmed" and listing.status in ("active", "reserved", "withdrawn"),
        "red_list": outcome == "confirmed" and redlist.on_current(person.id),
    }


# --- reading decisions --------------------------------------------------------------------------------


def can_view(viewer: User | None, decision: Decision) -> bool:
    """The penalised person, moderators and supervisors."""
    if viewer is None or viewer.status != "active":
        return False
    return viewer.id == decision.penalised_id or viewer.has_role("moderator", "supervisor")


def get(viewer: User | None, decision_id: int) -> Decision:
    """A decision `viewer` may read; NotFound otherwise."""
    decision = db.session.get(Decision, decision_id)
    if decision is None or not can_view(viewer, decision):
        raise NotFound(_("找不到该审核决定。"))
    return decision


def credit_events_of(decision: Decision) -> list[CreditEvent]:
    """The ledger events the decision recorded, and any compensations of them."""
    events = list(
        db.session.scalars(
            sa.select(CreditEvent)
            .where(CreditEvent.source == "decision", CreditEvent.source_id == decision.id)
            .order_by(CreditEvent.id)
        )
    )
    ids = [e.id for e in events]
    if ids:
        events += list(
            db.session.scalars(
                sa.select(CreditEvent).where(CreditEvent.compensates_id.in_(ids)).order_by(CreditEvent.id)
            )
        )
    return events


def entries_of(decision: Decision) -> list[BlacklistEntry]:
    """Black-list entries the decision proposed."""
    return list(
        db.session.scalars(
            sa.select(BlacklistEntry).where(BlacklistEntry.decision_id == decision.id).order_by(BlacklistEntry.id)
        )
    )
