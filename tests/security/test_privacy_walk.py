"""Privacy: no unmasked ID number or phone number on any route, for any role, nor in plain in the database.

The walk requests every GET route of the app (pages with a signed-in browser, API routes with the
role's bearer token), its URL arguments filled from the populated world, including objects that
belong to someone else, as the anonymous visitor and as each role. Each answer (body, headers, URL)
and each log record written while answering is searched for the world's raw numbers and for
anything that looks like an ID or phone number (tests.pii.find_pii). The PiiWatch of the app
fixture sees the same responses; the explicit checks here name the route and the role.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.pii import find_pii
from tests.security.world import *  # noqa: F403
from tests.security.world import Visitors, plan_walk, raw_identities, who

# Routes that answer 200 to nobody in the walk, and why that is right.
NEVER_OK = {
    "events.offer_form": "a swap offer form only for a participant other than the wanted listing's seller, on a live "
    "event's listing: the walk's combinations of event and listing are tried as every role, none fits all three",
}


def _leaks(where: str, text: str, world) -> list[str]:
    found = [f"{where}: {hit[:3]}… (pattern)" for hit in find_pii(text)]
    for number in (*world.id_numbers, *world.phones):
        if number in text or number.lower() in text:
            found.append(f"{where}: {number[:3]}… (raw)")
    return found


def _response_text(response) -> str:
    body = response.get_data()
    textual = (response.mimetype or "text/").startswith(("text/", "application/"))
    parts = [body.decode("utf-8", "replace") if textual else body.decode("latin-1")]
    parts += [f"{key}: {value}" for key, value in response.headers.items()]
    parts.append(response.request.url)
    return "\n".join(parts)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.texts.append(f"{record.name}: {text}")


@pytest.mark.once  # what pages show; the database check below runs on PostgreSQL too
def test_every_route_as_every_role_shows_no_personal_number(app, world, login, token_for):
    walk = plan_walk(app, world)
    assert not walk.unfillable, "GET routes the walk cannot fill (add their arguments to the world, or to SKIP with "
    "a reason): " + "; ".join(walk.unfillable)
    visitors = Visitors(app, world, login, token_for)
    records = _Records()
    logging.getLogger().addHandler(records)
    leaks: list[str] = []
    answered: dict[str, set[str]] = defaultdict(set)
    lists: dict[str, set] = defaultdict(set)  # API list paths → the roles that may read them
    requests = 0
    try:
        for endpoint, path, first in walk.urls:
            for role in visitors.roles_for(first):
                records.texts.clear()
                response = visitors.get(role, path)
                requests += 1
                where = f"{who(role)} GET {path}"
                leaks += _leaks(where, _response_text(response), world)
                leaks += _leaks(where + " log", "\n".join(records.texts), world)
                if response.status_code == 200:
                    answered[endpoint].add(who(role))
                    if path.startswith("/api/") and response.is_json and "next_cursor" in (response.get_json() or {}):
                        lists[path].add(role)
        # The API's lists, a page of one item at a time to the end (every item is shown once).
        pages = 0
        for path, roles in sorted(lists.items(), key=lambda item: item[0]):
            for role in sorted(roles, key=who):
                cursor, seen = None, 0
                while seen < 60:
                    query = {"limit": 1, **({"cursor": cursor} if cursor else {})}
                    records.texts.clear()
                    response = visitors.get(role, path, query_string=query)
                    pages += 1
                    where = f"{who(role)} GET {path}?limit=1 (page {seen + 1})"
                    assert response.status_code == 200, f"{where}: {response.status_code}"
                    leaks += _leaks(where, _response_text(response), world)
                    leaks += _leaks(where + " log", "\n".join(records.texts), world)
                    cursor = response.get_json()["next_cursor"]
                    seen += 1
                    if not cursor:
                        break
                assert cursor is None, f"{who(role)} GET {path}: still a next page after {seen} pages of one item"
            role = sorted(roles, key=who)[0]
            for bad in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"cursor": "not-a-cursor'--"}):
                response = visitors.get(role, path, query_string=bad)
                requests += 1
                assert response.status_code in (200, 400, 422), f"{who(role)} GET {path} {bad}: {response.status_code}"
                leaks += _leaks(f"{who(role)} GET {path} {bad}", _response_text(response), world)
    finally:
        logging.getLogger().removeHandler(records)

    print(  # the figures for the report (pytest -s)
        f"\nprivacy walk: {len(walk.urls)} URLs of {len(walk.endpoints)} GET routes, {len(visitors.roles)} roles:"
        f" {requests} requests, {pages} list pages of one item over {len(lists)} API lists;"
        f" skipped {sorted(walk.skipped)}"
    )
    assert not leaks, f"{len(leaks)} unmasked personal numbers: " + "; ".join(leaks[:20])
    never = sorted(walk.endpoints - set(answered) - set(NEVER_OK))
    assert not never, "routes no role could open in the walk (their arguments are wrong?): " + ", ".join(never)
    # The walk reaches what it should: other people's private pages are refused, staff pages open to staff.
    assert "anonymous" not in answered["orders.detail"] and "buyer" in answered["orders.detail"]
    assert answered["identity.review"] == {"moderator"}
    assert {"supervisor"} <= answered["supervision.entry"] and "seller" not in answered["supervision.entry"]
    assert len(lists) >= 10, sorted(lists)


def _stored_text(app, db) -> tuple[str, str]:
    """Every byte the database holds, as text: (description, text)."""
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
        main = Path(url.database)
        with contextlib.closing(sqlite3.connect(main)) as conn:  # fold the WAL into the file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        files = [p for p in (main, Path(f"{main}-wal"), Path(f"{main}-shm")) if p.exists()]
        assert main.stat().st_size > 0
        return ", ".join(p.name for p in files), "".join(p.read_bytes().decode("latin-1") for p in files)
    # PostgreSQL: every row of every table, as PostgreSQL's own text form of the row (all columns).
    parts = []
    tables = db.session.scalars(
        sa.text("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    ).all()
    for table in tables:
        parts += db.session.scalars(sa.text(f"SELECT CAST(t AS text) FROM {table} AS t")).all()
    binary = db.session.execute(
        sa.text(
            "SELECT quote_ident(table_name), quote_ident(column_name) FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = 'bytea'"
        )
    ).all()
    for table, column in binary:
        parts += db.session.scalars(sa.text(f"SELECT encode({column}, 'escape') FROM {table}")).all()
    return f"{len(tables)} tables", "\n".join(p for p in parts if p)


def test_the_database_holds_no_plain_number(app, db, world, client, api, make_user, login, password):
    from marketplace.audit.models import AuditEntry
    from tests.identity.factories import make_id_number, make_phone

    # Two more verifications through the web form and the API, as people send them (with spaces, +86, a lower x).
    form_number, form_phone = make_id_number(region="640105"), make_phone()
    login(make_user("w_formuser"))
    response = client.post(
        "/me/verification",
        data={"kind": "resident", "real_name": "冯表单", "id_number": form_number, "phone": f"+86 {form_phone}"},
    )
    assert response.status_code in (200, 302), response.status_code
    api_number, api_phone = make_id_number(region="640106"), make_phone()
    make_user("w_apiuser")
    token = api.post("/api/v1/auth/token", json={"username": "w_apiuser", "password": password}).get_json()["token"]
    response = api.post(
        "/api/v1/me/verification",
        json={"real_name": "褚接口", "id_number": api_number.lower(), "phone": api_phone},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (201, 202), response.get_json()
    ids, phones = raw_identities(db)
    assert {form_number, api_number} <= ids and {form_phone, api_phone} <= phones
    numbers = sorted(ids | phones)
    assert len(numbers) >= 20

    # The audit log, row by row: nothing that looks like a number, none of the raw ones.
    audit = [" ".join(str(v) for v in row) for row in db.session.execute(sa.select(AuditEntry.__table__))]
    assert len(audit) >= 15, "the world writes decisions, list changes, roles and adjustments to the audit log"
    audit_text = "\n".join(audit)
    assert not find_pii(audit_text), [hit[:3] for hit in find_pii(audit_text)]
    assert not [n[:3] for n in numbers if n in audit_text or n.lower() in audit_text]

    # The database itself, byte for byte (SQLite: the file; PostgreSQL: every row of every table).
    what, stored = _stored_text(app, db)
    assert "xss-" in stored, f"{what}: the dump holds the world's text (else the search below proves nothing)"
    found = [n[:3] + "…" for n in numbers if n in stored or n.lower() in stored]
    assert not found, f"plain personal numbers in the database ({what}): {found}"
