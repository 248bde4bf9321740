"""No N+1 queries on any list page: each page costs the same number of SQL statements with 2 rows as with many.

Every case below builds a page's rows through the factories, asks for the page once to warm the
process's caches (standards, policy, translations), then counts the statements of one request with
FEW rows and of one with many (at most one page of them). The two counts must be equal, and at most
the page's bound: the count measured when the test was written plus a small margin, so that a new
query per row, or a page that quietly grows by several queries, fails here first.

Rows come from different people wherever a page shows people (sellers, buyers, reporters,
organisers): with one seller for every row, a lazy load per row would hit the identity map and hide.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.events.conftest import *  # noqa: F403 - organisers, students, events, registrations, listings brought
from tests.statements import count_statements

FEW = 2
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def app_config():
    """The page cache off: a page served from it costs one query whatever it shows; what is counted here is
    the cost of making the page, which every visitor who is signed in, and every cache miss, pays."""
    return {"PAGE_CACHE": False}


@dataclass
class Page:
    """A page under test: `add(k)` adds k rows of what it lists; `fetch()` asks for it as the right person."""

    add: Callable[[int], object]
    fetch: Callable[[], object]
    many: int = 12  # rows for the second count: more than FEW, at most one page


# --- shared row makers -------------------------------------------------------------------------------------------


@pytest.fixture
def people(verified_user):
    """people(k, **fields) → k new verified residents, each a different person."""
    seq = itertools.count(1)

    def make(k: int, **fields):
        return [verified_user(f"person{next(seq)}", **fields) for _ in range(k)]

    return make


@pytest.fixture
def with_photos(db):
    """with_photos(listing, k=2) → the listing with k photo rows (the files are not needed to render a page)."""
    from marketplace.listings.models import ListingPhoto

    def add(listing, k: int = 2):
        start = len(listing.photos)
        for position in range(start, start + k):
            listing.photos.append(ListingPhoto(position=position, stem=uuid.uuid4().hex, width=800, height=600))
        db.session.commit()
        return listing

    return add


@pytest.fixture
def offer(db, make_listing, with_photos):
    """offer(seller, **fields) → an active A-grade phone of that seller, with two photos."""

    def make(seller, **fields):
        return with_photos(make_listing(user=seller, **fields))

    return make


@pytest.fixture
def sale(db, offer, make_order):
    """sale(seller, buyer, status="completed") → an order between them on a new listing of the seller."""

    def make(seller, buyer, status: str = "completed"):
        return make_order(listing=offer(seller), buyer_user=buyer, status=status)

    return make


@pytest.fixture
def rate_both(db):
    """rate_both(order) → the order rated by both parties, so both ratings are revealed."""
    from marketplace.ratings import service as ratings

    def rate(order):
        scores = {"accuracy": 5, "communication": 4, "punctuality": 5}
        ratings.rate(order.buyer, order, scores, "东西和描述一致，谢谢。")
        ratings.rate(order.seller, order, {"punctuality": 5, "communication": 5}, "买家很守时。")
        db.session.commit()
        return order

    return rate


@pytest.fixture
def propose_entry(make_listing, report, decide, reporters, moderator):
    """propose_entry(user) → the pending black-list entry a confirmed counterfeit proposes against `user`."""

    def make(user):
        listing = make_listing(user=user, title="华为 Mate 60 手机 256GB 高仿")
        decision = decide(moderator, report(reporters[0], listing, reason="counterfeit"), "confirmed", "counterfeit")
        assert decision.blacklist_entry is not None
        return decision.blacklist_entry

    return make


@pytest.fixture
def blacklist(db, propose_entry, supervisor):
    """blacklist(user) → the user's entry, proposed and confirmed by a supervisor (in force)."""
    from marketplace.trust import service as trust

    def make(user):
        entry = trust.confirm(supervisor, propose_entry(user).id, "核实无误，确认列入。")
        db.session.commit()
        return entry

    return make


