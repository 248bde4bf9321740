"""The supervisors' monthly figures: reports, decisions, violations, the black list, appeals and red-list editions.

Twelve calendar months in UTC, the current one last. Counts are grouped in the database
on a month string built the same way on SQLite and PostgreSQL (see `_month`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.db import db, utcnow
from marketplace.moderation.models import VIOLATIONS, Appeal, Decision, Report
from marketplace.moderation.service import REASON_LABELS
from marketplace.supervision.service import require_supervisor
from marketplace.trust.models import BlacklistEntry, RedListEdition

MONTHS = 12


@dataclass
class Series:
    code: str
    label: str
    values: list[int]


@dataclass
class Figure:
    """One chart's data: a count per month for each series; `stacked` when the series are parts of a whole."""

    key: str
    title: str
    desc: str
    months: list[str]
    series: list[Series]
    stacked: bool = False

    @property
    def totals(self) -> list[int]:
        return [sum(s.values[i] for s in self.series) for i in range(len(self.months))]

    @property
    def total(self) -> int:
        return sum(self.totals)


def months(now: datetime | None = None, n: int = MONTHS) -> list[str]:
    """The last `n` calendar months in UTC as YYYY-MM, oldest first, the current month last."""
    now = (now or utcnow()).astimezone(UTC)
    index = now.year * 12 + now.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - n + 1, index + 1)]


def window_start(now: datetime | None = None, n: int = MONTHS) -> datetime:
    """The first moment of the oldest month shown."""
    first = months(now, n)[0]
    return datetime(int(first[:4]), int(first[5:]), 1, tzinfo=UTC)


def _month(column):
    """The UTC month of a timestamp column as YYYY-MM, on either database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM")
    # SQLite keeps UTC timestamps as ISO text (marketplace.db.UTCDateTime).
    return sa.func.strftime("%Y-%m", column)


def _counts(start: datetime, column, *where, key=None, join=None) -> dict[tuple[str, str | None], int]:
    """{(month, key): count} of rows whose `column` is at or after `start`.

    Grouped over a subquery: PostgreSQL does not see two bound copies of the month
    expression (SELECT and GROUP BY) as the same expression.
    """
    key_column = (key if key is not None else sa.null()).label("key")
    inner = sa.select(_month(column).label("month"), key_column)
    if join is not None:
        inner = inner.select_from(join)
    inner = inner.where(column >= start, *where).subquery()
    rows = db.session.execute(
        sa.select(inner.c.month, inner.c.key, sa.func.count()).group_by(inner.c.month, inner.c.key)
    )
    return {(month, key_value): n for month, key_value, n in rows}


def _series(counts: dict, shown: list[str], code: str, label: str, key=None) -> Series:
    return Series(code, str(label), [counts.get((month, key), 0) for month in shown])


def figures(actor: User, now: datetime | None = None) -> list[Figure]:
    """Every chart of the dashboard, for a supervisor."""
    require_supervisor(actor)
    shown, start = months(now), window_start(now)
    opened = _counts(start, Report.created_at)
    decided = _counts(
        start, Decision.created_at, key=Report.status, join=sa.join(Report, Decision, Report.decision_id == Decision.id)
    )
    violations = _counts(start, Decision.created_at, Decision.outcome == "confirmed", key=Decision.violation)
    proposed = _counts(start, BlacklistEntry.proposed_at)
    confirmed = _counts(start, BlacklistEntry.starts_at, BlacklistEntry.starts_at.is_not(None))
    rejected = _counts(start, BlacklistEntry.decided_at, BlacklistEntry.status == "rejected")
    revoked = _counts(start, BlacklistEntry.closed_at, BlacklistEntry.status == "revoked")
    filed = _counts(start, Appeal.created_at)
    appeal_outcomes = _counts(start, Appeal.decided_at, Appeal.status != "pending", key=Appeal.status)
    editions = _counts(start, RedListEdition.computed_at)
    return [
        Figure(
            "reports_opened",
            _("新收到的举报"),
            _("每月新收到的举报数（用户举报和系统自动提交的举报）。"),
            shown,
            [_series(opened, shown, "opened", _("举报"))],
        ),
        Figure(
            "reports_decided",
            _("处理完毕的举报（按结果）"),
            _("每月处理完毕的举报数，按处理结果分段：驳回、确认违规、恶意举报。"),
            shown,
            [
                _series(decided, shown, "dismissed", _("驳回"), "dismissed"),
                _series(decided, shown, "confirmed", _("确认违规"), "confirmed"),
                _series(decided, shown, "malicious", _("恶意举报"), "malicious"),
            ],
            stacked=True,
        ),
        Figure(
            "violations",
            _("确认的违规（按类别）"),
            _("每月审核确认的违规数，按违规类别分段。"),
            shown,
            [_series(violations, shown, code, REASON_LABELS[code], code) for code in VIOLATIONS],
            stacked=True,
        ),
        Figure(
            "blacklist",
            _("黑名单"),
            _("每月新提议、经监督员确认、未予确认和因申诉撤销的黑名单记录数。"),
            shown,
            [
                _series(proposed, shown, "proposed", _("提议")),
                _series(confirmed, shown, "confirmed", _("确认")),
                _series(rejected, shown, "rejected", _("未予确认")),
                _series(revoked, shown, "revoked", _("撤销")),
            ],
        ),
        Figure(
            "appeals",
            _("申诉"),
            _("每月提出的申诉数，以及当月处理完毕的申诉中维持原决定和申诉成立的数目。"),
            shown,
            [
                _series(filed, shown, "filed", _("提出")),
                _series(appeal_outcomes, shown, "upheld", _("维持原决定"), "upheld"),
                _series(appeal_outcomes, shown, "overturned", _("申诉成立"), "overturned"),
            ],
        ),
        Figure(
            "red_list",
            _("红榜发布"),
            _("每月发布的红榜期数。"),
            shown,
            [_series(editions, shown, "editions", _("期数"))],
        ),
    ]
