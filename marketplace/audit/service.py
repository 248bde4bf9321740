"""Appending to and verifying the audit chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.db import db, utcnow

GENESIS = "0" * 64
# Serialises appends on PostgreSQL so that two transactions never extend the same head.
_PG_LOCK_KEY = 0x6D6B74_A0D1


def _canonical(entry: AuditEntry) -> bytes:
    body = {
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "data": json.loads(entry.data),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(prev_hash: str, entry: AuditEntry) -> str:
    """SHA-256 over the previous hash followed by the entry's canonical JSON."""
    return hashlib.sha256(prev_hash.encode() + _canonical(entry)).hexdigest()


def record(
    action: str, *, actor=None, subject_type: str | None = None, subject_id: int | None = None, data: dict | None = None
) -> AuditEntry:
    """Append one entry to the chain; `data` must hold no unmasked personal data."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = session.execute(sa.select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    entry = AuditEntry(
        seq=seq,
        at=utcnow(),
        actor_id=getattr(actor, "id", actor),
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        data=json.dumps(data or {}, sort_keys=True, ensure_ascii=False),
        prev_hash=prev,
    )
    entry.hash = compute_hash(prev, entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass
class ChainReport:
    ok: bool
    entries: int
    first_bad: int | None


def verify_chain(batch: int = 2000) -> ChainReport:
    """Walk the chain in order and report the first entry whose link or hash is wrong."""
    prev, count, last_seq = GENESIS, 0, 0
    columns = [getattr(AuditEntry, c.key) for c in AuditEntry.__table__.columns]
    while True:
        rows = db.session.execute(
            sa.select(*columns).where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return ChainReport(True, count, None)
        for row in rows:
            entry = AuditEntry(**row._asdict())
            try:
                good_hash = compute_hash(prev, entry)
            except (ValueError, TypeError):
                good_hash = None
            if entry.seq != last_seq + 1 or entry.prev_hash != prev or entry.hash != good_hash:
                return ChainReport(False, count, entry.seq)
            prev, last_seq, count = entry.hash, entry.seq, count + 1
