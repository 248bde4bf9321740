"""Command-line interface: `flask --app wsgi ...` (users, audit, identity, credit, trust, seed-demo, maintenance)."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from marketplace.accounts.models import User
from marketplace.audit.service import record
from marketplace.db import db, read_only
from marketplace.errors import DomainError

users_cli = AppGroup("users", help="Manage user accounts.")
audit_cli = AppGroup("audit", help="Check the tamper-evident audit log.")
identity_cli = AppGroup("identity", help="Real-name data: the audited reveal.")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@users_cli.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--display-name", default=None, help="Shown to other users; defaults to the username.")
@click.option("--role", "roles", multiple=True, help="Grant a role (repeatable).")
def create_user(username: str, password: str, display_name: str | None, roles: tuple[str, ...]) -> None:
    """Create a user with a password and optional roles."""
    from marketplace.accounts import service

    try:
        user = service.register(username, password, display_name or username)
        for role in roles:
            service.grant_role(None, user, role)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in exc.errors.items())
        _fail(f"error: {exc.message}" + (f" ({details})" if details else ""))
    click.echo(f"created user {user.username} (id {user.id}) with roles {', '.join(user.roles)}")


@users_cli.command("grant")
@click.argument("username")
@click.argument("role")
def grant(username: str, role: str) -> None:
    """Grant ROLE to USERNAME (recorded in the audit log)."""
    from marketplace.accounts import service

    user = service.find_user(username)
    if user is None:
        _fail(f"error: no user named {username}")
    try:
        service.grant_role(None, user, role)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        _fail(f"error: {exc.message}")
    click.echo(f"{user.username} now has roles {', '.join(user.roles)}")


@users_cli.command("suspend")
@click.argument("username")
@click.option("--reason", required=True, help="Why: recorded in the audit log.")
def suspend(username: str, reason: str) -> None:
    """Suspend USERNAME: every session and token ends at once (audited)."""
    _set_status(username, "suspended", reason)


@users_cli.command("reactivate")
@click.argument("username")
@click.option("--reason", required=True, help="Why: recorded in the audit log.")
def reactivate(username: str, reason: str) -> None:
    """Lift a suspension of USERNAME (audited)."""
    _set_status(username, "active", reason)


def _set_status(username: str, status: str, reason: str) -> None:
    from marketplace.accounts import service

    user = service.find_user(username)
    if user is None:
        _fail(f"error: no user named {username}")
    try:
        service.set_status(None, user, status, reason)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        _fail(f"error: {exc.message}")
    click.echo(f"{user.username} is now {status}")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Verify the hash chain: `ok` and the count, or the first broken entry (exit 1)."""
    from marketplace.audit.service import verify_chain

    with read_only():  # a long read must not hold SQLite's write lock
        report = verify_chain()
    if report.ok:
        click.echo(f"ok {report.entries} entries")
        return
    _fail(f"broken at entry {report.first_bad} ({report.entries} entries verified before it)")


@identity_cli.command("reveal")
@click.argument("username")
@click.option("--purpose", required=True, help="Why the full data is needed (recorded in the audit log).")
@click.option("--actor", default=None, help="The moderator or supervisor asking (recorded as the actor).")
def identity_reveal(username: str, purpose: str, actor: str | None) -> None:
    """Print USERNAME's unmasked real-name data; the reveal is recorded in the audit log."""
    from marketplace.accounts.service import find_user
    from marketplace.identity.privacy import reveal

    user = find_user(username)
    if user is None:
        _fail(f"error: no user named {username}")
    asker = None
    if actor is not None:
        asker = find_user(actor)
        if asker is None:
            _fail(f"error: no user named {actor}")
    try:
        values = reveal(asker, user, purpose)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        _fail(f"error: {exc.message}")
    # Printed to the operator's terminal only: never logged.
    for key in ("kind", "status", "real_name", "id_number", "phone", "campus", "student_no", "credit_code"):
        if values.get(key) is not None:
            click.echo(f"{key}: {values[key]}")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
