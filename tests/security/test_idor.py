"""Other people's objects (IDOR): every route that takes an object's id, tried with someone else's ids.

One world (tests/security/owned.py) of objects that belong to `a` and the people she deals with; then
`b` (a verified resident with no staff role, with a stall of her own at a's swap event) and, on the event
routes, `o2` (the organiser of other events) use every id route, for every method it accepts, with those
ids. A private page must answer 403 or 404; a state change must be refused the same way (or with 409/422
where the tables say the domain refuses it so) and must write nothing: every table is read before and after
each request and must be unchanged. Public-by-design pages are listed with their reason and must answer
200 (and write nothing either).

The tables must name every (endpoint, method) of every rule with an id argument, and every value of its
`any(...)` arguments: a new id route fails `test_the_tables_cover_every_id_route` until it is added here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from tests.listings.sellers import checklist_fields, phone_answers
from tests.security.owned import *  # noqa: F403 (the owned_world fixture)
from tests.security.owned import differences, snapshot

REFUSED = frozenset({403, 404})
EVENT_PEOPLE = ("b", "o2")  # on the event routes, the organiser of other events tries them too
REASON = "这是测试用的理由，足够长了吧。"


@dataclass(frozen=True)
class Case:
    """One request: `url` is formatted with the world's ids; `ok` names why a stranger may use it."""

    url: str
    body: dict | None = None
    ok: str = ""
    allowed: frozenset = REFUSED  # the refusal statuses this route may answer with
    actors: tuple = ("b",)


def case(url, body=None, **kw) -> list[Case]:
    return [Case(url, body, **kw)]


def event_case(url, body=None, **kw) -> list[Case]:
    return [Case(url, body, actors=EVENT_PEOPLE, **kw)]


def public(url, why) -> list[Case]:
    return [Case(url, ok=why)]


# --- pages: (endpoint, method) → cases --------------------------------------------------------------------

EDIT_FORM = {
    "title": "被别人改掉的标题 手机",
    "description": "被别人改掉的描述。",
    "price": "1",
    "district": "xingqing",
    **checklist_fields(phone_answers()),
}
EVENT_FORM = {
    "title": "被别人改掉的活动",
    "kind": "community_swap",
    "venue": "别处",
    "district": "jinfeng",
    "stalls": "50",
    "restriction": "none",
}

