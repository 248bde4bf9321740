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


CASES: dict[str, tuple[Callable[..., Page], int]] = {}


def page(name: str, bound: int):
    """Register a case: `build(fx)` returns its Page; `bound` is the most statements its request may send."""

    def register(build):
        CASES[name] = (build, bound)
        return build

    return register


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


# --- public pages ---------------------------------------------------------------------------------------------------


@page("search-words", bound=7)
def _search_words(fx):
    people, offer, client = fx("people"), fx("offer"), fx("client")
    return Page(lambda k: [offer(p) for p in people(k)], lambda: client.get("/search?q=手机"))


@page("search-browse", bound=7)
def _search_browse(fx):
    people, offer, client = fx("people"), fx("offer"), fx("client")
    return Page(lambda k: [offer(p) for p in people(k)], lambda: client.get("/search?sort=price_asc"))


@page("home", bound=14)
def _home(fx):
    people, offer, client, make_event, make_student = (
        fx("people"),
        fx("offer"),
        fx("client"),
        fx("make_event"),
        fx("make_student"),
    )
    red_edition = fx("red_edition")
    shown = {"events": 0, "red": []}

    def add(k):
        for seller in people(k):
            offer(seller)
        # The home page shows the next 4 events and the top 5 of the red board.
        events = min(k, 4 - shown["events"])
        for _ in range(events):
            make_event("community_swap", by=make_student("nxu", roles=("organiser",)))
        shown["events"] += events
        red = min(k, 5 - len(shown["red"]))
        shown["red"] += people(red)
        red_edition(shown["red"][-red:] if red else [])

    return Page(add, lambda: client.get("/"))


@page("listing-photos", bound=15)
def _listing_photos(fx):
    seller, make_listing, with_photos, client = fx("seller"), fx("make_listing"), fx("with_photos"), fx("client")
    listing = make_listing(user=seller)
    return Page(lambda k: with_photos(listing, k), lambda: client.get(f"/listings/{listing.id}"), many=9)


@page("listing-requests", bound=24)
def _listing_requests(fx):
    """The seller's own listing lists the buyers' open requests."""
    seller, offer, people, make_order, login = fx("seller"), fx("offer"), fx("people"), fx("make_order"), fx("login")
    listing = offer(seller)
    client = login(seller)
    return Page(
        lambda k: [make_order(listing=listing, buyer_user=b) for b in people(k)],
        lambda: client.get(f"/listings/{listing.id}"),
    )


@page("seller-profile", bound=22)
def _seller_profile(fx):
    """The profile shows 6 listings and the revealed ratings received."""
    seller, offer, people, sale, rate_both, client = (
        fx("seller"),
        fx("offer"),
        fx("people"),
        fx("sale"),
        fx("rate_both"),
        fx("client"),
    )

    def add(k):
        for buyer in people(k):
            rate_both(sale(seller, buyer))
            offer(seller)

    return Page(add, lambda: client.get(f"/users/{seller.id}"), many=6)


@page("red-board", bound=7)
def _red_board(fx):
    people, red_edition, client = fx("people"), fx("red_edition"), fx("client")
    return Page(lambda k: red_edition(people(k)), lambda: client.get("/red"), many=8)


@page("black-board", bound=6)
def _black_board(fx):
    people, blacklist, client = fx("people"), fx("blacklist"), fx("client")
    return Page(lambda k: [blacklist(p) for p in people(k)], lambda: client.get("/black"))


@page("events", bound=4)
def _events(fx):
    make_event, make_student, client = fx("make_event"), fx("make_student"), fx("client")

    def add(k):
        for _ in range(k):
            make_event("community_swap", by=make_student("nxu", roles=("organiser",)))

    return Page(add, lambda: client.get("/events"))


@page("events-calendar", bound=4)
def _events_calendar(fx):
    make_event, make_student, client = fx("make_event"), fx("make_student"), fx("client")
    day = itertools.count(1)

    def add(k):
        for _ in range(k):
            starts = _next_month_day(next(day), 10)
            make_event(
                "community_swap",
                by=make_student("nxu", roles=("organiser",)),
                starts_at=starts,
                ends_at=starts + timedelta(hours=4),
                registration_deadline=starts - timedelta(days=1),
            )

    month = _next_month_day(1, 10)
    return Page(add, lambda: client.get(f"/events/calendar?month={month.year:04d}-{month.month:02d}"))