def seed_demo(if_empty: bool) -> None:
    """Create the demo city: districts, campuses, users in every role."""
    from marketplace.seed import seed_demo as run_seed

    run_seed(if_empty=if_empty, echo=click.echo)


@click.command("maintenance")
@click.option("--batch", default=200, show_default=True, help="Orders settled per transaction.")
def maintenance(batch: int) -> None:
    """Periodic upkeep (run it from cron, e.g. hourly): overdue orders, ratings, ageing, black list, events."""
    from marketplace.orders import service as orders

    ids = orders.overdue_ids()
    done = 0
    with click.progressbar(length=len(ids), label="overdue orders") as bar:
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            done += orders.settle_ids(chunk)
            db.session.commit()
            bar.update(len(chunk))
    click.echo(f"orders completed automatically: {done}")

    from marketplace.credit import service as credit
    from marketplace.ratings import service as ratings

    # Ratings revealed because their window closed with one side only: their rewards are due now.
    # One transaction per rating: no transaction holds many users' locks at once.
    paid = 0
    for rating in ratings.unrewarded_revealed():
        paid += ratings.credit_revealed([rating])
        db.session.commit()
    click.echo(f"rewards for revealed ratings: {paid}")
    # Penalties older than the ageing period count less: those users' kept scores move.
    moved = 0
    for user_id in credit.ageing_users():
        user = db.session.get(User, user_id)
        before = user.credit_score
        moved += credit.recompute(user) != before
        db.session.commit()
    click.echo(f"credit scores updated for ageing penalties: {moved}")

    from marketplace.trust import service as trust

    # Pages already treat an entry past its end as expired; this records it (and audits it) for good.
    expired = trust.expire_due()
    db.session.commit()
    click.echo(f"black-list entries expired: {len(expired)}")

    from marketplace.events import service as events
    from marketplace.events import settlement

    # Events over (plus the grace hours): no-shows marked and penalised, once. One short transaction
    # per event, so no transaction holds many users' locks at once.
    no_shows = settled = 0
    for event_id in settlement.due_for_settlement():
        event = events.lock(event_id)
        if event.settled_at is None:
            no_shows += settlement.settle(event)
            db.session.refresh(event)
            settled += event.settled_at is not None
        db.session.commit()
    click.echo(f"events settled: {settled} (no-shows: {no_shows})")


credit_cli = AppGroup("credit", help="The credit ledger and the scores kept from it.")


@credit_cli.command("recompute")
@click.option("--check", is_flag=True, help="Only report users whose kept score differs from a replay; exit 1 if any.")
def credit_recompute(check: bool) -> None:
    """Replay every user's credit ledger; fix the kept scores (or, with --check, only report them)."""
    from marketplace.credit import service as credit

    with read_only():
        differences = credit.replay_differences()
    for user_id, kept, replayed in differences:
        click.echo(f"user {user_id}: kept {kept}, ledger gives {replayed}")
    if check:
        click.echo(f"{len(differences)} of the kept scores differ from their ledgers")
        if differences:
            sys.exit(1)
        return
    with click.progressbar(differences, label="fixing kept scores") as bar:
        for user_id, _kept, _replayed in bar:
            credit.recompute(db.session.get(User, user_id))
    if differences:
        record("credit.recomputed", data={"users": [user_id for user_id, _k, _r in differences]})
    db.session.commit()
    click.echo(f"kept scores fixed: {len(differences)}")


trust_cli = AppGroup("trust", help="The red and black lists.")