HTML: dict[tuple[str, str], list[Case]] = {
    # accounts (admin only)
    ("admin.user_detail", "GET"): case("/admin/users/{user_a}"),
    ("admin.user_detail", "POST"): case("/admin/users/{user_a}", {"role": "admin"}),
    ("admin.revoke", "GET"): case("/admin/users/{user_m}/roles/moderator/revoke"),
    ("admin.revoke", "POST"): case("/admin/users/{user_m}/roles/moderator/revoke", {}),
    # decisions and appeals (the penalised person, moderators, supervisors)
    ("moderation.decision", "GET"): case("/decisions/{decision}"),
    ("moderation.appeal", "GET"): case("/decisions/{decision}/appeal"),
    ("moderation.appeal", "POST"): case("/decisions/{decision}/appeal", {"reason": REASON}),
    ("moderation.appeal_detail", "GET"): case("/appeals/{appeal}"),
    ("moderation.decide_appeal", "GET"): case("/appeals/{appeal}/decide"),
    ("moderation.decide_appeal", "POST"): case(
        "/appeals/{appeal}/decide", {"outcome": "overturned", "note": REASON, "confirm": "1"}
    ),
    # reports (moderators)
    ("moderation.review", "GET"): case("/moderation/reports/{report}"),
    ("moderation.decide", "GET"): case("/moderation/reports/{report}/decide"),
    ("moderation.decide", "POST"): case(
        "/moderation/reports/{report}/decide", {"outcome": "dismissed", "note": REASON, "confirm": "1"}
    ),
    ("moderation.report_listing", "GET"): case("/listings/{hidden}/report")
    + public("/listings/{listing}/report", "anyone signed in may report a listing on sale"),
    ("moderation.report_listing", "POST"): case("/listings/{hidden}/report", {"reason": "other", "detail": REASON}),
    # identity (moderators)
    ("identity.review", "GET"): case("/moderation/verifications/{pending_verification}")
    + case("/moderation/verifications/{verification}"),
    ("identity.approve", "POST"): case("/moderation/verifications/{pending_verification}/approve", {}),
    ("identity.reject", "POST"): case("/moderation/verifications/{pending_verification}/reject", {"reason": REASON}),
    # listings (the seller; moderators remove; inspectors certify)
    ("listings.detail", "GET"): case("/listings/{hidden}")
    + public("/listings/{listing}", "a listing on sale is public"),
    ("listings.edit", "GET"): case("/listings/{listing}/edit") + case("/listings/{hidden}/edit"),
    ("listings.edit", "POST"): case("/listings/{listing}/edit", EDIT_FORM) + case("/listings/{hidden}/edit", EDIT_FORM),
    ("listings.withdraw", "GET"): case("/listings/{listing}/withdraw"),
    ("listings.withdraw", "POST"): case("/listings/{listing}/withdraw", {}),
    ("listings.mark_sold", "GET"): case("/listings/{listing}/sold"),
    ("listings.mark_sold", "POST"): case("/listings/{listing}/sold", {}),
    ("listings.remove", "GET"): case("/listings/{listing}/remove"),
    ("listings.remove", "POST"): case("/listings/{listing}/remove", {}),
    ("listings.relist", "POST"): case("/listings/{hidden}/relist", {}),
    ("listings.move_photo", "POST"): case("/listings/{listing}/photos/{photo}/move", {"direction": "up"})
    + case("/listings/{hidden}/photos/{hidden_photo}/move", {"direction": "up"}),
    ("listings.delete_photo", "GET"): case("/listings/{listing}/photos/{photo}/delete"),
    ("listings.delete_photo", "POST"): case("/listings/{listing}/photos/{photo}/delete", {})
    + case("/listings/{hidden}/photos/{hidden_photo}/delete", {}),
    ("listings.photo", "GET"): case("/photos/{photo_hidden}.jpg")
    + case("/photos/{photo_hidden}.thumb.jpg")
    + public("/photos/{photo_public}.jpg", "the photo of a listing on sale"),
    ("inspection.certify", "GET"): case("/listings/{listing}/certify"),
    ("inspection.certify", "POST"): case("/listings/{listing}/certify", checklist_fields(phone_answers())),
    # orders (the two parties; moderators resolve)
    ("orders.request_form", "GET"): case("/listings/{hidden}/order")
    + public("/listings/{listing}/order", "anyone verified may ask to buy a listing on sale"),
    ("orders.request_form", "POST"): case(
        "/listings/{hidden}/order", {"message": "想要", "price": "3299", "payment_method": "cash"}
    ),
    ("orders.detail", "GET"): case("/orders/{order}") + case("/orders/{done_order}"),
    ("orders.post_message", "POST"): case("/orders/{order}/messages", {"body": "我是路人"}),
    ("orders.action", "GET"): [
        Case(f"/orders/{{{o}}}/{action}")
        for o, action in (
            ("order", "accept"),
            ("order", "cancel"),
            ("done_order", "complete"),
            ("done_order", "dispute"),
            ("done_order", "resolve"),
        )
    ],
    ("orders.action", "POST"): case("/orders/{order}/accept", {"price": "1", "payment_method": "cash"})
    + case("/orders/{order}/cancel", {"reason": REASON})
    + case("/orders/{order}/complete", {})
    + case("/orders/{done_order}/dispute", {"reason": REASON})
    + case("/orders/{done_order}/resolve", {"outcome": "cancelled", "note": REASON}),
    # ratings (the parties rate; the rated party replies; moderators fold)
    ("ratings.rate", "POST"): case(
        "/orders/{done_order}/rate", {"accuracy": "1", "communication": "1", "punctuality": "1", "comment": "差"}
    ),
    ("ratings.reply", "GET"): case("/ratings/{rating_about_a}/reply"),
    ("ratings.reply", "POST"): case("/ratings/{rating_about_a}/reply", {"reply": "不是我写的回复"}),
    ("ratings.fold", "GET"): case("/ratings/{rating_by_a}/fold"),
    ("ratings.fold", "POST"): case("/ratings/{rating_by_a}/fold", {"reason": REASON}),
    ("ratings.profile", "GET"): public("/users/{user_a}", "a public profile: masked name, score, revealed ratings"),
    # credit (the user themself, moderators, supervisors; supervisors adjust)
    ("credit.user", "GET"): case("/users/{user_a}/credit"),
    ("credit.adjust", "GET"): case("/users/{user_a}/credit/adjust"),
    ("credit.adjust", "POST"): case("/users/{user_a}/credit/adjust", {"points": "50", "reason": REASON}),
    # notices (their recipient)
    ("notices.open", "POST"): case("/notices/{notice}", {}),
    # black list and supervision (supervisors)
    ("trust.confirm", "GET"): case("/trust/black/{entry}/confirm"),
    ("trust.confirm", "POST"): case("/trust/black/{entry}/confirm", {"note": ""}),
    ("trust.reject", "GET"): case("/trust/black/{entry}/reject"),
    ("trust.reject", "POST"): case("/trust/black/{entry}/reject", {"note": REASON}),
    ("supervision.entry", "GET"): case("/supervision/blacklist/{entry}"),
    # events (the organiser runs them; stallholders bring listings and swap)
    ("events.detail", "GET"): public("/events/{event}", "every event is public"),
    ("event_feeds.event_ics", "GET"): public("/events/{event}.ics", "every event is public"),
    ("events.edit", "GET"): event_case("/events/{event}/edit"),
    ("events.edit", "POST"): event_case("/events/{event}/edit", EVENT_FORM),
    ("events.cancel", "GET"): event_case("/events/{event}/cancel"),
    ("events.cancel", "POST"): event_case("/events/{event}/cancel", {"reason": REASON}),
    ("events.console", "GET"): event_case("/events/{event}/console"),
    ("events.checkin", "GET"): event_case("/events/{event}/checkin"),
    ("events.checkin", "POST"): event_case("/events/{event}/checkin", {"code": "{checkin_code}"}),
    ("events.registration_state", "POST"): event_case("/events/{event}/registration/close", {})
    + event_case("/events/{event}/registration/open", {}),
    ("events.attach", "GET"): public("/events/{event}/attach", "b's own page: b's listings, to bring to the event"),
    # b has a stall: bringing a's listing (by id in the form) must be refused.
    ("events.attach", "POST"): case("/events/{event}/attach", {"listing_ids": ["{listing}"]}, allowed=REFUSED | {422}),
    ("events.detach", "POST"): case("/listings/{at_fair}/detach", {}),
    ("events.offer_form", "GET"): case("/events/{event}/swap/{hidden}")
    + public("/events/{event}/swap/{at_fair}", "a participant may offer a swap for a listing at the event"),
    # Offering a's listing (not b's) in exchange must be refused.
    ("events.offer_form", "POST"): case(
        "/events/{event}/swap/{at_fair}", {"offer_listing_ids": ["{listing}"]}, allowed=REFUSED | {422}
    )
    + case("/events/{event}/swap/{hidden}", {"offer_listing_ids": ["{b_listing}"]}),
    ("events.registration", "GET"): event_case("/registrations/{registration}"),
    ("events.registration_qr", "GET"): event_case("/registrations/{registration}/qr.svg"),
    ("events.cancel_registration", "GET"): event_case("/registrations/{registration}/cancel"),
    ("events.cancel_registration", "POST"): event_case("/registrations/{registration}/cancel", {}),
    ("events.appeal_no_show", "POST"): event_case("/registrations/{no_show}/appeal", {"reason": REASON}),
    ("events.decide_no_show", "POST"): event_case(
        "/registrations/{no_show}/appeal/decision", {"outcome": "excused", "note": REASON}
    ),
    ("events.swap", "GET"): event_case("/swaps/{swap}"),
    ("events.swap_action", "POST"): event_case("/swaps/{swap}/accept", {})
    + event_case("/swaps/{swap}/decline", {})
    + event_case("/swaps/{swap}/withdraw", {}),
}

