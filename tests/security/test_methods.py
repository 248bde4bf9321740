"""A GET never changes state, and a route that only changes state refuses GET and HEAD.

Both walks go over app.url_map as it is, so a new route is walked the day it appears: its
arguments are filled from one small world (`world` below, also used by test_csrf.py) and a
route whose arguments cannot be filled fails the walk until FILL (or SKIP, with a reason)
names it. "Changes nothing" is checked on the content of every table, not only row counts.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.routing.converters import AnyConverter

from tests.events.conftest import *  # noqa: F403 - students, organisers, events, registrations, listings brought
from tests.listings.sellers import jpeg_bytes

STATE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Written by every process that commits (the public page cache's invalidation tokens): not application state.
VOLATILE_TABLES = {"cache_versions"}

# Routes the GET walk leaves out, with the reason.
SKIP_GET: dict[str, str] = {}
# The only writes a GET may make, by design: (endpoint, table) → why.
GET_WRITES = {
    ("supervision.export", "audit_log"): "a supervisor's export of the black list is audited (DESIGN: exports)",
    ("api.export_blacklist_csv", "audit_log"): "the same export through the API",
}

_ARG = re.compile(r"<(?:[^:<>]+:)?(\w+)>")


# --- the world -------------------------------------------------------------------------------------


@pytest.fixture
def world(
    db,
    seller,
    buyer,
    phone,
    make_listing,
    make_order,
    make_student,
    make_event,
    register,
    bring,
    reporters,
    moderator,
    report,
    decide,
    verified_user,
    make_user,
    submit_request,
):
    """One object of every kind a route takes an id of, most of them the seller's.

    seller: owns listings (one with a photo), sold `phone` to buyer (both rated), has a stall at a
    community swap and a swap offer from buyer, notices. boss: every staff role and the swap's
    organiser. penalised: a confirmed counterfeit (decision, pending black-list entry, appeal).
    """
    from marketplace.events import swaps
    from marketplace.listings import photos
    from marketplace.moderation import appeals
    from marketplace.notices.models import Notice
    from marketplace.ratings import service as ratings

    boss = make_student("nxu", "boss", roles=("organiser", "inspector", "moderator", "supervisor", "admin"))
    order = make_order(listing=phone, status="completed")
    by_buyer = ratings.rate(buyer, order, {"accuracy": 5, "communication": 4, "punctuality": 5}, "和描述一致。")
    ratings.rate(seller, order, {"punctuality": 5, "communication": 5}, "买家很守时。")
    db.session.commit()

    spare = make_listing(title="小米空气净化器 4", category="other", grading=None)
    upload = FileStorage(io.BytesIO(jpeg_bytes()), filename="a.jpg", content_type="image/jpeg")
    photos.add_photos(seller, spare, [photos.prepare(upload)])
    db.session.commit()
    photo = spare.photos[0]
    requested = make_order(listing=make_listing(title="九成新 Kindle 阅读器"), status="requested")

    fair = make_event("community_swap", by=boss, stalls=5)
    registration = register(seller, fair)
    register(buyer, fair)
    (mine,) = bring(seller, fair)
    (theirs,) = bring(buyer, fair)
    offer = swaps.make_offer(buyer, fair, mine.id, [theirs.id], "换你这台，可以吗？")
    db.session.commit()

    penalised = verified_user("penalised", real_name="郑罚")
    fake = make_listing(user=penalised, title="全新 AirPods Pro")
    decision = decide(moderator, report(reporters[0], fake, reason="counterfeit"), "confirmed", "counterfeit")
    appeal = appeals.file(penalised, decision.id, "这是正品，有购买发票，可以提供给审核员核实。")
    db.session.commit()
    open_report = report(reporters[1], make_listing(title="二手 iPad 2021"))
    applicant = submit_request(make_user("applicant"))
    notice = db.session.scalar(sa.select(Notice).where(Notice.user_id == seller.id).order_by(Notice.id))
    ids = {
        "listing_id": spare.id,
        "photo_id": photo.id,
        "name": photo.stem,
        "order_id": order.id,
        "rating_id": by_buyer.id,
        "event_id": fair.id,
        "registration_id": registration.id,
        "offer_id": offer.id,
        "notice_id": notice.id,
        "decision_id": decision.id,
        "appeal_id": appeal.id,
        "entry_id": decision.blacklist_entry.id,
        "report_id": open_report.id,
        "request_id": applicant.id,
        "verification_id": applicant.id,
        "user_id": buyer.id,
        "role": "resident",
        "category": "phone",
        "fmt": "csv",
        "code": "en",
        "filename": "css/site.css",
    }
    # Where one name means different objects: (endpoint, argument) → value.
    special = {
        ("events.offer_form", "listing_id"): mine.id,
        ("events.detach", "listing_id"): mine.id,
        ("api.detach_listing", "listing_id"): mine.id,
        ("orders.action", "order_id"): requested.id,
        ("api.accept_order", "order_id"): requested.id,
        ("api.cancel_order", "order_id"): requested.id,
        ("listings.detail", "listing_id"): phone.id,
    }
    return SimpleNamespace(
        seller=seller, buyer=buyer, boss=boss, penalised=penalised, ids=ids, special=special, phone=phone, spare=spare
    )


def urls_for(rule, world) -> list[str] | None:
    """Every URL of a rule with its arguments filled from the world (each value of an `any`), or None."""
    choices = []
    for name in _ARG.findall(rule.rule):
        converter = rule._converters.get(name)
        if isinstance(converter, AnyConverter):
            choices.append(sorted(converter.items))
            continue
        value = world.special.get((rule.endpoint, name), world.ids.get(name))
        if value is None:
            return None
        choices.append([value])
    names = _ARG.findall(rule.rule)
    urls = []
    for combo in itertools.product(*choices):
        values = dict(zip(names, combo, strict=True))
        urls.append(_ARG.sub(lambda m, v=values: str(v[m.group(1)]), rule.rule))
    return urls


def snapshot(db) -> dict[str, str]:
    """A digest of every table's content (volatile ones left out)."""
    from marketplace.db import db as _db

    _db.session.commit()
    digest = {}
    with _db.engine.connect() as conn:
        for table in _db.metadata.sorted_tables:
            if table.name in VOLATILE_TABLES:
                continue
            rows = conn.execute(sa.select(table)).all()
            text = "\n".join(sorted(repr(tuple(row)) for row in rows))
            digest[table.name] = f"{len(rows)}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    return digest


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])


