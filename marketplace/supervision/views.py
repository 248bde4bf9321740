"""Supervision pages: the monthly dashboard, the black-list audit (pending first, filters, every entry's
history), the audited export, and the audit chain's verification. Supervisors only.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from marketplace import MAX_ID
from marketplace.db import utcnow
from marketplace.errors import Invalid
from marketplace.moderation.service import REASON_LABELS as VIOLATION_LABELS
from marketplace.supervision import charts, dashboard, service
from marketplace.supervision.export import FORMATS, export_response
from marketplace.trust import service as trust

bp = Blueprint("supervision", __name__)

APPEAL_LABELS = {"pending": _l("待处理"), "upheld": _l("维持原决定"), "overturned": _l("申诉成立")}
OUTCOME_LABELS = {"dismissed": _l("驳回"), "confirmed": _l("确认违规"), "malicious": _l("恶意举报")}
# The badge of each state; the word inside always says it too.
STATE_BADGES = {
    "pending": "badge--pending",
    "active": "badge--blacklisted",
    "rejected": "badge--withdrawn",
    "revoked": "badge--withdrawn",
    "expired": "badge--withdrawn",
    "superseded": "badge--withdrawn",
}


@bp.context_processor
def _labels() -> dict:
    return {
        "blacklist_reasons": trust.REASON_LABELS,
        "blacklist_states": trust.STATUS_LABELS,
        "state_badges": STATE_BADGES,
        "violation_labels": VIOLATION_LABELS,
        "appeal_labels": APPEAL_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "event_labels": service.EVENT_LABELS,
        # Pages of other features are linked only where they exist (the same as the app-wide global of that name).
        "has_endpoint": lambda endpoint: endpoint in current_app.view_functions,
    }


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


def supervisor_page(view):
    """Sign-in first (anonymous visitors go to the login page), then supervisors only (403 for anyone else)."""

    @wraps(view)
    def wrapper(**kwargs):
        service.require_supervisor(_me())
        return view(**kwargs)

    return login_required(wrapper)


def _before() -> int | None:
    value = request.args.get("before", "")
    if value.isascii() and value.isdigit() and len(value) < 11 and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


# --- the dashboard -------------------------------------------------------------------------------------


def _axis_labels(months: list[str]) -> list[str]:
    # The month under each bar; the year under each January, and under the first month unless a
    # January follows at once (two years side by side would overlap on a phone).
    def with_year(i: int, month: str) -> bool:
        return month.endswith("-01") or (i == 0 and not (len(months) > 1 and months[1].endswith("-01")))

    return [f"{m[5:]}\n{m[:4]}" if with_year(i, m) else m[5:] for i, m in enumerate(months)]


@bp.get("/supervision", endpoint="dashboard")
@supervisor_page
def dashboard_page():
    """The last twelve months at a glance: reports, decisions, violations, the black list, appeals, red lists."""
    shown = []
    for figure in dashboard.figures(_me()):
        svg = charts.bar_chart(
            chart_id=f"chart-{figure.key}",
            title=figure.title,
            desc=figure.desc,
            labels=_axis_labels(figure.months),
            group_names=figure.months,
            series=[(s.label, s.values) for s in figure.series],
            stacked=figure.stacked,
        )
        shown.append((figure, svg))
    return render_template("supervision/dashboard.html", figures=shown)


# --- the black-list audit ----------------------------------------------------------------------------------


@bp.get("/supervision/blacklist")
@supervisor_page
def blacklist():
    """Every black-list entry, filtered, newest first; proposals waiting for a supervisor first."""
    actor = _me()
    values = {name: request.args.get(name, "").strip() for name in service.FILTER_FIELDS}
    errors, filters, page, next_before, status = {}, None, [], None, 200
    before = _before()
    try:
        filters = service.clean_filters(values)
    except Invalid as exc:
        errors, status = exc.errors, exc.status
    else:
        found = service.blacklist_entries(actor, filters, before_id=before, limit=service.PAGE + 1)
        page = found[: service.PAGE]
        next_before = page[-1].id if len(found) > service.PAGE else None
    pending = service.pending_entries(actor) if before is None else []
    args = filters.as_dict() if filters is not None else {}
    return (
        render_template(
            "supervision/blacklist.html",
            values=values,
            errors=errors,
            filters=filters,
            args=args,
            rows=service.rows_for(page),
            pending=service.rows_for(pending),
            next_url=url_for("supervision.blacklist", before=next_before, **args) if next_before else None,
            first_url=url_for("supervision.blacklist", **args),
            paged=before is not None,
            actor=actor,
            why_not_review=service.why_not_review,
            now=utcnow(),
        ),
        status,
    )


@bp.get("/supervision/blacklist/<int:entry_id>")
@supervisor_page
def entry(entry_id: int):
    """One entry with its whole history, and the way to confirm or reject it while it is pending."""
    actor = _me()
    found = trust.get(entry_id)
    row = service.rows_for([found])[0]
    return render_template(
        "supervision/entry.html",
        row=row,
        entry=found,
        history=service.histories([row])[found.id],
        why_not=service.why_not_review(actor, found),
        state=found.state(utcnow()),
    )


@bp.get("/supervision/export/blacklist.<fmt>")
@supervisor_page
def export(fmt: str):
    """The entries matching the list page's filters as CSV or JSON (audited)."""
    if fmt not in FORMATS:
        abort(404)
    filters = service.clean_filters(request.args)
    return export_response(_me(), fmt, filters)


# --- the audit chain -----------------------------------------------------------------------------------------


@bp.get("/supervision/audit")
@supervisor_page
def audit():
    """Verify the hash chain of the audit log now, and show its head to note down elsewhere."""
    return render_template("supervision/audit.html", check=service.check_chain(_me()))
