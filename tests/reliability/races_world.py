"""The end-to-end races' world (tests/reliability/test_races.py): seeding through the services, and the clients.

Each seeding function runs in the given app's context, commits, and returns plain ids (never ORM
objects, which would outlive their session): the servers are then raced over HTTP by `rush` and
the rows read afresh.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import requests

from tests.listings.sellers import phone_answers

JOIN = 120  # seconds a client waits at the barrier or for its answer: a hung server fails, never hangs the run
_titles = itertools.count(1)


# --- clients ----------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One client's request: `label` groups the calls whose statuses are counted together."""

    label: str
    method: str
    path: str
    headers: dict
    body: dict | None = None


@dataclass
class Answer:
    """What one client got back, from which server, after how long."""

    call: Call
    server: str
    status: int
    content_type: str
    text: str
    seconds: float = 0.0

    @property
    def data(self) -> dict:
        try:
            return json.loads(self.text)
        except ValueError:
            return {}


def rush(servers: dict, calls: list[Call]) -> list[Answer]:
    """Send every call at once, each from its own thread and connection, the servers in turn; answers in call order."""
    barrier = threading.Barrier(len(calls))
    names = list(servers)

    def send(n: int, call: Call) -> Answer:
        name = names[n % len(names)]
        barrier.wait(JOIN)
        began = time.monotonic()
        try:
            response = requests.request(
                call.method, servers[name].url(call.path), headers=call.headers, json=call.body, timeout=JOIN
            )
        except requests.RequestException as exc:
            return Answer(call, name, 0, "", repr(exc), time.monotonic() - began)
        kind = response.headers.get("Content-Type", "")
        return Answer(call, name, response.status_code, kind, response.text, time.monotonic() - began)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, range(len(calls)), calls))


def counted(answers: list[Answer]) -> str:
    """The statuses of each kind of call, in the order first sent: `request 201×50; accept 200×1 409×24`."""
    counts = Counter((a.call.label, a.status) for a in answers)
    labels = list(dict.fromkeys(a.call.label for a in answers))
    return "; ".join(
        f"{label} " + " ".join(f"{status}×{n}" for (lab, status), n in sorted(counts.items()) if lab == label)
        for label in labels
    )


# --- seeding ----------------------------------------------------------------------------------------------


def listings_for(app, user_id: int, count: int = 1, **fields) -> list[int]:
    """`count` active listings of the (verified) user made through the service: A-grade phones."""
    from marketplace.accounts.models import User
    from marketplace.db import db
    from marketplace.listings import service

    with app.app_context():
        user = db.session.get(User, user_id)
        made = []
        for _ in range(count):
            values = {
                "title": f"华为 Mate 60 手机 256GB 第 {next(_titles)} 台",
                "description": "自用一年，一直带壳贴膜。\n\n送原装充电器。",
                "category": "phone",
                "price_fen": 329900,
                "district": "xingqing",
                "grading": phone_answers(),
            }
            made.append(service.create(user, service.ListingInput(**(values | fields))))
        db.session.commit()
        return [listing.id for listing in made]


def more_tokens(app, user_id: int, count: int) -> list[dict]:
    """`count` further API tokens of one user (one per device), as request headers."""
    from marketplace.accounts.models import User
    from marketplace.accounts.service import issue_token
    from marketplace.db import db

    with app.app_context():
        user = db.session.get(User, user_id)
        raws = [issue_token(user, app.config["API_TOKEN_TTL"])[0] for _ in range(count)]
        db.session.commit()
    return [{"Authorization": f"Bearer {raw}"} for raw in raws]


def community_swap(app, organiser_id: int, *, stalls: int) -> int:
    """A community swap in three days, open to anyone verified, with `stalls` stalls: its id."""
    from marketplace.accounts.models import User
    from marketplace.db import db, utcnow
    from marketplace.events import service

    starts = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    data = service.EventInput(
        title="金凤社区换物日",
        kind="community_swap",
        description="带上闲置，换点用得上的。",
        venue="金凤区万达广场北侧",
        district="jinfeng",
        starts_at=starts,
        ends_at=starts + timedelta(hours=4),
        registration_deadline=starts - timedelta(days=1),
        stalls=stalls,
        restriction="none",
        campus=None,
    )
    with app.app_context():
        event = service.create(db.session.get(User, organiser_id), data)
        db.session.commit()
        return event.id


def stallholders(app, event_id: int, user_ids: list[int]) -> dict[int, int]:
    """Each user registered with a stall at the event and one listing brought to it: {user id: listing id}."""
    from marketplace.accounts.models import User
    from marketplace.db import db
    from marketplace.events import service

    listing_ids = {user_id: listings_for(app, user_id)[0] for user_id in user_ids}
    with app.app_context():
        event = service.get(event_id)
        for user_id, listing_id in listing_ids.items():
            user = db.session.get(User, user_id)
            registration = service.register(user, event_id, "stall")
            assert registration.status == "registered", "the swap event needs a stall for everyone"
            service.attach(user, event, [listing_id])
        db.session.commit()
    return listing_ids


def offers_of_one_listing(app, event_id: int, offerer_id: int, listing_id: int, wanted: list[int]) -> list[int]:
    """The offerer offers the same listing for each of `wanted`, one offer each: the offers' ids, in that order."""
    from marketplace.accounts.models import User
    from marketplace.db import db
    from marketplace.events import service, swaps

    with app.app_context():
        offerer, event = db.session.get(User, offerer_id), service.get(event_id)
        ids = [swaps.make_offer(offerer, event, want, [listing_id], "换吗？").id for want in wanted]
        db.session.commit()
    return ids


def proposed_entry(app, user_id: int, proposer_id: int) -> int:
    """A black-list entry proposed for the user by a moderator (the account is suspended from trading): its id."""
    from marketplace.accounts.models import User
    from marketplace.db import db
    from marketplace.trust import service as trust

    with app.app_context():
        entry = trust.propose(
            db.session.get(User, user_id),
            reason="low_score",
            proposer=db.session.get(User, proposer_id),
            decision_id=None,
        )
        db.session.commit()
        return entry.id


def requested_order(app, buyer_id: int, listing_id: int) -> int:
    """A buyer's request for a listing, made through the service: the order's id."""
    from marketplace.accounts.models import User
    from marketplace.db import db
    from marketplace.orders import service

    with app.app_context():
        order = service.request(db.session.get(User, buyer_id), listing_id, "还在吗？")
        db.session.commit()
        return order.id