@pytest.fixture
def red_edition(db, qualify):
    """red_edition(users) → a new red-list edition with those users qualified on it."""
    from marketplace.trust import redlist

    def make(users):
        for user in users:
            qualify(user)
        edition, _created = redlist.compute_edition(force=True)
        db.session.commit()
        return edition

    return make


@pytest.fixture
def appealed(db, offer, report, decide, reporters, moderator):
    """appealed(seller) → the seller's pending appeal against a confirmed decision on a new listing of theirs."""
    from marketplace.moderation import appeals

    def make(seller):
        decision = decide(moderator, report(reporters[0], offer(seller)), "confirmed", "hidden_defect")
        made = appeals.file(seller, decision.id, "实物与照片一致，举报人看错了型号，请复核。")
        db.session.commit()
        return made

    return make


@pytest.fixture
def swapping(db, make_event, people, register, bring):
    """swapping() → (me, add): add(k) has k other stallholders offer me a swap (every other one accepted,
    which completes an order for each side) and me offer each of them one."""
    from marketplace.events import swaps

    def make():
        fair = make_event("community_swap", stalls=40)
        (me,) = people(1)
        register(me, fair)

        def add(k):
            for n, other in enumerate(people(k)):
                register(other, fair)
                (mine,) = bring(me, fair)
                (theirs, theirs_too) = bring(other, fair, 2)
                received = swaps.make_offer(other, fair, mine.id, [theirs.id], "换你这台，可以吗？")
                (mine_too,) = bring(me, fair)
                swaps.make_offer(me, fair, theirs_too.id, [mine_too.id], "我用这台换你的。")
                if n % 2:
                    swaps.accept(me, received)
                db.session.commit()

        return me, add

    return make


def _next_month_day(day: int, hour_shanghai: int):
    """A moment in the next calendar month (Shanghai time), as UTC: the calendar page shows one month."""
    now = datetime.now(SHANGHAI)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, day, hour_shanghai, tzinfo=SHANGHAI).astimezone(UTC)


# --- one builder per kind of row: each returns add(k), shared by a page and its API route ------------------------


def _offers(fx):
    """add(k): k active listings, each of another seller."""
    people, offer = fx("people"), fx("offer")
    return lambda k: [offer(p) for p in people(k)]


def _new_event(fx):
    """new_event(**fields) → a community swap organised by a new organiser."""
    make_event, make_student = fx("make_event"), fx("make_student")
    return lambda **fields: make_event("community_swap", by=make_student("nxu", roles=("organiser",)), **fields)


def _events(fx):
    """add(k): k community swaps, each organised by another organiser."""
    new_event = _new_event(fx)
    return lambda k: [new_event() for _ in range(k)]


def _stalls(fx):
    """(event, add): add(k) has k stallholders register for the event and bring a listing each."""
    make_event, people, register, bring = fx("make_event"), fx("people"), fx("register"), fx("bring")
    event = make_event("community_swap", stalls=30)

    def add(k):
        for stallholder in people(k):
            register(stallholder, event)
            bring(stallholder, event)

    return event, add


def _red(fx):
    """add(k): a new red-list edition with k more people qualified on it."""
    people, red_edition = fx("people"), fx("red_edition")
    return lambda k: red_edition(people(k))


def _black(fx):
    """add(k): k people on the black list, in force."""
    people, blacklist = fx("people"), fx("blacklist")
    return lambda k: [blacklist(p) for p in people(k)]


def _purchases(fx):
    """add(k): k orders of `buyer`, each from another seller, requested, accepted or completed."""
    buyer, people, sale = fx("buyer"), fx("people"), fx("sale")
    statuses = itertools.cycle(("requested", "accepted", "completed"))
    return lambda k: [sale(s, buyer, next(statuses)) for s in people(k)]


def _sales_to_others(fx):
    """add(k): k orders on new listings of `seller`, each from another buyer, requested, accepted or completed."""
    seller, people, sale = fx("seller"), fx("people"), fx("sale")
    statuses = itertools.cycle(("requested", "accepted", "completed"))
    return lambda k: [sale(seller, b, next(statuses)) for b in people(k)]


