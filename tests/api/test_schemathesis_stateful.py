"""Stateful API fuzzing: schemathesis chains operations along the OpenAPI links of our document.

A scenario starts at an operation that makes something (a listing, an order, a report, an event, a
token...) and follows the links its response offers: create → read → act (POST /listings →
GET /listings/{id} → POST /listings/{id}/orders → POST /orders/{id}/accept → …/complete → …/ratings).
Every response is checked with not_a_server_error, status_code_conformance, content_type_conformance
and response_schema_conformance.

Each operation is called as the person who would call it (the seller accepts, the buyer completes,
a moderator decides, a supervisor confirms a black-list entry), so chains get past the permission
checks and reach the state changes. Only the links written in the document are followed (schemathesis'
own link inference is switched off), and operations on an id are reached only through them, so the
test also fails when no link leads anywhere. The database is put back before every scenario, which
keeps a scenario a function of hypothesis' choices (replayable, and derandomised in CI).
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.stateful.state_machine import normalize_name

from tests.api.test_schemathesis import CHECKS
from tests.identity.factories import make_id_number

# Who calls which operation; any other operation is called by the seller.
ACTORS = {
    "buyer": (
        "create_order",
        "complete_order",
        "dispute_order",
        "create_rating",
        "create_report",
        "post_order_message",
        "create_registration",
        "cancel_registration",
        "get_registration",
        "create_swap",
        "withdraw_swap",
        "get_swap",
    ),
    "moderator": (
        "decide_report",
        "list_reports",
        "list_verifications",
        "approve_verification",
        "reject_verification",
        "list_flagged",
        "list_appeals",
        "certify_listing",
        "resolve_order",
        "create_event",
        "patch_event",
        "cancel_event",
        "get_event_summary",
        "list_event_registrations",
        "create_checkin",
    ),
    "supervisor": (
        "confirm_blacklist_entry",
        "reject_blacklist_entry",
        "adjust_user_credit",
        "decide_appeal",
        "get_user_credit",
        "supervision_blacklist",
        "verify_audit_chain",
        "export_blacklist_csv",
    ),
    "newcomer": ("submit_verification",),
    "anonymous": ("create_user", "create_token", "list_listings", "get_red_list", "list_black_list"),
}
ACTOR_OF = {op: actor for actor, ops in ACTORS.items() for op in ops}

# Bodies the service accepts, where a random one almost never would, so chains get past the first step:
# a listing in a category without a checklist (the generated category is kept unless it has one, and
# the generated price is kept), the buyer's three scores, a login of one of the residents, an event
# in three weeks, the newcomer's identity with a right check digit.
LISTING = {"title": "九成新 公路自行车", "description": "通勤用了一年，刹车刚换过。", "district": "jinfeng"}
GRADED = ("phone", "appliance", "vehicle")
SCORES = {"accuracy": 5, "communication": 4, "punctuality": 5}
LOGINS = ("st_seller", "st_buyer")
_START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
EVENT = {
    "title": "宁大旧物集市",
    "venue": "宁夏大学怀远校区东门广场",
    "kind": "community_swap",
    "district": "xixia",
    "restriction": "none",
    "campus": None,
    "starts_at": _START.isoformat(),
    "ends_at": (_START + timedelta(hours=4)).isoformat(),
    "registration_deadline": None,
}
IDENTITY = {"real_name": "王五", "id_number": make_id_number(birth="19880808", seq=7), "phone": "13900000007"}


@pytest.fixture
def cast(app, db, tmp_path, verified_user, make_user):
    """cast() → {person: bearer headers} on a database holding only the cast, the same for every scenario.

    Two verified residents, two staff members and an unverified newcomer. Hypothesis replays a scenario
    to shrink it: with the rows of earlier scenarios still there, the same choices would meet other
    answers and the replay would be flaky. So the database is put back as it was once the cast was made:
    on SQLite from a copy of the file, on PostgreSQL from copies of the tables in a schema of their own.
    """
    from marketplace.accounts.service import issue_token

    users = {
        "seller": verified_user(LOGINS[0], real_name="张小三"),
        "buyer": verified_user(LOGINS[1], real_name="李四"),
        "moderator": make_user("st_mod", roles=("moderator", "inspector", "organiser")),
        "supervisor": make_user("st_sup", roles=("supervisor", "admin")),
        "newcomer": make_user("st_new"),
    }
    headers = {
        name: {"Authorization": f"Bearer {issue_token(user, timedelta(hours=2))[0]}"} for name, user in users.items()
    }
    headers["anonymous"] = {}
    db.session.commit()
    db.session.remove()
    db.engine.dispose()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        path, snapshot = uri.removeprefix("sqlite:///"), tmp_path / "cast.db"
        shutil.copyfile(path, snapshot)

        def restore() -> None:
            shutil.copyfile(snapshot, path)
    else:
        restore_sql = _pg_snapshot(db.engine)

        def restore() -> None:
            with db.engine.begin() as conn:
                conn.exec_driver_sql(restore_sql)

    def reset() -> dict[str, dict]:
        db.session.remove()
        db.engine.dispose()
        restore()
        return headers

    yield reset
    if not uri.startswith("sqlite:///"):
        db.session.remove()
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {SNAPSHOT} CASCADE")


SNAPSHOT = "stateful_cast"


def _pg_snapshot(engine) -> str:
    """Copy every table (and the sequences' positions) into schema SNAPSHOT; return the SQL that restores them."""
    with engine.begin() as conn:
        columns = conn.exec_driver_sql(
            "SELECT quote_ident(c.relname), string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'alembic_version'"
            " AND a.attgenerated = '' GROUP BY c.relname"  # generated columns (search vectors) are computed again
        ).all()
        sequences = conn.exec_driver_sql(
            "SELECT quote_ident(sequencename), last_value FROM pg_sequences WHERE schemaname = 'public'"
        ).all()
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SNAPSHOT} CASCADE; CREATE SCHEMA {SNAPSHOT}")
        for table, names in columns:
            conn.exec_driver_sql(f"CREATE TABLE {SNAPSHOT}.{table} AS SELECT {names} FROM public.{table}")
    statements = ["SET LOCAL session_replication_role = replica;"]  # no triggers: append-only guards, foreign keys
    for table, names in columns:
        statements.append(f"DELETE FROM public.{table};")
        statements.append(
            f"INSERT INTO public.{table} ({names}) OVERRIDING SYSTEM VALUE SELECT {names} FROM {SNAPSHOT}.{table};"
        )
    for sequence, last_value in sequences:
        restart = f"SELECT setval('public.{sequence}', {last_value});"
        statements.append(restart if last_value else f"ALTER SEQUENCE public.{sequence} RESTART;")
    return "\n".join(statements)


