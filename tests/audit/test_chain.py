"""The audit log is a hash chain, append-only in the database, verifiable from the CLI."""

import itertools

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry, guard_statements
from marketplace.audit.service import GENESIS, record, verify_chain


@pytest.fixture
def entries(db, user):
    made = [record("test.event", actor=user, subject_type="user", subject_id=user.id, data={"n": n}) for n in range(5)]
    db.session.commit()
    return made


def test_entries_link_to_their_predecessor(entries):
    assert entries[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
        assert after.seq == before.seq + 1


def test_verify_ok_counts_entries(entries):
    report = verify_chain()
    assert report.ok and report.entries == 5 and report.first_bad is None


def test_verify_empty_chain_is_ok(db):
    assert verify_chain().ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
    ],
)
def test_database_refuses_update_and_delete(db, entries, statement):
    with pytest.raises(sa.exc.DBAPIError) as exc:
        db.session.execute(sa.text(statement))
    assert "append-only" in str(exc.value)
    db.session.rollback()
    assert verify_chain().ok


def _without_guards(db, statement):
    """Tamper as someone with direct database access would: drop the guards, edit, restore them."""
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        for sql in guard_statements(dialect, drop=True):
            conn.exec_driver_sql(sql)
        conn.exec_driver_sql(statement)
        for sql in guard_statements(dialect):
            conn.exec_driver_sql(sql)


def test_an_edited_entry_is_named(db, entries):
    _without_guards(db, "UPDATE audit_log SET data = '{\"n\": 99}' WHERE seq = 3")
    report = verify_chain()
    assert not report.ok and report.first_bad == 3 and report.entries == 2


def test_a_deleted_entry_is_noticed(db, entries):
    _without_guards(db, "DELETE FROM audit_log WHERE seq = 2")
    assert verify_chain().first_bad == 3


def test_cli_verify(cli, db, entries):
    result = cli("audit", "verify")
    assert result.exit_code == 0 and result.output.strip() == "ok 5 entries"
    _without_guards(db, "UPDATE audit_log SET action = 'forged' WHERE seq = 4")
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert "4" in result.output


def test_appends_after_verification_keep_the_chain(db, entries, user):
    record("test.more", actor=user)
    db.session.commit()
    assert verify_chain().entries == 6
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 6
