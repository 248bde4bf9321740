"""The post-event summary: listings brought, swapped and sold, registrations, check-ins, no-shows, weight estimate."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from marketplace.events import service, settlement, summary, swaps
from marketplace.listings import service as listings
from marketplace.listings.models import CATEGORIES, Listing


def _sell(db, listing):
    db.session.execute(sa.update(Listing).where(Listing.id == listing.id).values(status="sold"))
    db.session.commit()


def test_the_weights_file_covers_every_category_and_says_what_it_is():
    data = json.loads(summary.WEIGHTS_FILE.read_text(encoding="utf-8"))
    assert data["source"] and "waste" in data["note"] and "car" in data["note"].lower()
    kg = summary.weights()
    assert set(kg) == set(CATEGORIES)
    assert all(value > 0 for value in kg.values())
    assert kg["phone"] == 0.2 and kg["books"] == 0.5 and kg["vehicle"] == 1200


def test_an_event_nobody_came_to(event):
    out = summary.of(event)
    assert out["listed"] == out["swapped"] == out["sold"] == out["active"] == 0
    assert out["by_category"] == [] and out["weight_kg_total"] == 0 and out["includes_vehicles"] is False
    assert out["registrations"] == {"stall": 0, "visitor": 0, "waitlisted": 0, "cancelled": 0}
    assert out["checked_in"] == 0 and out["no_shows"] == 0
    assert out["swaps"] == {"pending": 0, "accepted": 0, "declined": 0, "withdrawn": 0, "void": 0}
    assert out["ended"] is False and out["settled"] is False


@pytest.fixture
def busy_event(db, swap_event, make_resident, register, bring, organiser, make_running):
    """A community swap: two stallholders with stalls, one waiting, a visitor, a cancellation, a swap, a sale."""
    event = swap_event
    a, b, c, d, e = (make_resident("jinfeng", f"p{n}") for n in range(5))
    register(a, event)
    register(b, event)
    register(c, event)  # waitlisted: 2 stalls
    register(d, event, "visitor")
    cancelled = register(e, event, "visitor")
    service.cancel_registration(e, cancelled)
    db.session.commit()
    a_phone, a_book = (
        bring(a, event, 1)[0],
        bring(a, event, 1, category="books", grading=None, title="高等数学 第七版 上册")[0],
    )
    b_items = bring(b, event, 2, category="books", grading=None, title="大学英语 综合教程 第一册")
    b_chair = bring(b, event, 1, category="furniture", grading=None, title="宜家 实木餐椅 一把")[0]
    # b offers two books for a's phone: accepted; a's book is sold; the chair stays on sale.
    offer = swaps.make_offer(b, event, a_phone.id, [item.id for item in b_items], "两本书换你的手机")
    db.session.commit()
    swaps.accept(a, offer)
    db.session.commit()
    _sell(db, a_book)
    declined = swaps.make_offer(
        a, event, b_chair.id, [bring(a, event, 1, category="clothing", grading=None, title="羽绒服 白色")[0].id]
    )
    db.session.commit()
    swaps.decline(b, declined)
    db.session.commit()
    make_running(event)
    service.check_in(organiser, event, _code(db, a, event))
    db.session.commit()
    return event, {"a": a, "b": b, "c": c, "d": d, "e": e, "chair": b_chair}


def _code(db, user, event):
    return service.registration_of(user, event).checkin_code


def test_a_busy_event(busy_event):
    event, _people = busy_event
    out = summary.of(event)
    # a: phone (swapped), book (sold), coat (active); b: two books (swapped), chair (active).
    assert (out["listed"], out["swapped"], out["sold"], out["active"]) == (6, 3, 1, 2)
    rows = {row["category"]: row for row in out["by_category"]}
    assert rows["books"] == {"category": "books", "label": "图书", "listed": 3, "count": 3, "kg": 1.5}
    assert rows["phone"] == {"category": "phone", "label": "手机", "listed": 1, "count": 1, "kg": 0.2}
    assert rows["furniture"]["count"] == 0 and rows["furniture"]["kg"] == 0
    assert rows["clothing"]["listed"] == 1 and rows["clothing"]["count"] == 0
    # Heaviest first.
    assert [row["category"] for row in out["by_category"]][:2] == ["books", "phone"]
    assert out["weight_kg_total"] == 1.7
    assert out["registrations"] == {"stall": 2, "visitor": 1, "waitlisted": 1, "cancelled": 1}
    assert out["checked_in"] == 1
    assert out["swaps"] == {"pending": 0, "accepted": 1, "declined": 1, "withdrawn": 0, "void": 0}
    # Not over yet: nobody is a no-show.
    assert out["no_shows"] == 0 and out["ended"] is False


def test_no_shows_before_and_after_settlement(db, busy_event, make_past):
    event, _people = busy_event
    make_past(event)
    out = summary.of(event)
    # b held a stall and never checked in; c was waiting, d a visitor: not counted.
    assert out["ended"] is True and out["settled"] is False and out["no_shows"] == 1
    assert settlement.settle(event) == 1
    db.session.commit()
    out = summary.of(event)
    assert out["settled"] is True and out["no_shows"] == 1


def test_a_car_counts_at_its_weight_and_says_so(db, swap_event, make_resident, register, bring):
    event = swap_event
    owner = make_resident("jinfeng", "driver")
    register(owner, event)
    (bike,) = bring(owner, event, 1, category="bicycles", grading=None, title="捷安特 山地自行车")
    listing = listings.create(
        owner,
        listings.ListingInput(
            title="二手轿车 2018 款",
            description="一手车，按时保养。",
            category="books",
            price_fen=100,
            district="jinfeng",
        ),
    )
    db.session.commit()
    # Grading a car takes a long checklist; the category is what the summary reads.
    db.session.execute(
        sa.update(Listing).where(Listing.id == listing.id).values(category="vehicle", status="sold", event_id=event.id)
    )
    _sell(db, bike)
    out = summary.of(event)
    assert out["includes_vehicles"] is True
    assert out["weight_kg_total"] == 1214.0
    assert [row["category"] for row in out["by_category"]] == ["vehicle", "bicycles"]


def test_the_summary_runs_a_fixed_number_of_queries(db, busy_event):
    event, _people = busy_event
    db.session.refresh(event)
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        summary.of(event)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    # Listings, registrations, swap offers: one GROUP BY each, however many rows.
    assert len(statements) == 3 and all("GROUP BY" in statement for statement in statements)


def test_the_summary_of_a_cancelled_event(db, swap_event, organiser, make_resident, register, bring):
    stallholder = make_resident("jinfeng", "stallholder")
    register(stallholder, swap_event)
    bring(stallholder, swap_event, 2)
    assert summary.of(swap_event)["listed"] == 2
    service.cancel(organiser, swap_event, "场地临时被征用")
    db.session.commit()
    out = summary.of(swap_event)
    # Cancelling sends the listings back to plain sale: none is at the event any more.
    assert out["listed"] == 0 and out["weight_kg_total"] == 0
    assert out["registrations"]["stall"] == 1 and out["no_shows"] == 0