# State changes any signed-in (verified) user may make on someone else's public object, by design: they make
# the caller's own object (an order request, a report, a registration, a swap offer). Their refused variants
# (a hidden listing) are in the tables above.
BY_DESIGN = {
    ("moderation.report_listing", "POST"): "reporting a listing on sale makes the reporter's own report",
    ("orders.request_form", "POST"): "asking to buy a listing on sale makes the buyer's own order",
    ("events.register", "POST"): "registering for an event (every event is public) makes one's own registration",
    ("api.create_registration", "POST"): "registering for an event makes one's own registration",
    ("api.create_order", "POST"): "asking to buy a listing on sale makes the buyer's own order",
    ("api.create_report", "POST"): "reporting a listing on sale makes the reporter's own report",
    ("api.create_swap", "POST"): "offering one's own listing for one at the event makes one's own offer",
}

# --- the API: (endpoint, method) → cases (paths under /api/v1) ----------------------------------------------

API: dict[tuple[str, str], list[Case]] = {
    ("api.get_decision", "GET"): case("/decisions/{decision}"),
    ("api.file_appeal", "POST"): case("/decisions/{decision}/appeal", {"reason": REASON}),
    ("api.decide_appeal", "POST"): case("/appeals/{appeal}/decision", {"outcome": "overturned", "note": REASON}),
    ("api.decide_report", "POST"): case(
        "/moderation/reports/{report}/decision", {"outcome": "dismissed", "note": REASON}
    ),
    ("api.approve_verification", "POST"): case("/moderation/verifications/{pending_verification}/approve", {}),
    ("api.reject_verification", "POST"): case(
        "/moderation/verifications/{pending_verification}/reject", {"reason": REASON}
    ),
    ("api.get_listing", "GET"): case("/listings/{hidden}") + public("/listings/{listing}", "a listing on sale"),
    ("api.patch_listing", "PATCH"): case("/listings/{listing}", {"price_fen": 1})
    + case("/listings/{hidden}", {"status": "active"}),
    ("api.delete_listing", "DELETE"): case("/listings/{listing}") + case("/listings/{hidden}"),
    ("api.certify_listing", "POST"): case("/listings/{listing}/certification", {"grading": phone_answers()}),
    ("api.create_order", "POST"): case("/listings/{hidden}/orders", {"message": "想要"}),
    ("api.create_report", "POST"): case("/listings/{hidden}/reports", {"reason": "other", "detail": REASON}),
    ("api.get_order", "GET"): case("/orders/{order}") + case("/orders/{done_order}"),
    ("api.accept_order", "POST"): case("/orders/{order}/accept", {}),
    ("api.cancel_order", "POST"): case("/orders/{order}/cancel", {"reason": REASON}),
    ("api.complete_order", "POST"): case("/orders/{order}/complete", {}),
    ("api.dispute_order", "POST"): case("/orders/{done_order}/dispute", {"reason": REASON}),
    ("api.resolve_order", "POST"): case("/orders/{done_order}/resolve", {"outcome": "cancelled", "note": REASON}),
    ("api.list_order_messages", "GET"): case("/orders/{order}/messages"),
    ("api.post_order_message", "POST"): case("/orders/{order}/messages", {"body": "我是路人"}),
    ("api.create_rating", "POST"): case(
        "/orders/{done_order}/ratings", {"scores": {"accuracy": 1, "communication": 1, "punctuality": 1}}
    ),
    ("api.reply_to_rating", "POST"): case("/ratings/{rating_about_a}/reply", {"reply": "不是我写的回复"}),
    ("api.fold_rating", "POST"): case("/ratings/{rating_by_a}/fold", {"reason": REASON}),
    ("api.get_public_profile", "GET"): public("/users/{user_a}", "a public profile"),
    ("api.list_user_ratings", "GET"): public("/users/{user_a}/ratings", "revealed ratings are public"),
    ("api.get_user_credit", "GET"): case("/users/{user_a}/credit"),
    ("api.adjust_user_credit", "POST"): case("/users/{user_a}/credit/adjustments", {"points": 50, "reason": REASON}),
    ("api.confirm_blacklist_entry", "POST"): case("/trust/black/{entry}/confirm", {}),
    ("api.reject_blacklist_entry", "POST"): case("/trust/black/{entry}/reject", {"note": REASON}),
    ("api.get_event", "GET"): public("/events/{event}", "every event is public"),
    ("api.get_event_ics", "GET"): public("/events/{event}.ics", "every event is public"),
    ("api.list_event_listings", "GET"): public("/events/{event}/listings", "the listings at an event are public"),
    ("api.patch_event", "PATCH"): event_case("/events/{event}", {"title": "被别人改掉的活动"})
    + event_case("/events/{event}", {"registration_open": False}),
    ("api.cancel_event", "POST"): event_case("/events/{event}/cancel", {"reason": REASON}),
    ("api.create_checkin", "POST"): event_case("/events/{event}/checkins", {"checkin_code": "{checkin_code}"}),
    ("api.list_event_registrations", "GET"): event_case("/events/{event}/registrations"),
    ("api.get_event_summary", "GET"): event_case("/events/{event}/summary"),
    # b has a stall: bringing a's listing, or taking a's listing away, must be refused.
    ("api.attach_listings", "POST"): case(
        "/events/{event}/listings", {"listing_ids": ["{listing}"]}, allowed=REFUSED | {422}
    ),
    ("api.detach_listing", "DELETE"): event_case("/events/{event}/listings/{at_fair}"),
    ("api.get_registration", "GET"): event_case("/registrations/{registration}"),
    ("api.cancel_registration", "POST"): event_case("/registrations/{registration}/cancel", {}),
    ("api.get_swap", "GET"): event_case("/swaps/{swap}"),
    ("api.accept_swap", "POST"): event_case("/swaps/{swap}/accept", {}),
    ("api.decline_swap", "POST"): event_case("/swaps/{swap}/decline", {}),
    ("api.withdraw_swap", "POST"): event_case("/swaps/{swap}/withdraw", {}),
}

