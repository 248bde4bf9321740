"""SQL metacharacters and other hostile values in every search and filter parameter.

Every query parameter a page reads (PAGE_PARAMS, checked against the source so that a new one must
be added here) and every query parameter of the API (read from /api/v1/openapi.json) gets each of
PAYLOADS, one parameter at a time, and then repeated: the answer is 200 with a page (or JSON), or a
4xx that says what is wrong (problem+json on the API), never a 5xx; no table changes. Search treats
% and _ as the text they are (there is no LIKE: the full-text index is queried with tokens).
"""

from __future__ import annotations

import pathlib
import re
from urllib.parse import urlencode

import pytest

from tests.events.conftest import *  # noqa: F403 - the world's fixtures
from tests.security import test_methods
from tests.security.test_methods import GET_WRITES, changed, signed_in, snapshot
from tests.statements import count_statements

world = test_methods.world  # the fixture: one object of every kind

PAYLOADS = [
    "' OR 1=1 --",
    '"; DROP TABLE users; --',
    "1; SELECT pg_sleep(1)",
    "%",
    "_",
    "\\",
    "%%'",
    "1e309",
    "-1",
    "99999999999999999999",
    "NaN",
    "手机😀🛒",
    "\u202eevil\u202c",  # right-to-left override
    "ＡＢＣ１２３％＿",  # full-width letters, digits, percent and underscore
    "\x00",  # refused before any view (400), never reaches SQL
    "x" * 2000,
]

# Every query parameter a page reads, by URL ({ids} from the world). The walk signs in as `boss`
# (every staff role, the event's organiser) for staff pages and as `seller` for the rest.
PAGE_PARAMS = {
    "/search": ["q", "category", "grade", "district", "min_price", "max_price", "seller", "sort", "cursor"],
    "/events": ["kind", "district", "past", "after"],
    "/events/calendar": ["month"],
    "/events/{event_id}": ["q", "cursor"],
    "/events/{event_id}/checkin": ["code", "done"],
    "/my/listings": ["before"],
    "/me/purchases": ["status", "before"],
    "/me/sales": ["status", "before"],
    "/notices": ["before"],
    "/users/{user_id}": ["before"],
    "/black": ["before"],
    "/red": ["before"],
    "/moderation/reports": ["page"],
    "/moderation/appeals": ["after"],
    "/moderation/disputes": ["after"],
    "/inspect": ["before"],
    "/supervision/blacklist": ["proposed_from", "proposed_to", "reason", "state", "before"],
    "/supervision/export/blacklist.csv": ["proposed_from", "proposed_to", "reason", "state"],
    "/admin/users": ["q", "after"],
    "/login": ["next"],
}
STAFF = ("/moderation", "/supervision", "/admin", "/inspect", "/events/{event_id}/checkin", "/api/v1/moderation")
STAFF += ("/api/v1/supervision",)


def _source_params() -> set[str]:
    """The query parameter names the views read, found in the source."""
    import marketplace

    root = pathlib.Path(marketplace.__file__).parent
    found: set[str] = set()
    patterns = (
        r"""args\.get\(\s*["'](\w+)["']""",
        r"""_(?:before|id_arg|price_filter)\(\s*["'](\w+)["']""",
    )
    for path in root.rglob("*.py"):
        if "api" in path.parts or path.name == "api.py":
            continue  # the API's parameters come from its OpenAPI document
        text = path.read_text(encoding="utf-8")
        for pattern in patterns:
            found.update(re.findall(pattern, text))
    from marketplace.supervision.service import FILTER_FIELDS

    return found | set(FILTER_FIELDS)


def test_the_table_names_every_parameter_the_pages_read():
    named = {p for params in PAGE_PARAMS.values() for p in params}
    assert _source_params() <= named, sorted(_source_params() - named)


