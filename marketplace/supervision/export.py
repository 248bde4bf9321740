"""Exporting the black list for supervisors: CSV (for Excel) or JSON, streamed in batches, the export audited.

The export is a GET that writes one audit entry. Like orders/boundary.py, the read
transaction is ended first and the record is written and committed in a transaction
of its own (on SQLite a read transaction must not turn into a write), then the rows
are streamed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

from flask import Response, stream_with_context

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.db import db, utcnow, write_intent
from marketplace.identity.privacy import shown_name
from marketplace.supervision.service import Filters, Row, count_entries, iter_entries, rows_for

FORMATS = ("csv", "json")
COLUMNS = (
    "id",
    "user_id",
    "display_name",
    "real_name_masked",
    "reason",
    "status",
    "state",
    "proposed_at",
    "proposed_by",
    "decision_id",
    "violation",
    "decided_by",
    "decided_at",
    "starts_at",
    "ends_at",
    "closed_at",
    "appeal_status",
)
# A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_row(row: Row, now: datetime) -> dict:
    """One entry as the export shows it: masked names only, times in ISO 8601 (UTC)."""
    entry = row.entry
    return {
        "id": entry.id,
        "user_id": entry.user_id,
        "display_name": shown_name(entry.user),
        "real_name_masked": row.real_name_masked,
        "reason": entry.reason,
        "status": entry.status,
        "state": entry.state(now),
        "proposed_at": _iso(entry.proposed_at),
        "proposed_by": entry.proposed_by_id,
        "decision_id": entry.decision_id,
        "violation": row.decision.violation if row.decision is not None else None,
        "decided_by": entry.decided_by_id,
        "decided_at": _iso(entry.decided_at),
        "starts_at": _iso(entry.starts_at),
        "ends_at": _iso(entry.ends_at),
        "closed_at": _iso(entry.closed_at),
        "appeal_status": row.appeal.status if row.appeal is not None else None,
    }


def safe_cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (a leading ' makes it text)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _rows(actor_id: int, filters: Filters, now: datetime, up_to_id: int | None) -> Iterator[dict]:
    if up_to_id is None:
        return
    # The rows are read after the view returned (streamed), in a session of their own: the actor is
    # loaded into it rather than carried over detached from the request's committed one.
    actor = db.session.get(User, actor_id)
    for batch in iter_entries(actor, filters, up_to_id=up_to_id, now=now):
        yield from (export_row(row, now) for row in rows_for(batch))


def csv_chunks(rows: Iterator[dict]) -> Iterator[str]:
    """The CSV text in chunks: a BOM (so that Excel reads UTF-8), the header, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield BOM + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(row[column]) for column in COLUMNS])
        yield buffer.getvalue()


def json_chunks(rows: Iterator[dict], meta: dict) -> Iterator[str]:
    """A JSON document {..meta, "items": [...]} in chunks, one item at a time."""
    head = json.dumps(meta, ensure_ascii=False)
    yield head[:-1] + (", " if meta else "") + '"items": ['
    for i, row in enumerate(rows):
        yield ("," if i else "") + json.dumps(row, ensure_ascii=False)
    yield "]}"


def record_export(actor: User, fmt: str, filters: Filters, rows: int) -> None:
    """Audit the export in a writing transaction of its own, committed (see the module's docstring)."""
    db.session.commit()
    token = write_intent.set(True)
    try:
        record("supervision.exported", actor=actor, data={"format": fmt, "rows": rows, "filters": filters.as_dict()})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    finally:
        write_intent.reset(token)


def export_response(actor: User, fmt: str, filters: Filters) -> Response:
    """The audited export as a streamed attachment."""
    now = utcnow()
    count, up_to_id = count_entries(actor, filters, now=now)
    actor_id = actor.id
    record_export(actor, fmt, filters, count)
    rows = _rows(actor_id, filters, now, up_to_id)
    name = f"blacklist-{now:%Y%m%d-%H%M%S}.{fmt}"
    if fmt == "csv":
        body, mimetype = csv_chunks(rows), "text/csv"
    else:
        meta = {"exported_at": now.isoformat(), "filters": filters.as_dict(), "count": count}
        body, mimetype = json_chunks(rows, meta), "application/json"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