def _rated_sales(fx):
    """add(k): k completed sales of `seller`, each to another buyer, rated by both parties."""
    seller, people, sale, rate_both = fx("seller"), fx("people"), fx("sale"), fx("rate_both")
    return lambda k: [rate_both(sale(seller, b)) for b in people(k)]


def _messages(fx):
    """(order, add): add(k) has the parties of an accepted order post k messages, in turn."""
    from marketplace.orders import messages

    make_order, db = fx("make_order"), fx("db")
    order = make_order(status="accepted")
    turns = itertools.cycle((order.buyer, order.seller))

    def add(k):
        for n in range(k):
            messages.post(next(turns), order, f"第 {n + 1} 条消息：周六上午十点地铁站见。")
        db.session.commit()

    return order, add


def _adjustments(fx):
    """add(k): k manual adjustments of `seller`'s score by a supervisor (ledger events, audit entries)."""
    from marketplace.credit import service as credit

    seller, supervisor, db = fx("seller"), fx("supervisor"), fx("db")
    signs = itertools.cycle((5, -5))

    def add(k):
        for _ in range(k):
            credit.adjust(supervisor, seller, next(signs), "测试：人工调整信用分")
        db.session.commit()

    return add


def _reports(fx):
    """add(k): k reports, each by another reporter on a listing of another seller."""
    people, offer, report = fx("people"), fx("offer"), fx("report")

    def add(k):
        for seller, reporter in zip(people(k), people(k), strict=True):
            report(reporter, offer(seller))

    return add


def _falls(fx):
    """add(k): k people flagged by a fall of 150 points within 30 days."""
    from marketplace.credit import service as credit

    supervisor, people, db = fx("supervisor"), fx("people"), fx("db")

    def add(k):
        for person in people(k):
            credit.adjust(supervisor, person, -150, "测试：信用分骤降")
        db.session.commit()

    return add


def _verifications(fx):
    """add(k): k pending verification requests, each of another new user."""
    make_user, submit_request = fx("make_user"), fx("submit_request")
    return lambda k: [submit_request(make_user()) for _ in range(k)]


def _appeals(fx):
    """add(k): k pending appeals, each of another seller."""
    people, appealed = fx("people"), fx("appealed")
    return lambda k: [appealed(p) for p in people(k)]


def _own_offers(fx):
    """add(k): k more active listings of `seller`."""
    seller, offer = fx("seller"), fx("offer")
    return lambda k: [offer(seller) for _ in range(k)]


def _disputes(fx):
    """add(k): k disputed orders, each between another seller and another buyer."""
    people, sale = fx("people"), fx("sale")

    def add(k):
        for seller, buyer in zip(people(k), people(k), strict=True):
            sale(seller, buyer, "disputed")

    return add


def _notices(fx):
    """add(k): k notices of `user`, of three kinds in turn."""
    from marketplace.notices import service as notices

    user, db = fx("user"), fx("db")
    kinds = itertools.cycle(
        (
            ("order.message", {"subject_type": "order", "subject_id": 7, "order": 7, "title": "旧书"}),
            ("rating.received", {"subject_type": "order", "subject_id": 8, "order": 8}),
            ("event.cancelled", {"subject_type": "event", "subject_id": 3, "title": "换物日", "reason": "下雨"}),
        )
    )

    def add(k):
        for _ in range(k):
            kind, params = next(kinds)
            notices.notify(user.id, kind, **params)
        db.session.commit()

    return add


def _entries(fx):
    """add(k): k black-list entries, each about another person, every other one confirmed, the rest pending."""
    people, propose_entry, blacklist = fx("people"), fx("propose_entry"), fx("blacklist")

    def add(k):
        for n, person in enumerate(people(k)):
            (blacklist if n % 2 else propose_entry)(person)

    return add


# --- how a page is asked for -------------------------------------------------------------------------------------