# Ids in a body rather than the path: a stranger's ids are refused or do nothing.
API_BODY_IDS: list[tuple[str, str, dict, set | None]] = [
    # (method, path, body, refusal statuses; None: any answer, but nothing of a's may change)
    ("POST", "/events/{event}/swaps", {"want_listing_id": "{at_fair}", "offer_listing_ids": ["{listing}"]}, {422}),
    ("POST", "/events/{event}/swaps", {"want_listing_id": "{hidden}", "offer_listing_id": "{b_listing}"}, {422}),
    # Marking notices read is scoped to the caller's own: a's id marks nothing.
    ("POST", "/me/notices/read", {"ids": ["{notice}"]}, None),
]

# Rules with arguments that name no object (a file, a language, a category's public standard, a format).
NOT_OBJECTS = {
    "static": "static files",
    "home.set_language": "the language code of the caller's own session",
    "grading.standard": "a category's public standard",
    "api.get_standard_document": "a category's public standard",
    "supervision.export": "the export's file format (supervisors only; tested in tests/supervision)",
}


# --- the walk ------------------------------------------------------------------------------------------------------


def _fill(value, world):
    """Format ids into a body: strings become the id (as text, as a form posts it) or stay text."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return str(world.fmt(value))
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


def _json_ids(value):
    """A JSON body's ids as integers (a form posts them as text)."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, list):
        return [_json_ids(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_ids(v) for k, v in value.items()}
    return value


def _id_rules(app):
    """(endpoint, method) → the rule, for every rule with an object-id argument."""
    found = {}
    for rule in app.url_map.iter_rules():
        converters = rule._converters.values()
        if not any(isinstance(c, IntegerConverter) for c in converters) and rule.endpoint != "listings.photo":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(rule.endpoint, method)] = rule
    return found