@page("event-listings", bound=12)
def _event_listings(fx):
    """The event page lists the listings its stallholders brought."""
    make_event, people, register, bring, client = (
        fx("make_event"),
        fx("people"),
        fx("register"),
        fx("bring"),
        fx("client"),
    )
    event = make_event("community_swap", stalls=30)

    def add(k):
        for stallholder in people(k):
            register(stallholder, event)
            bring(stallholder, event)

    return Page(add, lambda: client.get(f"/events/{event.id}"))


# --- a signed-in person's own lists ------------------------------------------------------------------------------


@page("my-listings", bound=12)
def _my_listings(fx):
    seller, offer, login = fx("seller"), fx("offer"), fx("login")
    client = login(seller)
    return Page(lambda k: [offer(seller) for _ in range(k)], lambda: client.get("/my/listings"))


@page("my-purchases", bound=12)
def _my_purchases(fx):
    buyer, people, sale, login = fx("buyer"), fx("people"), fx("sale"), fx("login")
    statuses = itertools.cycle(("requested", "accepted", "completed"))
    client = login(buyer)
    return Page(lambda k: [sale(s, buyer, next(statuses)) for s in people(k)], lambda: client.get("/me/purchases"))


def _sales_to_others(fx):
    """add(k): k orders on new listings of `seller`, each from another buyer, requested, accepted or completed."""
    seller, people, sale = fx("seller"), fx("people"), fx("sale")
    statuses = itertools.cycle(("requested", "accepted", "completed"))
    return lambda k: [sale(seller, b, next(statuses)) for b in people(k)]


@page("my-sales", bound=12)
def _my_sales(fx):
    client = fx("login")(fx("seller"))
    return Page(_sales_to_others(fx), lambda: client.get("/me/sales"))


@page("notices", bound=6)
def _notices(fx):
    from marketplace.notices import service as notices

    user, db, login = fx("user"), fx("db"), fx("login")
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

    client = login(user)
    return Page(add, lambda: client.get("/notices"))


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


@page("credit-ledger", bound=6)
def _credit_ledger(fx):
    client = fx("login")(fx("seller"))
    return Page(_adjustments(fx), lambda: client.get("/credit"))


@page("my-events", bound=12)
def _my_events(fx):
    """My registrations for others' events, and the events I organise."""
    make_event, make_student, register, login = fx("make_event"), fx("make_student"), fx("register"), fx("login")
    me = make_student("nxu", "me1", roles=("organiser",))

    def add(k):
        for _ in range(k):
            register(me, make_event("community_swap", by=make_student("nxu", roles=("organiser",))), "visitor")
            make_event("community_swap", by=me)

    client = login(me)
    return Page(add, lambda: client.get("/me/events"))


@page("event-console", bound=13)
def _event_console(fx):
    """The organiser's console lists stallholders, the waiting list and visitors."""
    organiser, make_event, people, register, login = (
        fx("organiser"),
        fx("make_event"),
        fx("people"),
        fx("register"),
        fx("login"),
    )
    event = make_event("community_swap", stalls=1)  # the rest of the stallholders wait in line

    def add(k):
        for person in people(k):
            register(person, event, "stall")
        for person in people(k):
            register(person, event, "visitor")

    client = login(organiser)
    return Page(add, lambda: client.get(f"/events/{event.id}/console"))


# --- moderators and supervisors --------------------------------------------------------------------------------


@page("moderation-reports", bound=12)
def _moderation_reports(fx):
    moderator, people, offer, report, login = (
        fx("moderator"),
        fx("people"),
        fx("offer"),
        fx("report"),
        fx("login"),
    )

    def add(k):
        for seller, reporter in zip(people(k), people(k), strict=True):
            report(reporter, offer(seller))

    client = login(moderator)
    return Page(add, lambda: client.get("/moderation/reports"))


def _falls(fx):
    """add(k): k people flagged by a fall of 150 points within 30 days."""
    from marketplace.credit import service as credit

    supervisor, people, db = fx("supervisor"), fx("people"), fx("db")

    def add(k):
        for person in people(k):
            credit.adjust(supervisor, person, -150, "测试：信用分骤降")
        db.session.commit()

    return add