def test_linked_operations_conform_to_the_document(app, cast, password, record_property):
    config = SchemathesisConfig.from_dict({"phases": {"stateful": {"inference": {"algorithms": []}}}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    stats: Counter[str] = Counter()
    headers: dict[str, dict] = {}
    issued: set[str] = set()  # tokens a scenario got from POST /auth/token, used along the token link

    class Machine(schema.as_state_machine()):
        def setup(self):
            headers.update(cast())
            issued.clear()
            stats["scenarios"] += 1

        def before_call(self, case):
            op = case.operation.definition.raw["operationId"]
            body = case.body
            if op == "create_token" and isinstance(body, dict):
                case.body = {"username": LOGINS[len(str(body.get("username"))) % 2], "password": password}
            elif op == "create_listing" and isinstance(body, dict):
                category = body.get("category") if body.get("category") not in GRADED else "books"
                case.body = {**body, **LISTING, "category": category, "grading": None, "event_id": None}
            elif op == "create_rating" and isinstance(body, dict):
                case.body = {**body, "scores": SCORES}
            elif op == "create_event" and isinstance(body, dict):
                stalls = body.get("capacity")
                stalls = stalls if type(stalls) is int and 1 <= stalls <= 50 else 10
                case.body = {**body, **EVENT, "capacity": stalls}
            elif op == "submit_verification" and isinstance(body, dict):
                case.body = IDENTITY
            sent = dict(case.headers or {})
            if sent.get("Authorization") not in issued:
                sent.pop("Authorization", None)
                sent.update(headers[ACTOR_OF.get(op, "seller")])
                case.headers = sent

        def after_call(self, response, case):
            super().after_call(response, case)
            op = case.operation.definition.raw["operationId"]
            stats["steps"] += 1
            if response.status_code < 300:
                stats[f"{op} {response.status_code}"] += 1
                if case.operation.path_parameters:
                    stats["linked"] += 1
                if op == "create_token":
                    issued.add("Bearer " + response.json()["token"])

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    # A scenario starts where something is made or listed (POST /listings, POST /auth/token, GET /listings…):
    # an operation on /orders/{order_id} with a made-up id only meets a 404, so it is reached through links.
    operations = [result.ok() for result in schema.get_all_operations()]
    for op in operations:
        name = normalize_name(f"RANDOM -> {op.label}")
        if op.path_parameters and name in Machine.root_rules:
            setattr(Machine, name, None)
    Machine.root_rules = frozenset(name for name in Machine.root_rules if getattr(Machine, name) is not None)
    assert Machine.root_rules, "no operation can start a scenario"

    Machine.run(
        settings=settings(
            max_examples=20,
            stateful_step_count=12,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    reached = ", ".join(f"{key}×{n}" for key, n in sorted(stats.items()) if key[-1].isdigit())
    assert stats["linked"], f"no operation on an id answered 2xx: the links lead nowhere ({reached})"
    record_property("stateful", f"{stats['scenarios']} scenarios, {stats['steps']} steps; 2xx: {reached}")
    print(f"\n{stats['scenarios']} scenarios, {stats['steps']} steps; 2xx: {reached}")