def _api_params(app) -> dict[str, list[str]]:
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    found = {}
    for path, operations in doc["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        names = [p["name"] for p in get.get("parameters", []) if p.get("in") == "query"]
        if names:
            found["/api/v1" + path if not path.startswith("/api/") else path] = names
    return found


def _check(resp, what: str, failures: list[str]) -> None:
    status, is_api = resp.status_code, what.split()[1].startswith("/api/")
    if status >= 500:
        failures.append(f"{what}: {status}")
    elif status == 200:
        if resp.mimetype == "text/html" and "</html>" not in resp.get_data(as_text=True):
            failures.append(f"{what}: 200 without a whole page")
        if resp.mimetype == "application/json" and resp.get_json(silent=True) is None:
            failures.append(f"{what}: 200 with unreadable JSON")
    elif 400 <= status < 500:
        if is_api:
            body = resp.get_json(silent=True) or {}
            if resp.mimetype != "application/problem+json" or body.get("status") != status or not body.get("detail"):
                failures.append(f"{what}: {status} {resp.mimetype} without a problem document")
        elif resp.mimetype != "text/html" or "</html>" not in resp.get_data(as_text=True):
            failures.append(f"{what}: {status} without an error page")
    elif status not in (301, 302, 303):
        failures.append(f"{what}: unexpected {status}")


# Free text that reaches the full-text search: also sent one parameter at a time (elsewhere a filter's
# error could stop the request before the text is searched).
FREE_TEXT = {"/search": ["q"], "/events/{event_id}": ["q"], "/admin/users": ["q"]}
FREE_TEXT |= {"/api/v1/listings": ["q"], "/api/v1/events/{event_id}/listings": ["q"]}


def _barrage(app, db, login, token_for, world, targets: dict[str, list[str]]) -> tuple[int, int, list[str]]:
    """Every (parameter, payload) pair of `targets`: PAYLOADS in rounds, each parameter of a URL getting a
    different payload in each round (a Latin square: one request per round, every pair exactly once), the
    free-text ones alone as well, then every parameter repeated. Returns (pairs, requests, failures)."""
    who_of = {url: "boss" if url.startswith(STAFF) else "seller" for url in targets}
    clients = {who: signed_in(app, login, getattr(world, who)) for who in set(who_of.values())}
    tokens = {who: token_for(getattr(world, who)) for who in set(who_of.values())}
    api = app.test_client()
    failures: list[str] = []
    pairs = requests = 0
    n = len(PAYLOADS)
    for template, params in targets.items():
        url, who = template.format(**world.ids), who_of[template]
        before = snapshot(db)

        def get(query: list[tuple[str, str]], url=url, who=who):
            nonlocal requests
            requests += 1
            full = url + "?" + urlencode(query)
            resp = api.get(full, headers=tokens[who]) if url.startswith("/api/") else clients[who].get(full)
            _check(resp, f"GET {full[:150]}", failures)

        for j in range(n):
            get([(name, PAYLOADS[(i + j) % n]) for i, name in enumerate(params)])
        pairs += n * len(params)
        for name in FREE_TEXT.get(template, []):
            for payload in PAYLOADS:
                get([(name, payload)])
        get([(name, value) for name in params for value in ("' OR 1=1 --", "1", "%")])
        endpoint = app.url_map.bind("localhost").match(url)[0]
        writes = [t for t in changed(before, snapshot(db)) if (endpoint, t) not in GET_WRITES]
        if writes:
            failures.append(f"{template}: hostile parameters changed {writes}")
    return pairs, requests, failures


def test_hostile_values_in_every_page_parameter(app, db, login, token_for, world):
    pairs, requests, failures = _barrage(app, db, login, token_for, world, PAGE_PARAMS)
    assert pairs >= 40 * len(PAYLOADS), pairs
    assert not failures, f"{len(failures)} of {requests} requests:\n" + "\n".join(failures[:60])


def test_hostile_values_in_every_api_query_parameter(app, db, login, token_for, world):
    targets = _api_params(app)
    assert len(targets) >= 10, "the OpenAPI document lists the API's query parameters"
    assert set(FREE_TEXT) - set(PAGE_PARAMS) <= set(targets)
    _pairs, requests, failures = _barrage(app, db, login, token_for, world, targets)
    assert not failures, f"{len(failures)} of {requests} requests:\n" + "\n".join(failures[:60])


# --- % and _ are text, not wildcards -------------------------------------------------------------------------


@pytest.fixture
def wildcard_listings(make_listing):
    """Three listings: one with %, one with _, one with neither."""
    made = {
        "percent": make_listing(title="100%纯棉T恤 白色", description="纯棉，只穿过一次。"),
        "underscore": make_listing(title="机械键盘 K_87 青轴", description="按键手感清脆。"),
        "plain": make_listing(title="宜家 台灯 白色", description="灯泡是新换的。"),
    }
    return {k: v.id for k, v in made.items()}


def _found(client, q: str) -> set[int]:
    resp = client.get("/search?" + urlencode({"q": q}))
    assert resp.status_code == 200
    return {int(i) for i in re.findall(r'href="/listings/(\d+)"', resp.get_data(as_text=True))}


def _found_api(api, q: str) -> set[int]:
    resp = api.get("/api/v1/listings?" + urlencode({"q": q}))
    assert resp.status_code == 200, resp.get_json()
    return {item["id"] for item in resp.get_json()["items"]}


@pytest.mark.parametrize("found", [_found, _found_api], ids=["page", "api"])
def test_percent_and_underscore_are_not_wildcards(client, wildcard_listings, found):
    ids = wildcard_listings
    everything = set(ids.values())
    assert found(client, "") == everything  # browsing shows all three: the searches below could match them
    assert found(client, "%纯棉") == {ids["percent"]}
    assert found(client, "纯棉%") == {ids["percent"]}
    assert found(client, "键盘_") == {ids["underscore"]}
    assert found(client, "_87") == {ids["underscore"]}
    for q in ("台灯%", "%台灯_", "台_灯"):
        assert found(client, q) == {ids["plain"]}, q
    assert found(client, "纯%棉") == {ids["percent"]}
    assert found(client, "键_盘") == {ids["underscore"]}
    assert found(client, "%白色%") == {ids["percent"], ids["plain"]}
    assert found(client, "100%") == {ids["percent"]}


@pytest.mark.parametrize("q", ["%", "_", "%%", "%_%", "'"])
def test_a_query_of_only_wildcard_characters_matches_nothing(client, wildcard_listings, q):
    assert _found(client, q) == set()
    assert _found_api(client, q) == set()


def test_search_never_uses_like(app, db, client, wildcard_listings):
    """The full-text index answers every search; no statement uses LIKE (README: no LIKE '%…%')."""
    from marketplace.db import db as _db

    with count_statements(_db.engine) as seen:
        for q in ("纯棉", "%", "_", "k_87", "' OR 1=1 --", "白色 台灯"):
            client.get("/search?" + urlencode({"q": q}))
            client.get("/api/v1/listings?" + urlencode({"q": q}))
            client.get(f"/events/1?{urlencode({'q': q})}")
    searches = [s for s in seen if "listing" in s.lower()]
    assert searches, "the searches reached the database"
    assert not [s for s in searches if re.search(r"\bLIKE\b", s, re.IGNORECASE)], "a search used LIKE"
    # And the user's text never reaches SQL as text: it is always a bound parameter.
    assert not [s for s in seen if "OR 1=1" in s or "纯棉" in s]