def test_the_tables_cover_every_id_route(app):
    """Every id route and method is walked (or named as by design), with every value of its any() arguments."""
    rules = _id_rules(app)
    walked = set(HTML) | set(API) | set(BY_DESIGN)
    missing = sorted(f"{m} {rules[key].rule} ({key[0]})" for key in rules for m in [key[1]] if key not in walked)
    stale = sorted(f"{e} {m}" for e, m in walked if (e, m) not in rules)
    assert not missing, "id routes the IDOR walk does not cover: " + "; ".join(missing)
    assert not stale, "the IDOR tables name routes that do not exist: " + "; ".join(stale)
    others = {r.endpoint for r in app.url_map.iter_rules() if r.arguments} - {key[0] for key in rules}
    assert others == set(NOT_OBJECTS), "routes with arguments to classify: " + str(others ^ set(NOT_OBJECTS))
    uncovered = []
    for (endpoint, method), rule in rules.items():
        cases = HTML.get((endpoint, method)) or API.get((endpoint, method)) or []
        for name, converter in rule._converters.items():
            if isinstance(converter, AnyConverter):
                for item in converter.items:
                    if not any(f"/{item}" in c.url for c in cases):
                        uncovered.append(f"{endpoint} {method} {name}={item}")
    assert not uncovered, "values of any() arguments never tried: " + "; ".join(uncovered)