@page("moderation-flagged", bound=13)
def _moderation_flagged(fx):
    client = fx("login")(fx("moderator"))
    return Page(_falls(fx), lambda: client.get("/moderation/flagged"))


@page("moderation-verifications", bound=8)
def _moderation_verifications(fx):
    moderator, make_user, submit_request, login = (
        fx("moderator"),
        fx("make_user"),
        fx("submit_request"),
        fx("login"),
    )
    client = login(moderator)
    return Page(
        lambda k: [submit_request(make_user()) for _ in range(k)], lambda: client.get("/moderation/verifications")
    )


@page("moderation-disputes", bound=11)
def _moderation_disputes(fx):
    moderator, people, sale, login = fx("moderator"), fx("people"), fx("sale"), fx("login")

    def add(k):
        for seller, buyer in zip(people(k), people(k), strict=True):
            sale(seller, buyer, "disputed")

    client = login(moderator)
    return Page(add, lambda: client.get("/moderation/disputes"))


def _entries(fx):
    """add(k): k black-list entries, each about another person, every other one confirmed, the rest pending."""
    people, propose_entry, blacklist = fx("people"), fx("propose_entry"), fx("blacklist")

    def add(k):
        for n, person in enumerate(people(k)):
            (blacklist if n % 2 else propose_entry)(person)

    return add


@page("supervision-blacklist", bound=17)
def _supervision_blacklist(fx):
    client = fx("login")(fx("supervisor2"))
    return Page(_entries(fx), lambda: client.get("/supervision/blacklist"))


@page("supervision-audit", bound=8)
def _supervision_audit(fx):
    """The chain's check reads every entry of the audit log (in batches of 2000)."""
    client = fx("login")(fx("supervisor2"))
    return Page(_adjustments(fx), lambda: client.get("/supervision/audit"))


@page("moderation-appeals", bound=13)
def _moderation_appeals(fx):
    moderator2, people, appealed, login = fx("moderator2"), fx("people"), fx("appealed"), fx("login")
    client = login(moderator2)
    return Page(lambda k: [appealed(p) for p in people(k)], lambda: client.get("/moderation/appeals"))


@page("inspection-queue", bound=9)
def _inspection_queue(fx):
    make_user, people, offer, login = fx("make_user"), fx("people"), fx("offer"), fx("login")
    client = login(make_user("inspector1", roles=("inspector",)))
    return Page(lambda k: [offer(p) for p in people(k)], lambda: client.get("/inspect"))


@page("admin-users", bound=7)
def _admin_users(fx):
    make_user, people, login = fx("make_user"), fx("people"), fx("login")
    client = login(make_user("admin1", roles=("admin",)))
    return Page(people, lambda: client.get("/admin/users"))


@page("order-messages", bound=18)
def _order_messages(fx):
    """The order page lists the parties' messages and the order's history."""
    from marketplace.orders import messages

    make_order, buyer, db, login = fx("make_order"), fx("buyer"), fx("db"), fx("login")
    order = make_order(status="accepted")
    turns = itertools.cycle((order.buyer, order.seller))

    def add(k):
        for n in range(k):
            messages.post(next(turns), order, f"第 {n + 1} 条消息：周六上午十点地铁站见。")
        db.session.commit()

    client = login(buyer)
    return Page(add, lambda: client.get(f"/orders/{order.id}"))


@page("my-data", bound=34)
def _my_data(fx):
    """My data: my listings, orders and ratings, every one."""
    seller, people, sale, rate_both, login = fx("seller"), fx("people"), fx("sale"), fx("rate_both"), fx("login")
    client = login(seller)
    return Page(lambda k: [rate_both(sale(seller, b)) for b in people(k)], lambda: client.get("/me/data"))


@page("events-feed", bound=4)
def _events_feed(fx):
    make_event, make_student, client = fx("make_event"), fx("make_student"), fx("client")

    def add(k):
        for _ in range(k):
            make_event("community_swap", by=make_student("nxu", roles=("organiser",)))

    return Page(add, lambda: client.get("/events.ics"))


# --- the JSON API ------------------------------------------------------------------------------------------------


@page("api-listings-words", bound=7)
def _api_listings_words(fx):
    people, offer, api = fx("people"), fx("offer"), fx("api")
    return Page(lambda k: [offer(p) for p in people(k)], lambda: api.get("/api/v1/listings?q=手机"))


