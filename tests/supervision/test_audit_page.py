"""The audit chain's verification page: whole, or broken at a named entry; the head to note down elsewhere."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.audit.service import record
from marketplace.db import utcnow


def _head(db) -> AuditEntry:
    return db.session.scalar(sa.select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))


def test_a_whole_chain_shows_ok_and_its_head(client, login, db, supervisor):
    record("test.event", data={"n": 1})
    db.session.commit()
    head = _head(db)
    login(supervisor)
    html = client.get("/supervision/audit").get_data(as_text=True)
    assert "校验通过：审计日志完整" in html
    assert head.hash in html
    assert f"<dd>{head.seq}</dd>" in html
    assert "校验时间" in html


def test_a_forged_entry_is_named_as_the_first_broken_one(client, login, db, supervisor):
    record("test.event", data={"n": 1})
    db.session.commit()
    good = _head(db)
    # The log refuses UPDATE and DELETE, but an INSERT that skips record() gets in: with a wrong hash.
    db.session.execute(
        sa.insert(AuditEntry).values(
            seq=good.seq + 1,
            at=utcnow(),
            actor_id=None,
            action="blacklist.confirmed",
            subject_type="blacklist_entry",
            subject_id=1,
            data="{}",
            prev_hash=good.hash,
            hash="f" * 64,
        )
    )
    db.session.commit()
    login(supervisor)
    html = client.get("/supervision/audit").get_data(as_text=True)
    assert "校验失败：审计日志已被破坏" in html
    assert f"第一条出错的记录是第 {good.seq + 1} 条" in html
    assert good.hash in html  # the last good link
    assert "f" * 64 not in html