def _browser(fx, url: str, who=None):
    """fetch() → GET `url` in the browser, anonymous or signed in as `who` (signed in once, here)."""
    client = fx("client") if who is None else fx("login")(who)
    return lambda: client.get(url)


def _api(fx, url: str, who=None):
    """fetch() → GET `url` on the JSON API, anonymous or with `who`'s bearer token (issued once, here)."""
    api = fx("api")
    headers = None if who is None else fx("token_for")(who)
    return lambda: api.get(url, headers=headers)


def _html(rows, url: str, who: str | None = None, many: int = 12):
    """build(fx) of a case whose rows come from `rows(fx)` and whose page is `url`, asked for in the browser by
    anyone, or by the person the fixture `who` names."""
    return lambda fx: Page(rows(fx), _browser(fx, url, fx(who) if who else None), many)


def _json(rows, url: str, who: str | None = None, many: int = 12):
    """build(fx) as `_html`, for a route of the JSON API (with `who`'s bearer token)."""
    return lambda fx: Page(rows(fx), _api(fx, url, fx(who) if who else None), many)


# --- cases that need more than a row builder and a fixed address -------------------------------------------------


def _home(fx):
    people, offer, red_edition, events = fx("people"), fx("offer"), fx("red_edition"), _events(fx)
    shown = {"events": 0, "red": []}

    def add(k):
        for seller in people(k):
            offer(seller)
        # The home page shows the next 4 events and the top 5 of the red board.
        more = min(k, 4 - shown["events"])
        events(more)
        shown["events"] += more
        red = min(k, 5 - len(shown["red"]))
        shown["red"] += people(red)
        red_edition(shown["red"][-red:] if red else [])

    return Page(add, _browser(fx, "/"))


def _listing_photos(fx):
    with_photos, listing = fx("with_photos"), fx("make_listing")(user=fx("seller"))
    return Page(lambda k: with_photos(listing, k), _browser(fx, f"/listings/{listing.id}"), many=9)


def _listing_requests(fx):
    """The seller's own listing lists the buyers' open requests."""
    seller, people, make_order = fx("seller"), fx("people"), fx("make_order")
    listing = fx("offer")(seller)
    return Page(
        lambda k: [make_order(listing=listing, buyer_user=b) for b in people(k)],
        _browser(fx, f"/listings/{listing.id}", seller),
    )


def _seller_profile(fx):
    """The profile shows 6 listings and the revealed ratings received."""
    seller, offer, people, sale, rate_both = fx("seller"), fx("offer"), fx("people"), fx("sale"), fx("rate_both")

    def add(k):
        for buyer in people(k):
            rate_both(sale(seller, buyer))
            offer(seller)

    return Page(add, _browser(fx, f"/users/{seller.id}"), many=6)


def _events_calendar(fx):
    new_event = _new_event(fx)
    day = itertools.count(1)

    def add(k):
        for _ in range(k):
            starts = _next_month_day(next(day), 10)
            new_event(
                starts_at=starts, ends_at=starts + timedelta(hours=4), registration_deadline=starts - timedelta(days=1)
            )

    month = _next_month_day(1, 10)
    return Page(add, _browser(fx, f"/events/calendar?month={month.year:04d}-{month.month:02d}"))


def _event_listings(fx):
    """The event page lists the listings its stallholders brought."""
    event, add = _stalls(fx)
    return Page(add, _browser(fx, f"/events/{event.id}"))


def _api_event_listings(fx):
    event, add = _stalls(fx)
    return Page(add, _api(fx, f"/api/v1/events/{event.id}/listings"))


def _my_events(fx):
    """My registrations for others' events, and the events I organise."""
    make_event, register, new_event = fx("make_event"), fx("register"), _new_event(fx)
    me = fx("make_student")("nxu", "me1", roles=("organiser",))

    def add(k):
        for _ in range(k):
            register(me, new_event(), "visitor")
            make_event("community_swap", by=me)

    return Page(add, _browser(fx, "/me/events", me))