@pytest.fixture
def strangers(app, owned_world, password):
    """Signed-in browser clients of b and o2."""
    clients = {}
    for key in EVENT_PEOPLE:
        c = app.test_client()
        person = owned_world.people[key]
        resp = c.post("/login", data={"username": person.username, "password": password})
        assert resp.status_code == 302
        c.token = c.csrf_token()  # sent with every form (csrf=False: the client would fetch one per post)
        clients[key] = c
    return clients


@pytest.fixture
def stranger_tokens(api, owned_world, token_for):
    return {key: token_for(owned_world.people[key]) for key in EVENT_PEOPLE}


def _is_success(status: int, location: str) -> bool:
    return 200 <= status < 400


def test_strangers_are_refused_other_peoples_objects(db, api, owned_world, strangers, stranger_tokens):
    """Every id route, pages and API, every method, as b (and o2 on event routes): refused, nothing written."""
    pages, pages_tried = _walk_pages(db, owned_world, strangers)
    api_failures, api_tried = _walk_api(db, api, owned_world, stranger_tokens)
    assert pages_tried >= 100 and api_tried >= 60
    report = []
    if pages:
        report.append(f"pages: {len(pages)} of {pages_tried} requests:\n" + "\n".join(pages))
    if api_failures:
        report.append(f"API: {len(api_failures)} of {api_tried} requests:\n" + "\n".join(api_failures))
    assert not report, "\n\n".join(report)


def _walk_pages(db, world, strangers) -> tuple[list[str], int]:
    failures: list[str] = []
    tried = 0
    after = snapshot(db)  # each request's "after" is the next one's "before": nothing else writes between
    for (endpoint, method), cases in sorted(HTML.items()):
        for c in cases:
            url = world.fmt(c.url)
            for actor in c.actors:
                body = _fill(c.body, world) if c.body is not None else ({} if method != "GET" else None)
                if body is not None:
                    body = {**body, "csrf_token": strangers[actor].token}
                before = after
                resp = strangers[actor].open(url, method=method, data=body, csrf=False)
                after = snapshot(db)
                tried += 1
                where = f"{actor}: {method} {url} ({endpoint})"
                status = resp.status_code
                if c.ok:
                    if status != 200:
                        failures.append(f"{where}: public by design ({c.ok}) but answered {status}")
                elif status not in c.allowed:
                    failures.append(f"{where}: answered {status} {resp.headers.get('Location', '')}, not refused")
                changed = differences(before, after)
                if changed:
                    failures.append(f"{where}: wrote {changed}")
    return failures, tried