@trust_cli.command("red-list")
@click.option("--force", is_flag=True, help="Compute a new edition even if this month's exists already.")
def trust_red_list(force: bool) -> None:
    """Publish this month's red-list edition (run it monthly from cron; once a month unless --force)."""
    from marketplace.trust import redlist

    edition, created = redlist.compute_edition(force=force)
    sellers = len(redlist.standing(edition))
    db.session.commit()
    if created:
        click.echo(f"red list {edition.period} published (edition {edition.id}): {sellers} sellers")
    else:
        click.echo(
            f"red list {edition.period} was published already (edition {edition.id}): {sellers} sellers; "
            "--force computes a new one"
        )


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def _echo_counts(found, heading: str) -> None:
    tables = [f"{name} {n}" for name, n in found.counts.items() if n]
    click.echo(f"{heading}: {found.rows} rows in {len(found.counts)} tables ({len(tables)} not empty)")
    for start in range(0, len(tables), 6):
        click.echo("  " + ", ".join(tables[start : start + 6]))


class _PageBar:
    """A click progress bar made at the first report, when the page count is known."""

    def __init__(self, label: str):
        self.label, self.bar = label, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), label=self.label)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _leftovers(instance, engine) -> None:
    """What the database file does not hold and the operator must keep: keys, photos."""
    from pathlib import Path

    from marketplace import backup as bk
    from marketplace.identity.crypto import KEY_FILES

    instance = Path(instance)
    if bk.identity_data_in(engine):
        click.echo(
            f"NOT IN THE BACKUP: the identity keys {', '.join(KEY_FILES)} in {instance}. The backup's real-name "
            "data is encrypted with them and useless without them: keep a copy of them apart from the backups "
            "(a secret store), never next to them.",
            err=True,
        )
    photos = bk.photo_files(instance)
    if photos:
        click.echo(
            f"NOT IN THE BACKUP: {photos} listing photo files in {instance / 'uploads' / 'listings'}: "
            "back them up together with it (rows name files).",
            err=True,
        )


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=str))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def backup_command(path: str, force: bool) -> None:
    """Write a verified copy of the database to PATH, safe while the server runs.

    SQLite: an online copy (SQLite's backup API), checked with PRAGMA integrity_check and the audit
    chain. PostgreSQL: pg_dump --format=custom, read back in full. The instance folder's key files
    and listing photos are not in it (the command says what to keep apart).
    """
    from pathlib import Path

    from flask import current_app

    from marketplace import backup as bk

    target = Path(path).absolute()
    url = db.engine.url
    try:
        if url.get_backend_name() == "sqlite":
            source = url.database
            if not source or source == ":memory:" or source.startswith("file:"):
                raise bk.BackupError(f"cannot back up the SQLite database {url.database!r}: give it as a file path")
            bar = _PageBar("copying pages")
            try:
                found = bk.backup_sqlite(Path(source), target, force=force, progress=bar)
            finally:
                bar.close()
            chain = bk.verify_sqlite_chain(target)
        elif url.get_backend_name() == "postgresql":
            click.echo("pg_dump is writing the archive (no progress to show)...")
            found = bk.backup_postgresql(url, target, force=force)
            chain = None
        else:
            raise bk.BackupError(f"backups of {url.get_backend_name()} databases are not supported")
    except bk.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # a full disk, a folder that is not writable
        raise click.ClickException(f"could not write {path}: {exc.strerror or exc}") from None
    click.echo(f"wrote {target}: {_size(target.stat().st_size)}, schema revision {found.revision}")
    _echo_counts(found, "backed up")
    if url.get_backend_name() == "sqlite":
        click.echo("integrity_check: ok")
    else:
        click.echo("archive read back in full: ok (the audit chain is verified by `restore`)")
    with read_only():
        _leftovers(current_app.instance_path, db.engine)
    if chain is not None:
        if not chain.ok:
            raise click.ClickException(
                f"the backup is written, but its audit chain is broken at entry {chain.first_bad} "
                f"({chain.entries} entries verified before it): so is the live database's (`flask audit verify`)"
            )
        click.echo(f"audit chain: ok {chain.entries} entries")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=str))