def _event_console(fx):
    """The organiser's console lists stallholders, the waiting list and visitors."""
    people, register = fx("people"), fx("register")
    event = fx("make_event")("community_swap", stalls=1)  # the rest of the stallholders wait in line

    def add(k):
        for person in people(k):
            register(person, event, "stall")
        for person in people(k):
            register(person, event, "visitor")

    return Page(add, _browser(fx, f"/events/{event.id}/console", fx("organiser")))


def _api_event_registrations(fx):
    people, register = fx("people"), fx("register")
    event = fx("make_event")("community_swap", stalls=1)
    roles = itertools.cycle(("stall", "visitor"))
    return Page(
        lambda k: [register(p, event, next(roles)) for p in people(k)],
        _api(fx, f"/api/v1/events/{event.id}/registrations", fx("organiser")),
    )


def _api_my_registrations(fx):
    register, new_event = fx("register"), _new_event(fx)
    me = fx("make_student")("nxu", "me1")
    roles = itertools.cycle(("stall", "visitor"))
    return Page(
        lambda k: [register(me, new_event(), next(roles)) for _ in range(k)],
        _api(fx, "/api/v1/me/registrations", me),
    )


def _my_events_swaps(fx):
    """My events also lists the swap offers made to me and by me."""
    me, add = fx("swapping")()
    return Page(add, _browser(fx, "/me/events", me))


def _api_my_swaps(fx):
    me, add = fx("swapping")()
    return Page(add, _api(fx, "/api/v1/me/swaps", me))


def _order_messages(fx):
    """The order page lists the parties' messages and the order's history."""
    order, add = _messages(fx)
    return Page(add, _browser(fx, f"/orders/{order.id}", fx("buyer")))


def _api_order_messages(fx):
    order, add = _messages(fx)
    return Page(add, _api(fx, f"/api/v1/orders/{order.id}/messages", fx("buyer")))


def _inspection_queue(fx):
    return Page(_offers(fx), _browser(fx, "/inspect", fx("make_user")("inspector1", roles=("inspector",))))


def _admin_users(fx):
    return Page(fx("people"), _browser(fx, "/admin/users", fx("make_user")("admin1", roles=("admin",))))


def _api_user_credit(fx):
    seller = fx("seller")
    return Page(_adjustments(fx), _api(fx, f"/api/v1/users/{seller.id}/credit", seller))


def _api_user_ratings(fx):
    return Page(_rated_sales(fx), _api(fx, f"/api/v1/users/{fx('seller').id}/ratings"))


# --- the cases ------------------------------------------------------------------------------------------------------