@page("api-listings", bound=7)
def _api_listings(fx):
    people, offer, api = fx("people"), fx("offer"), fx("api")
    return Page(lambda k: [offer(p) for p in people(k)], lambda: api.get("/api/v1/listings?sort=price_desc"))


@page("api-events", bound=5)
def _api_events(fx):
    make_event, make_student, api = fx("make_event"), fx("make_student"), fx("api")

    def add(k):
        for _ in range(k):
            make_event("community_swap", by=make_student("nxu", roles=("organiser",)))

    return Page(add, lambda: api.get("/api/v1/events"))


@page("api-events-feed", bound=4)
def _api_events_feed(fx):
    make_event, make_student, api = fx("make_event"), fx("make_student"), fx("api")

    def add(k):
        for _ in range(k):
            make_event("community_swap", by=make_student("nxu", roles=("organiser",)))

    return Page(add, lambda: api.get("/api/v1/events.ics"))


@page("api-event-listings", bound=10)
def _api_event_listings(fx):
    make_event, people, register, bring, api = fx("make_event"), fx("people"), fx("register"), fx("bring"), fx("api")
    event = make_event("community_swap", stalls=30)

    def add(k):
        for stallholder in people(k):
            register(stallholder, event)
            bring(stallholder, event)

    return Page(add, lambda: api.get(f"/api/v1/events/{event.id}/listings"))


@page("api-event-registrations", bound=12)
def _api_event_registrations(fx):
    organiser, make_event, people, register, api, token_for = (
        fx("organiser"),
        fx("make_event"),
        fx("people"),
        fx("register"),
        fx("api"),
        fx("token_for"),
    )
    event = make_event("community_swap", stalls=1)
    headers = token_for(organiser)
    roles = itertools.cycle(("stall", "visitor"))
    return Page(
        lambda k: [register(p, event, next(roles)) for p in people(k)],
        lambda: api.get(f"/api/v1/events/{event.id}/registrations", headers=headers),
    )


@page("api-my-registrations", bound=8)
def _api_my_registrations(fx):
    make_event, make_student, register, api, token_for = (
        fx("make_event"),
        fx("make_student"),
        fx("register"),
        fx("api"),
        fx("token_for"),
    )
    me = make_student("nxu", "me1")
    headers = token_for(me)
    roles = itertools.cycle(("stall", "visitor"))

    def add(k):
        for _ in range(k):
            register(me, make_event("community_swap", by=make_student("nxu", roles=("organiser",))), next(roles))

    return Page(add, lambda: api.get("/api/v1/me/registrations", headers=headers))


@page("api-my-swaps", bound=31)
def _api_my_swaps(fx):
    swapping, api, token_for = fx("swapping"), fx("api"), fx("token_for")
    me, add = swapping()
    headers = token_for(me)
    return Page(add, lambda: api.get("/api/v1/me/swaps", headers=headers))


@page("my-events-swaps", bound=33)
def _my_events_swaps(fx):
    """My events also lists the swap offers made to me and by me."""
    swapping, login = fx("swapping"), fx("login")
    me, add = swapping()
    client = login(me)
    return Page(add, lambda: client.get("/me/events"))


@page("api-my-notices", bound=7)
def _api_my_notices(fx):
    seller, api, token_for = fx("seller"), fx("api"), fx("token_for")
    headers = token_for(seller)
    # The seller is told of every order on their listings, and of its acceptance and completion.
    return Page(_sales_to_others(fx), lambda: api.get("/api/v1/me/notices", headers=headers))


@page("api-my-orders", bound=12)
def _api_my_orders(fx):
    buyer, people, sale, api, token_for = fx("buyer"), fx("people"), fx("sale"), fx("api"), fx("token_for")
    statuses = itertools.cycle(("requested", "accepted", "completed"))
    headers = token_for(buyer)
    return Page(
        lambda k: [sale(s, buyer, next(statuses)) for s in people(k)],
        lambda: api.get("/api/v1/me/orders", headers=headers),
    )


@page("api-my-sales", bound=12)
def _api_my_sales(fx):
    api, headers = fx("api"), fx("token_for")(fx("seller"))
    return Page(_sales_to_others(fx), lambda: api.get("/api/v1/me/orders?role=seller", headers=headers))


