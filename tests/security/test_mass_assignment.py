"""Fields a user must not set (mass assignment): role, credit, verification status, owner ids, computed grades...

Every form and API body that creates or updates something a user owns is sent with extra fields a
user must not set. Forms (WTForms reads only its own fields) must ignore them: the stored object has the
server's values. API bodies (pydantic models with extra="forbid") must refuse them with 422 problem+json
and write nothing, and the same body without the extras must then succeed (so the refusal was the
extras'). Each group collects its failures and asserts once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.identity.factories import make_id_number, make_phone
from tests.listings.sellers import checklist_fields, phone_answers
from tests.security.owned import *  # noqa: F403 (the owned_world fixture)
from tests.security.owned import BUYER_SCORES, differences, snapshot

REASON = "这是测试用的理由，足够长了吧。"
FAR = "2001-01-01T00:00:00+00:00"


def _extras(**owners) -> dict:
    """The fields no form or body may set, with values that would be wrong if they stuck."""
    values = {
        "id": 999999,
        "role": "admin",
        "roles": "admin",
        "is_admin": "1",
        "credit": "1000",
        "credit_score": "1000",
        "score": "1000",
        "verified": "1",
        "verification_status": "approved",
        "status": "approved",
        "created_at": FAR,
        "grade": "S",
        "price_fen": "1",
        "folded": "1",
        "checked_in_at": FAR,
        "checkin_code": "HACKED01",
        "no_show": "1",
        "settled_at": FAR,
        "decided_by": "1",
    }
    values.update({k: str(v) for k, v in owners.items()})
    return values


def _model(db, cls, **where):
    db.session.expire_all()
    query = sa.select(cls).filter_by(**where).order_by(cls.id.desc())
    return db.session.scalars(query).first()


def _check(failures: list[str], what: str, obj, **expected) -> None:
    if obj is None:
        failures.append(f"{what}: nothing stored")
        return
    for name, value in expected.items():
        got = getattr(obj, name)
        if got != value:
            failures.append(f"{what}: {name} is {got!r}, should be {value!r}")


@pytest.fixture
def sign_in(app, password):
    def do(user):
        c = app.test_client()
        resp = c.post("/login", data={"username": user.username, "password": password})
        assert resp.status_code == 302
        return c

    return do


def _posted(failures, what, resp) -> None:
    """A form post that should have been accepted (a redirect away from the form)."""
    if resp.status_code not in (302, 303):
        failures.append(f"{what}: answered {resp.status_code}, not accepted")


def test_forms_ignore_fields_a_user_must_not_set(app, db, owned_world, sign_in, password):
    """Registration, verification, sell, edit, order, complete, rate, report, appeal, events, swap, reply, message."""
    from marketplace.accounts.models import User
    from marketplace.events.models import Event, Registration, SwapOffer
    from marketplace.grading import engine
    from marketplace.identity.models import IdentityVerification
    from marketplace.listings.models import Listing
    from marketplace.moderation.models import Appeal, Report
    from marketplace.orders import service as orders
    from marketplace.orders.models import Order, OrderMessage
    from marketplace.ratings.models import Rating

    p, ids = owned_world.people, owned_world.ids
    failures: list[str] = []
    a, b, o, o2 = p["a"], p["b"], p["o"], p["o2"]

    # Registration: a resident with no score, whatever the form says.
    anon = app.test_client()
    resp = anon.post(
        "/register",
        data={"username": "newbie", "display_name": "新人", "password": password, "confirm": password, **_extras()},
    )
    _posted(failures, "register", resp)
    newbie = _model(db, User, username="newbie")
    _check(failures, "register", newbie, status="active", credit_score=None)
    if newbie is not None:
        if newbie.id == 999999:
            failures.append("register: the id was taken from the form")
        if sorted(newbie.roles) != ["resident"]:
            failures.append(f"register: roles {sorted(newbie.roles)}")

    # Real-name verification: queued for a moderator (pending), for the submitter, no score yet.
    if newbie is not None:
        c = sign_in(newbie)
        form = {"kind": "resident", "real_name": "张新人", "id_number": make_id_number(), "phone": make_phone()}
        resp = c.post("/me/verification", data={**form, **_extras(user_id=a.id, decided_by_id=p["m"].id)})
        _posted(failures, "verification", resp)
        request = _model(db, IdentityVerification, user_id=newbie.id)
        _check(failures, "verification", request, status="pending", decided_by_id=None)
        _check(failures, "verification (user)", _model(db, User, id=newbie.id), credit_score=None)

    # Selling: the seller is the one signed in, the grade is the engine's, the listing is on sale.
    grade = engine.assess("phone", phone_answers()).grade
    sell = {
        "title": "自己的 手机 出售",
        "description": "自用，功能正常。",
        "price": "3299",
        "district": "xingqing",
        **checklist_fields(phone_answers()),
    }
    cb = sign_in(b)
    extras = _extras(seller_id=a.id, event_id=ids["event"], recycle_only="1", safety_warning="1", certified="1")
    resp = cb.post("/sell?category=phone", data={**sell, **extras})
    _posted(failures, "sell", resp)
    mine = _model(db, Listing, title="自己的 手机 出售")
    _check(failures, "sell", mine, seller_id=b.id, grade=grade, status="active", price_fen=329900, event_id=None)
    _check(failures, "sell", mine, recycle_only=False, safety_warning=False)

    # Editing: none of those either.
    if mine is not None:
        resp = cb.post(f"/listings/{mine.id}/edit", data={**sell, "title": "自己的 手机 改过", **extras})
        _posted(failures, "edit", resp)
        _check(failures, "edit", _model(db, Listing, id=mine.id), seller_id=b.id, grade=grade, status="active")
        _check(failures, "edit", _model(db, Listing, id=mine.id), title="自己的 手机 改过", event_id=None)

    # Ordering a's listing: b is the buyer, a the seller, the order only requested, at the offered price.
    order_form = {"message": "想要", "price": "3000", "payment_method": "cash"}
    extras = _extras(buyer_id=p["s"].id, seller_id=b.id, accepted_at=FAR, swap_offer_id="1")
    resp = cb.post(f"/listings/{ids['listing']}/order", data={**order_form, **extras, "status": "completed"})
    _posted(failures, "order", resp)
    order = _model(db, Order, listing_id=ids["listing"], buyer_id=b.id)
    _check(failures, "order", order, seller_id=a.id, status="requested", price_fen=300000, accepted_at=None)
    _check(failures, "order", order, swap_offer_id=None)

    if order is not None:
        # A message is the sender's own.
        resp = cb.post(f"/orders/{order.id}/messages", data={"body": "周六见", "sender_id": str(a.id), "id": "1"})
        _posted(failures, "message", resp)
        _check(failures, "message", _model(db, OrderMessage, order_id=order.id), sender_id=b.id, body="周六见")

        # The price is fixed at acceptance: completing cannot change it.
        orders.accept(a, db.session.get(Order, order.id))
        db.session.commit()
        resp = cb.post(f"/orders/{order.id}/complete", data={"price": "1", **_extras()})
        _posted(failures, "complete", resp)
        _check(failures, "complete", _model(db, Order, id=order.id), status="completed", price_fen=300000)

        # A rating: b rates a as the buyer, not folded, hidden until both have rated.
        scores = {k: str(v) for k, v in BUYER_SCORES.items()}
        extras = _extras(rater_id=a.id, ratee_id=b.id, rater_role="seller", folded_at=FAR, visible_from=FAR)
        resp = cb.post(f"/orders/{order.id}/rate", data={**scores, "comment": "好", **extras})
        _posted(failures, "rate", resp)
        rating = _model(db, Rating, order_id=order.id)
        _check(failures, "rate", rating, rater_id=b.id, ratee_id=a.id, rater_role="buyer", folded_at=None)
        if rating is not None and rating.visible_from.year < 2020:
            failures.append("rate: visible_from was taken from the form")

    # A report is the reporter's, open, from a user.
    extras = _extras(reporter_id=a.id, source="certification", decision_id="1")
    resp = cb.post(f"/listings/{ids['s_listing']}/report", data={"reason": "other", "detail": REASON, **extras})
    _posted(failures, "report", resp)
    report = _model(db, Report, listing_id=ids["s_listing"], reporter_id=b.id)
    _check(failures, "report", report, status="open", source="user", decision_id=None)

    # An appeal is pending, the appellant's, undecided.
    ca = sign_in(a)
    extras = _extras(appellant_id=b.id, decider_id=p["m"].id, note="已推翻", decided_at=FAR)
    resp = ca.post(f"/decisions/{ids['decision']}/appeal", data={"reason": REASON, **extras, "status": "overturned"})
    _posted(failures, "appeal", resp)
    appeal = _model(db, Appeal, decision_id=ids["decision"])
    _check(failures, "appeal", appeal, appellant_id=a.id, status="pending", decider_id=None, decided_at=None)

    # A reply: the rated party's text only; the rating stays unfolded.
    resp = ca.post(f"/ratings/{ids['rating_about_a']}/reply", data={"reply": "谢谢", **_extras(ratee_id=b.id)})
    _posted(failures, "reply", resp)
    _check(failures, "reply", _model(db, Rating, id=ids["rating_about_a"]), reply="谢谢", folded_at=None)

    # Registering for an event: o2's own registration, not checked in, with a code the server made.
    co2 = sign_in(o2)
    extras = _extras(user_id=a.id, appeal_status="excused", promoted_at=FAR, late_cancellation="1")
    resp = co2.post(f"/events/{ids['event']}/register", data={**extras, "role": "stall", "status": "cancelled"})
    _posted(failures, "register for an event", resp)
    registration = _model(db, Registration, event_id=ids["event"], user_id=o2.id)
    _check(failures, "event registration", registration, status="registered", checked_in_at=None, no_show=False)
    _check(failures, "event registration", registration, appeal_status=None, late_cancellation=False)
    if registration is not None and registration.checkin_code == "HACKED01":
        failures.append("event registration: the check-in code was taken from the form")

    # A swap offer: b's, to a, pending.
    extras = _extras(offerer_id=a.id, owner_id=b.id, want_listing_id=ids["listing"], decided_at=FAR)
    data = {"offer_listing_ids": [str(ids["b_listing"])], "message": "换吗", **extras, "status": "accepted"}
    resp = cb.post(f"/events/{ids['event']}/swap/{ids['at_fair']}", data=data)
    _posted(failures, "swap offer", resp)
    offer = _model(db, SwapOffer, offerer_id=b.id)
    _check(failures, "swap offer", offer, owner_id=a.id, want_listing_id=ids["at_fair"], status="pending")

    # A new event: its organiser is the one signed in; open, with no stalls taken, not settled.
    co = sign_in(o)
    from marketplace.db import utcnow

    start = (utcnow() + timedelta(days=10)).astimezone().replace(tzinfo=None)
    when = lambda moment: moment.strftime("%Y-%m-%dT%H:%M")  # noqa: E731
    event_form = {
        "title": "自己的换物日",
        "kind": "community_swap",
        "venue": "金凤区万达广场北侧",
        "district": "jinfeng",
        "starts_at": when(start),
        "ends_at": when(start + timedelta(hours=4)),
        "registration_deadline": when(start - timedelta(days=1)),
        "stalls": "10",
        "restriction": "none",
    }
    extras = _extras(organiser_id=a.id, stalls_taken="10", cancel_reason="x")
    resp = co.post("/events/new", data={**event_form, **extras, "status": "cancelled"})
    _posted(failures, "new event", resp)
    event = _model(db, Event, title="自己的换物日")
    _check(failures, "new event", event, organiser_id=o.id, status="open", stalls_taken=0, settled_at=None)
    if event is not None:
        resp = co.post(f"/events/{event.id}/edit", data={**event_form, "title": "自己的换物日改", **extras})
        _posted(failures, "edit event", resp)
        _check(failures, "edit event", _model(db, Event, id=event.id), organiser_id=o.id, status="open")
        _check(failures, "edit event", _model(db, Event, id=event.id), stalls_taken=0, title="自己的换物日改")

    assert not failures, f"{len(failures)} fields stuck or forms refused:\n" + "\n".join(failures)


# --- the API: extras refused with 422, nothing written; the same body without them succeeds ---------------

API_EXTRAS = {
    "role": "admin",
    "roles": ["admin"],
    "is_admin": True,
    "credit_score": 1000,
    "score": 1000,
    "verified": True,
    "verification_status": "approved",
    "status": "approved",
    "id": 999999,
    "created_at": FAR,
    "grade": "S",
    "seller_id": 1,
    "user_id": 1,
    "owner_id": 1,
    "buyer_id": 1,
}


def test_api_bodies_refuse_fields_a_user_must_not_set(app, db, api, owned_world, token_for, password):
    """Each body with each forbidden field: 422 problem+json naming it, nothing written; without: success."""
    from marketplace.listings.models import Listing
    from marketplace.orders import service as orders
    from marketplace.orders.models import Order

    p, ids = owned_world.people, owned_world.ids
    failures: list[str] = []
    tried = 0

    def attempt(who_headers, method, path, body, what, ok=(200, 201, 202)):
        nonlocal tried
        before = snapshot(db)  # once around the whole batch: each refusal must write nothing
        for name, value in API_EXTRAS.items():
            if name in body:
                continue
            resp = api.open("/api/v1" + path, method=method, json={**body, name: value}, headers=who_headers)
            tried += 1
            problem = resp.get_json(silent=True) or {}
            if resp.status_code not in (400, 422) or resp.mimetype != "application/problem+json":
                failures.append(f"{what} + {name}: answered {resp.status_code} {resp.get_data(as_text=True)[:150]}")
            elif resp.status_code == 422 and not any(name in key for key in (problem.get("errors") or {})):
                failures.append(f"{what} + {name}: 422 without naming the field: {problem}")
        changed = differences(before, snapshot(db))
        if changed:
            failures.append(f"{what} with forbidden fields: wrote {changed}")
        resp = api.open("/api/v1" + path, method=method, json=body, headers=who_headers)
        if resp.status_code not in ok:
            failures.append(f"{what} without extras: answered {resp.status_code} {resp.get_data(as_text=True)[:200]}")
        return resp.get_json(silent=True)

    # Registration and real-name verification.
    attempt({}, "POST", "/users", {"username": "apinew", "password": password, "display_name": "接口新人"}, "users")
    resp = api.post("/api/v1/auth/token", json={"username": "apinew", "password": password})
    newbie = {"Authorization": f"Bearer {resp.get_json()['token']}"}
    verification = {"real_name": "张接口", "id_number": make_id_number(), "phone": make_phone(), "kind": "resident"}
    attempt(newbie, "POST", "/me/verification", verification, "verification")

    # Listings: create and patch.
    b = token_for(p["b"])
    listing = {
        "title": "接口 手机 出售",
        "description": "自用，功能正常。",
        "category": "phone",
        "price_fen": 329900,
        "district": "xingqing",
        "grading": phone_answers(),
    }
    made = attempt(b, "POST", "/listings", listing, "create listing") or {}
    if made.get("id"):
        attempt(b, "PATCH", f"/listings/{made['id']}", {"price_fen": 300000}, "patch listing")
        for status in ("reserved", "removed", "swapped"):
            resp = api.patch(f"/api/v1/listings/{made['id']}", json={"status": status}, headers=b)
            tried += 1
            if resp.status_code not in (409, 422):
                failures.append(f"patch listing status={status}: answered {resp.status_code}")
        stored = db.session.get(Listing, made["id"])
        db.session.refresh(stored)
        _check(failures, "patched listing", stored, seller_id=p["b"].id, status="active", price_fen=300000)

    # An order, its messages, completion (the accepted price stays) and the rating.
    order = attempt(b, "POST", f"/listings/{ids['listing']}/orders", {"message": "想要"}, "order") or {}
    if order.get("id"):
        oid = order["id"]
        attempt(b, "POST", f"/orders/{oid}/messages", {"body": "周六见"}, "message")
        orders.accept(p["a"], db.session.get(Order, oid))
        db.session.commit()
        price = db.session.get(Order, oid).price_fen
        # Completing takes no body: whatever is sent is ignored (the price was fixed at acceptance).
        resp = api.post(f"/api/v1/orders/{oid}/complete", json={"price_fen": 1, **API_EXTRAS}, headers=b)
        tried += 1
        if resp.status_code != 200:
            failures.append(f"complete with a body: answered {resp.status_code}")
        stored = db.session.get(Order, oid)
        db.session.refresh(stored)
        _check(failures, "completed order", stored, price_fen=price, buyer_id=p["b"].id, status="completed")
        attempt(b, "POST", f"/orders/{oid}/ratings", {"scores": BUYER_SCORES}, "rating")

    # A report, an appeal, a reply to a rating.
    report = {"reason": "other", "detail": REASON}
    attempt(b, "POST", f"/listings/{ids['s_listing']}/reports", report, "report")
    a = token_for(p["a"])
    attempt(a, "POST", f"/decisions/{ids['decision']}/appeal", {"reason": REASON}, "appeal")
    attempt(a, "POST", f"/ratings/{ids['rating_about_a']}/reply", {"reply": "谢谢"}, "reply")

    # Events: registration, a swap offer, an event and its edit.
    o2 = token_for(p["o2"])
    attempt(o2, "POST", f"/events/{ids['event']}/registrations", {"role": "stall"}, "event registration")
    swap = {"want_listing_id": ids["at_fair"], "offer_listing_ids": [ids["b_listing"]]}
    attempt(b, "POST", f"/events/{ids['event']}/swaps", swap, "swap offer")
    from marketplace.db import utcnow

    start = utcnow().replace(microsecond=0) + timedelta(days=10)
    event = {
        "title": "接口换物日",
        "kind": "community_swap",
        "venue": "金凤区万达广场北侧",
        "district": "jinfeng",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=4)).isoformat(),
        "capacity": 10,
    }
    o = token_for(p["o"])
    made = attempt(o, "POST", "/events", event, "create event") or {}
    if made.get("id"):
        attempt(o, "PATCH", f"/events/{made['id']}", {"title": "接口换物日改"}, "patch event")

    assert tried >= 200
    assert not failures, f"{len(failures)} of {tried} API bodies:\n" + "\n".join(failures)