# name → (bound, build): `build(fx)` returns the case's Page; `bound` is the most statements its request may send.
CASES: dict[str, tuple[int, Callable[..., Page]]] = {
    # public pages
    "search-words": (7, _html(_offers, "/search?q=手机")),
    "search-browse": (7, _html(_offers, "/search?sort=price_asc")),
    "home": (14, _home),
    "listing-photos": (15, _listing_photos),
    "listing-requests": (24, _listing_requests),
    "seller-profile": (22, _seller_profile),
    "red-board": (7, _html(_red, "/red", many=8)),
    "black-board": (6, _html(_black, "/black")),
    "events": (4, _html(_events, "/events")),
    "events-calendar": (4, _events_calendar),
    "event-listings": (12, _event_listings),
    # a signed-in person's own lists
    "my-listings": (12, _html(_own_offers, "/my/listings", "seller")),
    "my-purchases": (12, _html(_purchases, "/me/purchases", "buyer")),
    "my-sales": (12, _html(_sales_to_others, "/me/sales", "seller")),
    "notices": (6, _html(_notices, "/notices", "user")),
    "credit-ledger": (6, _html(_adjustments, "/credit", "seller")),
    "my-events": (12, _my_events),
    "event-console": (13, _event_console),
    # moderators and supervisors
    "moderation-reports": (12, _html(_reports, "/moderation/reports", "moderator")),
    "moderation-flagged": (13, _html(_falls, "/moderation/flagged", "moderator")),
    "moderation-verifications": (8, _html(_verifications, "/moderation/verifications", "moderator")),
    "moderation-disputes": (11, _html(_disputes, "/moderation/disputes", "moderator")),
    "supervision-blacklist": (17, _html(_entries, "/supervision/blacklist", "supervisor2")),
    # The chain's check reads every entry of the audit log (in batches of 2000).
    "supervision-audit": (8, _html(_adjustments, "/supervision/audit", "supervisor2")),
    "moderation-appeals": (13, _html(_appeals, "/moderation/appeals", "moderator2")),
    "inspection-queue": (9, _inspection_queue),
    "admin-users": (7, _admin_users),
    "order-messages": (18, _order_messages),
    # My data: my listings, orders and ratings, every one.
    "my-data": (34, _html(_rated_sales, "/me/data", "seller")),
    "events-feed": (4, _html(_events, "/events.ics")),
    # the JSON API
    "api-listings-words": (7, _json(_offers, "/api/v1/listings?q=手机")),
    "api-listings": (7, _json(_offers, "/api/v1/listings?sort=price_desc")),
    "api-events": (5, _json(_events, "/api/v1/events")),
    "api-events-feed": (4, _json(_events, "/api/v1/events.ics")),
    "api-event-listings": (10, _api_event_listings),
    "api-event-registrations": (12, _api_event_registrations),
    "api-my-registrations": (8, _api_my_registrations),
    "api-my-swaps": (31, _api_my_swaps),
    "my-events-swaps": (33, _my_events_swaps),
    # The seller is told of every order on their listings, and of its acceptance and completion.
    "api-my-notices": (7, _json(_sales_to_others, "/api/v1/me/notices", "seller")),
    "api-my-orders": (12, _json(_purchases, "/api/v1/me/orders", "buyer")),
    "api-my-sales": (12, _json(_sales_to_others, "/api/v1/me/orders?role=seller", "seller")),
    "api-order-messages": (17, _api_order_messages),
    "api-moderation-reports": (12, _json(_reports, "/api/v1/moderation/reports", "moderator")),
    "api-moderation-flagged": (13, _json(_falls, "/api/v1/moderation/flagged", "moderator")),
    "api-moderation-verifications": (8, _json(_verifications, "/api/v1/moderation/verifications", "moderator")),
    "api-moderation-appeals": (13, _json(_appeals, "/api/v1/moderation/appeals", "moderator2")),
    "api-supervision-blacklist": (14, _json(_entries, "/api/v1/supervision/blacklist", "supervisor2")),
    "api-black-board": (6, _json(_black, "/api/v1/trust/black")),
    "api-red-board": (7, _json(_red, "/api/v1/trust/red", many=8)),
    "api-user-credit": (8, _api_user_credit),
    "api-user-ratings": (13, _api_user_ratings),
}


# --- the test --------------------------------------------------------------------------------------------------


def _shape(statement: str) -> str:
    return " ".join(statement.split())[:160]


@pytest.mark.parametrize("name", list(CASES))
def test_a_list_page_costs_the_same_statements_for_few_rows_as_for_many(name, request, db):
    bound, build = CASES[name]
    case = build(request.getfixturevalue)

    def measure():
        db.session.commit()
        with count_statements(db.engine) as seen:
            response = case.fetch()
        assert response.status_code == 200, (name, response.status_code, response.get_data(as_text=True)[:500])
        return list(seen), response

    case.add(FEW)
    measure()  # warms the process's caches: standards, policy, translations
    few, few_response = measure()
    case.add(case.many - FEW)
    many, many_response = measure()

    # The rows were made and shown: the page with many rows is longer.
    assert len(many_response.get_data()) > len(few_response.get_data()), name
    extra = Counter(map(_shape, many)) - Counter(map(_shape, few))
    assert len(many) == len(few), (name, len(few), len(many), list(extra.items())[:5])
    assert len(few) <= bound, (name, len(few), bound, [_shape(s) for s in few])
