"""Listing rules: who may sell, what they may type, how the grade is found, and the status changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.grading.engine import get_standard
from marketplace.listings import fields, service
from marketplace.listings.models import Listing
from marketplace.listings.search import SearchParams, search_listings
from tests.grading.answers import best_answers
from tests.listings.sellers import (
    IMEI,
    phone_answers,
)


def _input(**fields) -> service.ListingInput:
    values = {
        "title": "华为 Mate 60 手机",
        "description": "自用一年",
        "category": "phone",
        "price": "3299",
        "district": "jinfeng",
        "grading": phone_answers(),
    }
    values.update(fields)
    return service.ListingInput(**values)


def _count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Listing))


def _found(q: str) -> set[int]:
    return {listing.id for listing in search_listings(SearchParams(q=q, sort="newest")).items}


# --- who may sell ----------------------------------------------------------------------


def test_an_unverified_user_is_refused_and_told_to_verify(db, make_user):
    user = make_user("newbie")
    with pytest.raises(Forbidden) as exc:
        service.create(user, _input())
    assert "实名认证" in exc.value.message
    assert not service.can_list(user)
    assert _count(db) == 0


def test_a_suspended_seller_is_refused(db, seller):
    seller.status = "suspended"
    db.session.commit()
    with pytest.raises(Forbidden):
        service.check_can_list(seller)
    with pytest.raises(Forbidden):
        service.create(seller, _input())


def test_a_verified_seller_lists_a_phone_and_the_engine_grades_it_a(db, seller):
    listing = service.create(seller, _input())
    db.session.commit()
    assert listing.status == "active"
    assert listing.grade == "A"
    assert listing.standard_version == get_standard("phone").version
    assert listing.grading["imei"] == IMEI and listing.grading["account_locked"] is False
    assert listing.price_fen == 329900
    assert not listing.safety_warning and not listing.recycle_only
    assert listing.id in _found("手机")


def test_a_flawless_phone_is_s_and_a_cracked_one_d(db, seller):
    best = service.create(seller, _input(grading=best_answers("phone")))
    cracked = service.create(seller, _input(grading=phone_answers(screen="cracked")))
    assert (best.grade, cracked.grade) == ("S", "D")


def test_an_account_locked_phone_is_refused_with_the_reason(db, seller):
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(grading=phone_answers(account_locked=True)))
    assert "账号锁未解除" in exc.value.message
    assert "grading.account_locked" in exc.value.errors
    assert _count(db) == 0


@pytest.mark.parametrize(("gate", "label"), [("stolen", "盗窃"), ("mortgaged", "抵押")])
def test_a_stolen_or_mortgaged_car_is_refused_with_the_reason(db, seller, gate, label):
    answers = best_answers("vehicle")
    answers[gate] = True
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(category="vehicle", title="2019 款大众朗逸", grading=answers))
    assert label in exc.value.message
    assert f"grading.{gate}" in exc.value.errors


def test_a_graded_category_needs_its_checklist(db, seller):
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(grading=None))
    assert {"grading.imei", "grading.account_locked", "grading.battery_health"} <= set(exc.value.errors)
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(grading=phone_answers(imei="490154203237519")))
    assert list(exc.value.errors) == ["grading.imei"]


def test_an_ungraded_category_takes_no_checklist(db, seller):
    listing = service.create(seller, _input(category="books", title="《三体》全套", grading=None))
    assert listing.grade is None and listing.grading is None and listing.standard_version is None
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(category="books", title="《三体》全套", grading={"imei": IMEI}))
    assert "grading" in exc.value.errors


def test_every_field_at_fault_is_named_at_once(db, seller):
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(title="x", price="abc", district="beijing", category="phone", grading=None))
    assert {"title", "price", "district", "grading.imei"} <= set(exc.value.errors)
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(category="cars"))
    assert "category" in exc.value.errors


def test_an_event_that_does_not_exist_is_refused(db, seller):
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(event_id=5))
    assert "event_id" in exc.value.errors


# --- appliances past their safe life ------------------------------------------------------


def _appliance(kind: str, year: int, **overrides) -> dict:
    answers = best_answers("appliance")
    answers.update(type=kind, production_year=year, brand="海尔", model="BCD-216")
    answers.update(overrides)
    return answers


def test_an_old_fridge_carries_a_safety_warning(db, seller):
    listing = service.create(
        seller, _input(category="appliance", title="海尔双门冰箱", grading=_appliance("refrigerator", 2008))
    )
    assert listing.safety_warning and not listing.recycle_only


@pytest.mark.parametrize("kind", ["electric_water_heater", "gas_water_heater"])
def test_an_old_water_heater_is_for_recycling_only_at_price_zero(db, seller, kind):
    answers = _appliance(kind, 2012)
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(category="appliance", title="美的电热水器 60 升", grading=answers))
    assert "0" in exc.value.errors["price"][0]
    listing = service.create(
        seller, _input(category="appliance", title="美的电热水器 60 升", price="0", grading=answers)
    )
    assert listing.recycle_only and listing.safety_warning and listing.price_fen == 0


# --- what sellers type ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("12.5", 1250),
        ("12.50", 1250),
        ("0", 0),
        ("3299", 329900),
        ("1,299", 129900),
        ("¥88", 8800),
        ("88 元", 8800),
        ("１２", 1200),
        (".5", 50),
        ("100000000", 10_000_000_000),
    ],
)
def test_prices_typed_in_yuan_are_stored_in_fen(typed, fen):
    assert fields.parse_price(typed) == fen


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "请填写"),
        ("-1", "负数"),
        ("1.234", "两位小数"),
        ("abc", "数字"),
        ("1e3", "数字"),
        ("nan", "数字"),
        ("Infinity", "数字"),
        ("12.5.1", "数字"),
        ("100000000.01", "1 亿"),
        ("999999999999999999999", "1 亿"),
    ],
)
def test_bad_prices_get_a_field_error(typed, says):
    with pytest.raises(Invalid) as exc:
        fields.parse_price(typed)
    assert says in exc.value.errors["price"][0]


def test_fen_from_the_api_is_range_checked(db, seller):
    for fen, says in ((-1, "负数"), (10_000_000_001, "1 亿")):
        with pytest.raises(Invalid) as exc:
            service.create(seller, _input(price=None, price_fen=fen))
        assert says in exc.value.errors["price_fen"][0]


@pytest.mark.parametrize(
    ("typed", "problem"),
    [("x", "2–80"), ("好" * 81, "2–80"), ("手机\u202e反转", "控制字符"), ("   ", "请填写")],
)
def test_title_rules(db, seller, typed, problem):
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(title=typed))
    assert problem in exc.value.errors["title"][0]


def test_title_whitespace_is_collapsed(db, seller):
    assert service.create(seller, _input(title="  华为\t手机\n 256G ")).title == "华为 手机 256G"


XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">点我</a>',
    "<svg><script>alert(1)</script></svg>",
    '<svg onload="alert(1)"></svg>',
    '<p style="background:url(javascript:alert(1))" onclick="alert(1)">文字</p>',
    '<iframe src="https://evil.example"></iframe>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
]


@pytest.mark.parametrize("payload", XSS)
def test_descriptions_keep_only_the_small_allowed_set(payload):
    cleaned = fields.sanitise_description(payload + "<b>粗体</b>")
    lowered = cleaned.lower()
    for bad in ("<script", "onerror", "onload", "onclick", "javascript:", "<svg", "<img", "<a", "<iframe", "style="):
        assert bad not in lowered
    assert "<b>粗体</b>" in cleaned


def test_plain_text_descriptions_become_paragraphs_and_round_trip_for_editing():
    typed = "第一行\n第二行\n\n第二段 a < b\n<ul>\n<li>配件</li>\n</ul>"
    stored = fields.sanitise_description(typed)
    assert stored == "<p>第一行<br>第二行</p><p>第二段 a &lt; b</p><ul><li>配件</li></ul>"
    assert fields.sanitise_description(fields.description_for_editing(stored)) == stored


def test_an_overlong_description_is_refused(db, seller):
    with pytest.raises(Invalid) as exc:
        service.create(seller, _input(description="好" * 5001))
    assert "description" in exc.value.errors


# --- editing ----------------------------------------------------------------------------------


def test_editing_the_checklist_grades_again(db, seller, phone):
    service.edit(seller, phone, service.ListingInput(grading=phone_answers(screen="visible"), price="2999"))
    db.session.commit()
    assert phone.grade == "C" and phone.price_fen == 299900
    assert phone.title == "华为 Mate 60 手机 256GB 雅丹黑"  # not given: unchanged


def test_an_edit_is_checked_like_a_new_listing(db, seller, phone):
    with pytest.raises(Invalid) as exc:
        service.edit(seller, phone, service.ListingInput(grading=phone_answers(reported_lost=True)))
    assert "挂失或被盗" in exc.value.message
    with pytest.raises(Invalid) as exc:
        service.edit(seller, phone, service.ListingInput(category="books"))
    assert "category" in exc.value.errors


def test_only_the_seller_may_edit(db, buyer, phone, moderator):
    for other in (buyer, moderator):
        with pytest.raises(Forbidden):
            service.edit(other, phone, service.ListingInput(title="改个标题"))
        assert not service.can_edit(other, phone)
    assert service.can_edit(phone.seller, phone)


def test_sold_and_removed_listings_cannot_be_edited(db, seller, phone, make_listing, moderator):
    service.mark_sold(seller, phone)
    removed = make_listing(title="小米 14 手机")
    service.delete(moderator, removed)
    db.session.commit()
    for listing in (phone, removed):
        with pytest.raises(Conflict):
            service.edit(seller, listing, service.ListingInput(title="改个标题"))
    assert phone.title != "改个标题" and phone.status == "sold"


# --- status changes ---------------------------------------------------------------------------


def test_withdraw_and_relist(db, seller, buyer, phone):
    service.withdraw(seller, phone)
    db.session.commit()
    assert phone.status == "withdrawn" and phone.id not in _found("手机")
    with pytest.raises(NotFound):
        service.get_visible(buyer, phone.id)
    assert service.get_visible(seller, phone.id) is phone
    service.relist(seller, phone)
    db.session.commit()
    assert phone.status == "active" and phone.id in _found("手机")


def test_a_sold_listing_stays_sold(db, seller, buyer, phone):
    service.mark_sold(seller, phone)
    db.session.commit()
    assert phone.id not in _found("手机")
    assert service.get_visible(buyer, phone.id).status == "sold"  # the record of the deal stays visible
    for change in (service.withdraw, service.mark_sold, service.relist, service.delete):
        with pytest.raises(Conflict):
            change(seller, phone)


def test_only_the_seller_changes_the_status(db, buyer, phone):
    for change in (service.withdraw, service.mark_sold, service.relist, service.delete):
        with pytest.raises(Forbidden):
            change(buyer, phone)


def test_delete_withdraws_for_the_seller_and_removes_for_a_moderator(db, seller, phone, make_listing, moderator):
    service.delete(seller, phone)
    service.delete(seller, phone)  # again: nothing changes
    assert phone.status == "withdrawn"
    other = make_listing(title="小米 14 手机")
    service.delete(moderator, other)
    db.session.commit()
    assert other.status == "removed"
    assert not service.can_relist(seller, other) and not service.can_edit(seller, other)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "listing.removed"))
    assert entry.subject_id == other.id and entry.actor_id == moderator.id


def test_moderators_see_hidden_listings_anonymous_visitors_do_not(db, seller, phone, moderator):
    service.withdraw(seller, phone)
    db.session.commit()
    assert service.can_view(moderator, phone)
    assert not service.can_view(None, phone)


def test_identifiers_are_shortened_for_the_public(db, seller, buyer, phone, make_user):
    assert service.visible_answers(seller, phone)["imei"] == IMEI
    shown = service.visible_answers(buyer, phone)["imei"]
    assert shown == IMEI[:8] + "*****" + IMEI[-2:]
    inspector = make_user("insp", roles=("inspector",))
    assert service.visible_answers(inspector, phone)["imei"] == IMEI


# --- concurrent changes (two threads, each its own session; PostgreSQL when TEST_DATABASE_URL is set) ---------


def _in_thread(app, work, outcome: dict, name: str):
    """Run work(session) in its own app context and transaction; record "ok", a domain error or a crash."""
    import threading

    def run():
        from marketplace.db import db as thread_db

        with app.app_context():
            try:
                work(thread_db)
                thread_db.session.commit()
                outcome[name] = "ok"
            except (Conflict, Invalid) as exc:
                thread_db.session.rollback()
                outcome[name] = type(exc).__name__
            except Exception as exc:  # a 500 in production: the test fails on it
                thread_db.session.rollback()
                outcome[name] = repr(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _pause_on(monkeypatch, module, name: str):
    """Make module.name wait (once) until released; returns (reached, release) events."""
    import threading

    reached, release = threading.Event(), threading.Event()
    original = getattr(module, name)

    def paused(*args, **kwargs):
        if not reached.is_set():
            reached.set()
            assert release.wait(20)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, paused)
    return reached, release


def test_an_edit_racing_a_mark_sold_never_revives_the_sold_listing(app, db, phone, monkeypatch):
    import time

    from marketplace.accounts.models import User

    listing_id, seller_id = phone.id, phone.seller_id
    db.session.commit()
    reached, release = _pause_on(monkeypatch, fields, "clean_title")
    outcome: dict = {}

    def edit(tdb):
        tdb_seller = tdb.session.get(User, seller_id)
        service.edit(tdb_seller, tdb.session.get(Listing, listing_id), service.ListingInput(title="华为 Mate 60 降价"))

    def sell(tdb):
        tdb_seller = tdb.session.get(User, seller_id)
        service.mark_sold(tdb_seller, tdb.session.get(Listing, listing_id))

    editing = _in_thread(app, edit, outcome, "edit")
    assert reached.wait(20)  # the edit has read the listing and holds its row
    selling = _in_thread(app, sell, outcome, "sell")
    time.sleep(0.5)
    assert "sell" not in outcome  # the mark-sold waits for the edit's transaction
    release.set()
    editing.join(30)
    selling.join(30)
    assert outcome == {"edit": "ok", "sell": "ok"}
    db.session.expire_all()
    listing = db.session.get(Listing, listing_id)
    assert (listing.status, listing.title) == ("sold", "华为 Mate 60 降价")
    assert listing.id not in _found("手机")


def test_an_edit_after_a_concurrent_mark_sold_is_a_conflict(app, db, phone):
    from marketplace.accounts.models import User

    listing_id, seller_id = phone.id, phone.seller_id
    db.session.commit()
    outcome: dict = {}
    _in_thread(
        app,
        lambda tdb: service.mark_sold(tdb.session.get(User, seller_id), tdb.session.get(Listing, listing_id)),
        outcome,
        "sell",
    ).join(30)
    # This session still holds the listing as it was (active): the edit must read it again under its lock.
    with pytest.raises(Conflict):
        service.edit(phone.seller, phone, service.ListingInput(title="华为 Mate 60 降价"))
    db.session.rollback()
    assert outcome == {"sell": "ok"}
    assert db.session.get(Listing, listing_id).status == "sold" and listing_id not in _found("手机")


def test_two_concurrent_photo_uploads_never_exceed_the_limit_or_crash(app, db, phone, monkeypatch):
    import time

    from marketplace.accounts.models import User
    from marketplace.listings import photos
    from marketplace.listings.models import ListingPhoto
    from tests.listings.sellers import jpeg_bytes

    class Upload:
        def __init__(self, content: bytes):
            self.stream, self.filename = __import__("io").BytesIO(content), "photo.jpg"

    prepared = photos.prepare(Upload(jpeg_bytes(size=(60, 40))))
    listing_id, seller_id = phone.id, phone.seller_id
    db.session.commit()
    reached, release = _pause_on(monkeypatch, photos, "save")
    outcome: dict = {}

    def add(tdb):
        photos.add_photos(tdb.session.get(User, seller_id), tdb.session.get(Listing, listing_id), [prepared] * 5)

    first = _in_thread(app, add, outcome, "first")
    assert reached.wait(20)
    second = _in_thread(app, add, outcome, "second")
    time.sleep(0.5)
    release.set()
    first.join(30)
    second.join(30)
    assert outcome == {"first": "ok", "second": "Invalid"}  # 5 + 5 > 9: the second sees the first's photos
    db.session.expire_all()
    count = db.session.scalar(sa.select(sa.func.count()).where(ListingPhoto.listing_id == listing_id))
    assert count == 5


# --- credit bands (the limits come from credit/policy.json) ---------------------------------------


def test_a_restricted_seller_may_not_list_and_is_told_why(db, seller):
    seller.credit_score = 350
    db.session.commit()
    with pytest.raises(Forbidden) as exc:
        service.create(seller, _input())
    message = str(exc.value.message)
    assert "350" in message and "受限" in message and "400" in message and "申诉" in message
    assert not service.can_list(seller)
    assert _count(db) == 0


def test_a_poor_seller_has_at_most_three_active_listings(db, seller, make_listing):
    from marketplace.credit.policy import policy

    cap = policy()["limits"]["poor"]["max_active_listings"]
    assert cap == 3
    seller.credit_score = 450
    db.session.commit()
    made = [make_listing(title=f"华为 Mate 60 手机 {n}") for n in range(cap)]
    with pytest.raises(Forbidden) as exc:
        service.create(seller, _input())
    message = str(exc.value.message)
    assert "450" in message and "较差" in message and "3" in message
    db.session.rollback()
    # A withdrawn one frees a place, and relisting it counts against the cap again.
    service.withdraw(seller, made[0])
    db.session.commit()
    fourth = service.create(seller, _input())
    db.session.commit()
    with pytest.raises(Forbidden):
        service.relist(seller, made[0])
    assert fourth.status == "active"


def test_fair_sellers_are_not_capped(db, seller, make_listing):
    seller.credit_score = 560
    db.session.commit()
    for n in range(4):
        make_listing(title=f"华为 Mate 60 手机 {n}")
    assert service.can_list(seller)