@click.option("--force", is_flag=True, help="Replace the configured database even if it holds data.")
@click.option(
    "--allow-broken-chain", is_flag=True, help="Restore a SQLite backup even if its audit chain does not verify."
)
def restore_command(path: str, force: bool, allow_broken_chain: bool) -> None:
    """Replace the configured database with the backup at PATH (stop the server first).

    The backup is checked before anything is touched (SQLite: integrity_check, a schema this release
    knows, the audit chain; PostgreSQL: the archive read in full); a database that holds data is
    replaced only with --force. Afterwards the audit chain is verified, the row counts printed and
    the instance folder's identity keys checked against the restored data.
    """
    from pathlib import Path

    from flask import current_app

    from marketplace import backup as bk
    from marketplace.audit.service import verify_chain

    source = Path(path).absolute()
    url = db.engine.url
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
                raise bk.BackupError(
                    f"cannot restore into the SQLite database {url.database!r}: give it as a file path"
                )
            found = bk.check_sqlite_file(source)
            note = bk.schema_note(found.revision)
            _echo_counts(found, f"{source} checked (integrity_check ok)")
            chain = bk.verify_sqlite_chain(source)
            if not chain.ok and not allow_broken_chain:
                raise bk.BackupError(
                    f"the backup's audit chain is broken at entry {chain.first_bad}: it was altered after it was "
                    "written. Restore another backup, or --allow-broken-chain to restore this one as it is"
                )
        elif backend == "postgresql":
            bk.check_pg_archive(source)
            archive_revision = bk.pg_archive_revision(source)
            note = bk.schema_note(archive_revision)
            click.echo(f"{source} checked (archive read in full)")
        else:
            raise bk.BackupError(f"restores into {backend} databases are not supported")
        try:
            with read_only():
                current = bk.contents(db.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise bk.BackupError(f"could not read the configured database: {exc.orig or exc}") from None
        if backend == "postgresql" and current.revision and current.revision != archive_revision:
            # pg_restore --clean drops only what the archive holds: tables of a newer schema would stay.
            raise bk.BackupError(
                f"the configured database is at schema revision {current.revision}, the backup at "
                f"{archive_revision}: restore into an empty database (dropdb and createdb), then db upgrade"
            )
        if current.data_rows:
            if not force:
                _echo_counts(current, "the configured database holds")
                raise bk.BackupError(
                    f"the configured database is not empty ({current.data_rows} rows of data): "
                    "--force replaces them all with the backup"
                )
            _echo_counts(current, "replacing what the configured database holds")
        db.session.remove()
        db.engine.dispose()
        if backend == "sqlite":
            bar = _PageBar("restoring pages")
            try:
                bk.restore_sqlite(source, Path(url.database), progress=bar)
            finally:
                bar.close()
        else:
            bk.restore_postgresql(url, source)
        db.engine.dispose()
    except bk.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    with read_only():
        restored = bk.contents(db.engine)
        report = verify_chain()
    _echo_counts(restored, "restored")
    if note:
        click.echo(note, err=True)
    with read_only():
        keys_ok, why = bk.keys_match(Path(current_app.instance_path), db.engine)
    click.echo(why, err=keys_ok is not True)
    if bk.photo_files(Path(current_app.instance_path)) == 0 and restored.counts.get("listing_photos"):
        click.echo(
            f"the database names listing photos, but {Path(current_app.instance_path) / 'uploads' / 'listings'} "
            "holds none: restore the photo files from their backup",
            err=True,
        )
    if not report.ok:
        raise click.ClickException(
            f"restored, but the audit chain is broken at entry {report.first_bad} "
            f"({report.entries} entries verified before it)"
        )
    click.echo(f"audit chain: ok {report.entries} entries")
    if keys_ok is False:
        raise click.ClickException("restored, but the identity keys do not fit the data (above)")


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app."""
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(identity_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(maintenance)
    app.cli.add_command(credit_cli)
    app.cli.add_command(trust_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    from marketplace.listings.bulk import seed_bulk

    app.cli.add_command(seed_bulk)