def _walk_api(db, api, world, stranger_tokens) -> tuple[list[str], int]:
    failures: list[str] = []
    tried = 0
    after = snapshot(db)  # as in the pages' walk
    for (endpoint, method), cases in sorted(API.items()):
        for c in cases:
            url = "/api/v1" + world.fmt(c.url)
            for actor in c.actors:
                body = _json_ids(_fill(c.body, world)) if c.body is not None else None
                before = after
                resp = api.open(url, method=method, json=body, headers=stranger_tokens[actor])
                after = snapshot(db)
                tried += 1
                where = f"{actor}: {method} {url} ({endpoint})"
                status = resp.status_code
                if c.ok:
                    if status != 200:
                        failures.append(f"{where}: public by design ({c.ok}) but answered {status}")
                elif status not in c.allowed:
                    failures.append(f"{where}: answered {status} {resp.get_data(as_text=True)[:200]}, not refused")
                elif resp.mimetype != "application/problem+json":
                    failures.append(f"{where}: refused as {resp.mimetype}, not problem+json")
                changed = differences(before, after)
                if changed:
                    failures.append(f"{where}: wrote {changed}")
    for method, path, raw, allowed in API_BODY_IDS:
        url = "/api/v1" + world.fmt(path)
        body = _json_ids(_fill(raw, world))
        before = after
        resp = api.open(url, method=method, json=body, headers=stranger_tokens["b"])
        after = snapshot(db)
        tried += 1
        where = f"b: {method} {url} {body}"
        if allowed is not None and resp.status_code not in allowed:
            failures.append(f"{where}: answered {resp.status_code}, not refused")
        changed = differences(before, after)
        if changed:
            failures.append(f"{where}: wrote {changed}")
    return failures, tried


# The same requests made by the people they belong to succeed and write: the bodies above are ones the
# route accepts, so a stranger's refusal is about whose object it is (and the snapshot sees writes).
# (person, (endpoint, method), index of the case), in an order in which each still applies.
CONTROLS = [
    ("a", HTML, ("listings.edit", "POST"), 0),
    ("a", HTML, ("listings.withdraw", "POST"), 0),
    ("s", HTML, ("orders.action", "POST"), 0),
    ("a", API, ("api.post_order_message", "POST"), 0),
    ("a", HTML, ("ratings.reply", "POST"), 0),
    ("m", API, ("api.fold_rating", "POST"), 0),
    ("a", API, ("api.file_appeal", "POST"), 0),
    ("m", HTML, ("moderation.decide", "POST"), 0),
    ("sup", HTML, ("trust.reject", "POST"), 0),
    ("sup", API, ("api.adjust_user_credit", "POST"), 0),
    ("o", HTML, ("events.registration_state", "POST"), 0),
    ("o", API, ("api.patch_event", "PATCH"), 0),
    ("a", API, ("api.decline_swap", "POST"), 0),
    ("a", HTML, ("events.detach", "POST"), 0),
    ("a", API, ("api.cancel_registration", "POST"), 0),
]


def test_the_owners_own_requests_succeed_and_write(app, db, api, owned_world, password, token_for):
    """Controls: a sample of the walk's requests, made by the objects' owners, succeed and change the database."""
    failures = []
    for person, table, key, index in CONTROLS:
        spec = table[key][index]
        who = owned_world.people[person]
        before = snapshot(db)
        if table is HTML:
            c = app.test_client()
            assert c.post("/login", data={"username": who.username, "password": password}).status_code == 302
            url = owned_world.fmt(spec.url)
            resp = c.open(url, method=key[1], data=_fill(spec.body, owned_world))
            ok = resp.status_code in (302, 303) and "/login" not in resp.headers.get("Location", "")
        else:
            url = "/api/v1" + owned_world.fmt(spec.url)
            body = _json_ids(_fill(spec.body, owned_world))
            resp = api.open(url, method=key[1], json=body, headers=token_for(who))
            ok = 200 <= resp.status_code < 300
        changed = differences(before, snapshot(db))
        if not ok or not changed:
            failures.append(f"{person}: {key[1]} {url}: {resp.status_code} {resp.get_data(as_text=True)[:200]}")
    assert not failures, "\n".join(failures)