@page("api-order-messages", bound=17)
def _api_order_messages(fx):
    from marketplace.orders import messages

    make_order, buyer, db, api, token_for = fx("make_order"), fx("buyer"), fx("db"), fx("api"), fx("token_for")
    order = make_order(status="accepted")
    turns = itertools.cycle((order.buyer, order.seller))

    def add(k):
        for n in range(k):
            messages.post(next(turns), order, f"第 {n + 1} 条消息：周六上午十点地铁站见。")
        db.session.commit()

    headers = token_for(buyer)
    return Page(add, lambda: api.get(f"/api/v1/orders/{order.id}/messages", headers=headers))


@page("api-moderation-reports", bound=12)
def _api_moderation_reports(fx):
    moderator, people, offer, report, api, token_for = (
        fx("moderator"),
        fx("people"),
        fx("offer"),
        fx("report"),
        fx("api"),
        fx("token_for"),
    )

    def add(k):
        for seller, reporter in zip(people(k), people(k), strict=True):
            report(reporter, offer(seller))

    headers = token_for(moderator)
    return Page(add, lambda: api.get("/api/v1/moderation/reports", headers=headers))


@page("api-moderation-flagged", bound=13)
def _api_moderation_flagged(fx):
    api, headers = fx("api"), fx("token_for")(fx("moderator"))
    return Page(_falls(fx), lambda: api.get("/api/v1/moderation/flagged", headers=headers))


@page("api-moderation-verifications", bound=8)
def _api_moderation_verifications(fx):
    moderator, make_user, submit_request, api, token_for = (
        fx("moderator"),
        fx("make_user"),
        fx("submit_request"),
        fx("api"),
        fx("token_for"),
    )
    headers = token_for(moderator)
    return Page(
        lambda k: [submit_request(make_user()) for _ in range(k)],
        lambda: api.get("/api/v1/moderation/verifications", headers=headers),
    )


@page("api-moderation-appeals", bound=13)
def _api_moderation_appeals(fx):
    moderator2, people, appealed, api, token_for = (
        fx("moderator2"),
        fx("people"),
        fx("appealed"),
        fx("api"),
        fx("token_for"),
    )
    headers = token_for(moderator2)
    return Page(
        lambda k: [appealed(p) for p in people(k)], lambda: api.get("/api/v1/moderation/appeals", headers=headers)
    )


@page("api-supervision-blacklist", bound=14)
def _api_supervision_blacklist(fx):
    api, headers = fx("api"), fx("token_for")(fx("supervisor2"))
    return Page(_entries(fx), lambda: api.get("/api/v1/supervision/blacklist", headers=headers))


@page("api-black-board", bound=6)
def _api_black_board(fx):
    people, blacklist, api = fx("people"), fx("blacklist"), fx("api")
    return Page(lambda k: [blacklist(p) for p in people(k)], lambda: api.get("/api/v1/trust/black"))


@page("api-red-board", bound=7)
def _api_red_board(fx):
    people, red_edition, api = fx("people"), fx("red_edition"), fx("api")
    return Page(lambda k: red_edition(people(k)), lambda: api.get("/api/v1/trust/red"), many=8)


@page("api-user-credit", bound=8)
def _api_user_credit(fx):
    seller, api, token_for = fx("seller"), fx("api"), fx("token_for")
    headers = token_for(seller)
    return Page(_adjustments(fx), lambda: api.get(f"/api/v1/users/{seller.id}/credit", headers=headers))


@page("api-user-ratings", bound=13)
def _api_user_ratings(fx):
    seller, people, sale, rate_both, api = fx("seller"), fx("people"), fx("sale"), fx("rate_both"), fx("api")
    return Page(
        lambda k: [rate_both(sale(seller, b)) for b in people(k)],
        lambda: api.get(f"/api/v1/users/{seller.id}/ratings"),
    )


# --- the test --------------------------------------------------------------------------------------------------


def _shape(statement: str) -> str:
    return " ".join(statement.split())[:160]


@pytest.mark.parametrize("name", list(CASES))
def test_a_list_page_costs_the_same_statements_for_few_rows_as_for_many(name, request, db):
    build, bound = CASES[name]
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