def signed_in(app, login, user):
    c = app.test_client()
    login(user, c)
    return c


def rules_by_path(app) -> dict[str, set[str]]:
    methods: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        methods.setdefault(rule.rule, set()).update(rule.methods - {"OPTIONS"})
    return methods


# --- the walks -------------------------------------------------------------------------------------


def test_routes_that_only_change_state_refuse_get_and_head(app, db, login, token_for, world):
    page = signed_in(app, login, world.seller)
    headers = token_for(world.seller)
    by_path = rules_by_path(app)
    failures, unfilled, walked = [], [], 0
    before = snapshot(db)
    for rule in app.url_map.iter_rules():
        if "GET" in by_path[rule.rule]:
            continue
        urls = urls_for(rule, world)
        if urls is None:
            unfilled.append(rule.endpoint)
            continue
        for url in urls:
            for method in ("GET", "HEAD"):
                walked += 1
                is_api = url.startswith("/api/")
                resp = (page if not is_api else app.test_client()).open(
                    url, method=method, headers=headers if is_api else None
                )
                if resp.status_code != 405:
                    failures.append(f"{method} {url} ({rule.endpoint}): {resp.status_code}")
                elif method == "GET" and "POST" not in resp.headers.get("Allow", "") and rule.methods & {"POST"}:
                    failures.append(f"{method} {url}: Allow header {resp.headers.get('Allow')!r}")
        after = snapshot(db)
        if changed(before, after):
            failures.append(f"{rule.endpoint}: GET/HEAD changed {changed(before, after)}")
            before = after
    assert not unfilled, f"routes the walk cannot fill (add them to the world): {unfilled}"
    assert walked >= 100, walked  # every POST-only page and API route, twice
    assert not failures, "\n".join(failures)


def test_no_get_changes_anything(app, db, login, token_for, world):
    """Every GET route, as the seller (owner of most objects) and as a user with every staff role."""
    clients = {who: signed_in(app, login, getattr(world, who)) for who in ("seller", "boss")}
    tokens = {who: token_for(getattr(world, who)) for who in ("seller", "boss")}
    api = app.test_client()
    failures, unfilled, seen, statuses = [], [], set(), {}
    before = snapshot(db)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in SKIP_GET:
            continue
        urls = urls_for(rule, world)
        if urls is None:
            unfilled.append(rule.endpoint)
            continue
        seen.add(rule.endpoint)
        for url, who in itertools.product(urls, ("seller", "boss")):
            resp = api.get(url, headers=tokens[who]) if url.startswith("/api/") else clients[who].get(url)
            statuses.setdefault(resp.status_code, 0)
            statuses[resp.status_code] += 1
            after = snapshot(db)
            writes = [t for t in changed(before, after) if (rule.endpoint, t) not in GET_WRITES]
            if writes:
                failures.append(f"GET {url} as {who} ({resp.status_code}) changed {writes}")
            before = after
    assert not unfilled, f"GET routes the walk cannot fill (add them to the world or SKIP_GET): {unfilled}"
    assert not set(SKIP_GET) - {r.endpoint for r in app.url_map.iter_rules()}, "SKIP_GET names a route that is gone"
    # The walk reached real pages, not only refusals.
    assert statuses.get(200, 0) >= len(seen), statuses
    assert not failures, "\n".join(failures)
