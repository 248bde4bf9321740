"""Order rules: who may ask, accept, complete, cancel, dispute and resolve; what each step does to the listing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import UserRole
from marketplace.audit.models import AuditEntry
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.listings import service as listings
from marketplace.listings.search import SearchParams, search_listings
from marketplace.notices.models import Notice
from marketplace.notices.service import mark_read
from marketplace.orders import messages, service
from marketplace.orders.models import Order
from marketplace.orders.service import Terms
from tests.grading.answers import best_answers

REASON = "临时有事，不能按约定时间交接"


def _found(q: str = "手机") -> set[int]:
    return {listing.id for listing in search_listings(SearchParams(q=q, sort="newest")).items}


def _status(db, listing) -> str:
    db.session.refresh(listing)
    return listing.status


def _notices(db, user, kind: str) -> list[Notice]:
    return list(db.session.scalars(sa.select(Notice).where(Notice.user_id == user.id, Notice.kind == kind)))


def _audit(db, action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def _orders(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Order))


@pytest.fixture
def stranger(make_user):
    return make_user("stranger")


# --- requesting ----------------------------------------------------------------------------


def test_a_request_reaches_the_seller_with_the_listing_price(db, phone, buyer, seller):
    order = service.request(buyer, phone.id, "周末可以当面交易吗？")
    db.session.commit()
    assert (order.status, order.price_fen, order.payment_method) == ("requested", phone.price_fen, "cash")
    assert (order.buyer_id, order.seller_id, order.message) == (buyer.id, seller.id, "周末可以当面交易吗？")
    assert [e.kind for e in order.events] == ["requested"]
    (notice,) = _notices(db, seller, "order.requested")
    assert notice.params["order"] == order.id and notice.subject_id == order.id
    assert _status(db, phone) == "active"


def test_own_sold_or_withdrawn_listings_cannot_be_requested(db, make_listing, buyer, seller):
    sold, withdrawn, mine = make_listing(), make_listing(title="小米手环 8"), make_listing(title="华为平板")
    listings.mark_sold(seller, sold)
    listings.withdraw(seller, withdrawn)
    db.session.commit()
    with pytest.raises(Forbidden):
        service.request(seller, mine.id)
    with pytest.raises(Conflict):
        service.request(buyer, sold.id)
    with pytest.raises(NotFound):
        service.request(buyer, withdrawn.id)
    db.session.rollback()
    assert _orders(db) == 0


def test_a_reserved_listing_cannot_be_requested(db, make_order, phone, verified_user):
    make_order(status="accepted")
    with pytest.raises(Conflict):
        service.request(verified_user("late"), phone.id)


def test_one_open_request_per_buyer_and_listing(db, make_order, phone, buyer):
    first = make_order()
    with pytest.raises(Conflict) as exc:
        service.request(buyer, phone.id, "再问一次")
    assert "已经" in exc.value.message
    db.session.rollback()
    assert _orders(db) == 1
    service.cancel(buyer, first, "想再考虑一下")
    db.session.commit()
    again = service.request(buyer, phone.id, "考虑好了")
    db.session.commit()
    assert again.status == "requested" and _orders(db) == 2


def test_a_restricted_credit_band_cannot_order_and_is_told_why(db, phone, buyer):
    buyer.credit_score = 350
    db.session.commit()
    with pytest.raises(Forbidden) as exc:
        service.request(buyer, phone.id)
    assert "350" in exc.value.message and "受限" in exc.value.message
    db.session.rollback()
    buyer.credit_score = 400  # poor, but above restricted: may still buy
    db.session.commit()
    assert service.request(buyer, phone.id).status == "requested"


def test_a_suspended_account_cannot_order(db, phone, buyer):
    buyer.status = "suspended"
    db.session.commit()
    with pytest.raises(Forbidden):
        service.request(buyer, phone.id)


def test_a_recycle_only_listing_cannot_be_bought(db, make_listing, buyer):
    answers = best_answers("appliance")
    answers.update(type="gas_water_heater", production_year=2010, brand="美的", model="F60")
    heater = make_listing(category="appliance", title="美的燃气热水器", price_fen=0, grading=answers)
    assert heater.recycle_only
    with pytest.raises(Conflict) as exc:
        service.request(buyer, heater.id)
    assert "回收" in exc.value.message


@pytest.mark.parametrize("text", ["我的电话 13912345678", "电话 139 1234 5678 联系", "控制\x07字符", "x" * 501])
def test_a_bad_request_message_is_refused_on_its_field(db, phone, buyer, text):
    with pytest.raises(Invalid) as exc:
        service.request(buyer, phone.id, text)
    assert list(exc.value.errors) == ["message"]
    db.session.rollback()
    assert _orders(db) == 0


@pytest.mark.parametrize(
    ("terms", "fen", "method"),
    [
        (Terms(price="12.5"), 1250, "cash"),
        (Terms(price=" 3000 ", payment_method="wechat"), 300000, "wechat"),
        (Terms(price_fen=99, payment_method="alipay"), 99, "alipay"),
        (Terms(price_fen=0), 0, "cash"),
        (Terms(price="  ", payment_method="other"), 329900, "other"),
    ],
)
def test_the_buyer_may_propose_a_price_and_a_payment_method(db, phone, buyer, terms, fen, method):
    order = service.request(buyer, phone.id, terms=terms)
    assert (order.price_fen, order.payment_method) == (fen, method)


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        (Terms(payment_method="bitcoin"), "payment_method"),
        (Terms(price_fen=True), "price_fen"),
        (Terms(price_fen=-1), "price_fen"),
        (Terms(price_fen=10**13), "price_fen"),
        (Terms(price="十块"), "price"),
    ],
)
def test_bad_terms_are_refused_on_their_field(db, phone, buyer, terms, field):
    with pytest.raises(Invalid) as exc:
        service.request(buyer, phone.id, terms=terms)
    assert field in exc.value.errors


# --- accepting -----------------------------------------------------------------------------


def test_only_the_seller_accepts(db, make_order, buyer, stranger):
    order = make_order()
    for who in (buyer, stranger):
        with pytest.raises(Forbidden):
            service.accept(who, order)
    assert order.status == "requested"


def test_accepting_reserves_the_listing_and_hides_it_from_search(db, make_order, phone, seller, buyer):
    assert phone.id in _found()
    order = make_order()
    service.accept(seller, order, Terms(price="3000", payment_method="alipay"))
    db.session.commit()
    assert (order.status, order.price_fen, order.payment_method) == ("accepted", 300000, "alipay")
    assert order.accepted_at is not None
    assert _status(db, phone) == "reserved" and phone.id not in _found()
    assert len(_notices(db, buyer, "order.accepted")) == 1


def test_a_second_accept_on_the_same_listing_is_a_conflict(db, make_order, seller, verified_user):
    first = make_order()
    second = make_order(buyer_user=verified_user("buyer2"))
    service.accept(seller, first)
    db.session.commit()
    with pytest.raises(Conflict):
        service.accept(seller, second)
    db.session.rollback()
    db.session.refresh(second)
    assert second.status == "requested"


def test_a_cancelled_order_cannot_be_accepted(db, make_order, phone, seller, buyer):
    order = make_order()
    service.cancel(buyer, order, REASON)
    db.session.commit()
    with pytest.raises(Conflict):
        service.accept(seller, order)
    db.session.rollback()
    assert _status(db, phone) == "active"


# --- completing ----------------------------------------------------------------------------


def test_only_the_buyer_confirms_and_only_an_accepted_order(db, make_order, seller, buyer, stranger):
    order = make_order()
    with pytest.raises(Conflict):
        service.complete(buyer, order)
    db.session.rollback()
    service.accept(seller, order)
    db.session.commit()
    for who in (seller, stranger):
        with pytest.raises(Forbidden):
            service.complete(who, order)
    assert order.status == "accepted"


def test_completing_sells_the_listing_and_declines_the_other_requests(
    db, make_order, phone, seller, buyer, verified_user
):
    others = [verified_user("buyer2"), verified_user("buyer3")]
    order = make_order()
    declined = [make_order(buyer_user=who) for who in others]
    service.accept(seller, order)
    db.session.commit()
    service.complete(buyer, order)
    db.session.commit()
    assert order.status == "completed" and order.completed_at is not None and not order.auto_completed
    assert _status(db, phone) == "sold" and phone.id not in _found()
    for other, who in zip(declined, others, strict=True):
        db.session.refresh(other)
        assert other.status == "declined"
        assert [e.kind for e in other.events] == ["requested", "declined"]
        assert len(_notices(db, who, "order.declined")) == 1
    assert len(_notices(db, buyer, "order.completed")) == len(_notices(db, seller, "order.completed")) == 1


# --- cancelling ----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_cancel_needs_a_reason(db, make_order, buyer, reason):
    order = make_order()
    with pytest.raises(Invalid) as exc:
        service.cancel(buyer, order, reason)
    assert list(exc.value.errors) == ["reason"]


def test_only_a_party_cancels(db, make_order, stranger):
    with pytest.raises(Forbidden):
        service.cancel(stranger, make_order(), REASON)


def test_the_buyer_withdraws_a_request(db, make_order, phone, seller, buyer):
    order = make_order()
    service.cancel(buyer, order, REASON)
    db.session.commit()
    assert (order.status, order.cancelled_by, order.cancel_reason, order.breach) == (
        "cancelled",
        "buyer",
        REASON,
        False,
    )
    assert len(_notices(db, seller, "order.cancelled")) == 1
    assert _status(db, phone) == "active" and not _audit(db, "order.breach")


def test_a_seller_cancelling_an_accepted_order_is_a_breach(db, make_order, phone, seller, buyer):
    order = make_order(status="accepted")
    service.cancel(seller, order, REASON)
    db.session.commit()
    assert (order.status, order.cancelled_by, order.breach) == ("cancelled", "seller", True)
    assert _status(db, phone) == "active" and phone.id in _found()
    (entry,) = _audit(db, "order.breach")
    assert (entry.actor_id, entry.subject_type, entry.subject_id) == (seller.id, "order", order.id)
    assert json.loads(entry.data)["listing_id"] == phone.id
    assert len(_notices(db, buyer, "order.cancelled")) == 1


@pytest.mark.parametrize(("status", "who"), [("accepted", "buyer"), ("requested", "seller")])
def test_other_cancellations_are_no_breach(db, make_order, phone, status, who):
    order = make_order(status=status)
    service.cancel(getattr(order, who), order, REASON)
    db.session.commit()
    assert order.breach is False and _status(db, phone) == "active" and not _audit(db, "order.breach")


def test_cancelling_twice_or_a_disputed_or_completed_order_is_a_conflict(
    db, make_order, buyer, seller, phone, moderator
):
    order = make_order()
    service.cancel(buyer, order, REASON)
    db.session.commit()
    with pytest.raises(Conflict):
        service.cancel(buyer, order, REASON)
    db.session.rollback()
    disputed = make_order(status="disputed")
    for who in (buyer, seller):
        with pytest.raises(Conflict):
            service.cancel(who, disputed, REASON)
        db.session.rollback()
    db.session.refresh(disputed)
    assert disputed.status == "disputed" and _status(db, phone) == "reserved"
    service.resolve(moderator, disputed, "completed", "已当面交接")
    db.session.commit()
    with pytest.raises(Conflict):
        service.cancel(buyer, disputed, REASON)


# --- disputes ------------------------------------------------------------------------------


def test_a_dispute_only_on_an_accepted_order_and_the_listing_stays_reserved(db, make_order, phone, buyer, seller):
    order = make_order()
    with pytest.raises(Conflict):
        service.dispute(buyer, order, "卖家不回消息")
    db.session.rollback()
    service.accept(seller, order)
    db.session.commit()
    with pytest.raises(Invalid):
        service.dispute(seller, order, "")
    service.dispute(seller, order, "买家约好了却没来")
    db.session.commit()
    assert (order.status, order.disputed_by, order.dispute_reason) == ("disputed", "seller", "买家约好了却没来")
    assert _status(db, phone) == "reserved" and len(_notices(db, buyer, "order.disputed")) == 1
    with pytest.raises(Conflict):
        service.dispute(buyer, order, "再提一次")


def test_a_stranger_cannot_dispute(db, make_order, stranger):
    with pytest.raises(Forbidden):
        service.dispute(stranger, make_order(status="accepted"), "看不惯")


def test_only_a_moderator_who_is_not_a_party_resolves(db, make_order, seller, buyer, stranger, moderator):
    order = make_order(status="disputed")
    for who in (seller, buyer, stranger):
        with pytest.raises(Forbidden):
            service.resolve(who, order, "completed", "双方同意")
    seller.role_rows.append(UserRole(role="moderator"))
    db.session.commit()
    with pytest.raises(Forbidden):
        service.resolve(seller, order, "completed", "我自己处理")
    with pytest.raises(Invalid) as exc:
        service.resolve(moderator, order, "refund", "")
    assert set(exc.value.errors) == {"outcome", "note"}
    db.session.rollback()
    db.session.refresh(order)
    assert order.status == "disputed"


@pytest.mark.parametrize(("outcome", "listing_status"), [("completed", "sold"), ("cancelled", "active")])
def test_resolving_ends_the_dispute_and_is_audited(
    db, make_order, phone, buyer, seller, moderator, outcome, listing_status
):
    order = make_order(status="disputed")
    service.resolve(moderator, order, outcome, "双方提供了聊天记录，核实后处理")
    db.session.commit()
    assert order.status == outcome and _status(db, phone) == listing_status
    if outcome == "cancelled":
        assert order.cancelled_by == "moderator" and not order.breach
    (entry,) = _audit(db, "order.dispute_resolved")
    assert entry.actor_id == moderator.id and json.loads(entry.data)["outcome"] == outcome
    assert len(_notices(db, buyer, "order.resolved")) == len(_notices(db, seller, "order.resolved")) == 1
    with pytest.raises(Conflict):
        service.resolve(moderator, order, outcome, "再处理一次")


# --- messages ------------------------------------------------------------------------------


def test_only_the_parties_write_and_moderators_read(db, make_order, buyer, stranger, moderator):
    order = make_order()
    with pytest.raises(Forbidden):
        messages.post(stranger, order, "还在吗？")
    with pytest.raises(NotFound):
        messages.thread(stranger, order)
    messages.post(buyer, order, "还在吗？")
    db.session.commit()
    assert [m.body for m in messages.thread(moderator, order)] == ["还在吗？"]


@pytest.mark.parametrize("body", ["", "  \n ", "加我 13912345678", "隐藏\u202e字符", "响铃\x07", "长" * 1001])
def test_messages_are_checked(db, make_order, buyer, body):
    with pytest.raises(Invalid) as exc:
        messages.post(buyer, make_order(), body)
    assert list(exc.value.errors) == ["body"]


def test_one_unread_notice_per_thread(db, make_order, buyer, seller):
    order = make_order()
    for text in ("还在吗？", "今晚七点可以吗？", "在万达门口"):
        messages.post(buyer, order, text)
    db.session.commit()
    assert len(_notices(db, seller, "order.message")) == 1
    mark_read(seller)
    messages.post(buyer, order, "我到了")
    messages.post(seller, order, "马上下来")
    db.session.commit()
    assert len(_notices(db, seller, "order.message")) == 2
    assert len(_notices(db, buyer, "order.message")) == 1
    assert [m.body for m in messages.thread(buyer, order)][-2:] == ["我到了", "马上下来"]


def test_no_messages_once_the_order_is_cancelled(db, make_order, buyer):
    order = make_order()
    service.cancel(buyer, order, REASON)
    db.session.commit()
    with pytest.raises(Conflict):
        messages.post(buyer, order, "还能聊吗？")


# --- what each person may do -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "seller_may", "buyer_may", "moderator_may"),
    [
        ("requested", {"accept", "cancel", "message"}, {"cancel", "message"}, set()),
        ("accepted", {"cancel", "dispute", "message"}, {"complete", "cancel", "dispute", "message"}, set()),
        ("disputed", {"message"}, {"message"}, {"resolve"}),
        ("completed", {"message"}, {"message"}, set()),
    ],
)
def test_actions_per_state_and_party(
    db, make_order, seller, buyer, stranger, moderator, status, seller_may, buyer_may, moderator_may
):
    order = make_order(status=status)
    assert service.actions(seller, order) == seller_may
    assert service.actions(buyer, order) == buyer_may
    assert service.actions(moderator, order) == moderator_may
    assert service.actions(stranger, order) == set() and service.actions(None, order) == set()
    buyer.status = "suspended"
    assert service.actions(buyer, order) == set()


def test_a_cancelled_order_allows_nothing(db, make_order, seller, buyer):
    order = make_order()
    service.cancel(buyer, order, REASON)
    assert service.actions(seller, order) == service.actions(buyer, order) == set()


# --- the listing leaves sale outside an order ------------------------------------------------------


@pytest.mark.parametrize("take_off", ["withdraw", "mark_sold"])
def test_withdrawing_or_selling_elsewhere_closes_the_open_requests_with_a_notice(
    db, phone, buyer, seller, verified_user, make_order, take_off
):
    first = make_order()
    second = make_order(buyer_user=verified_user("buyer2"))
    getattr(listings, take_off)(seller, phone)
    db.session.commit()
    for order in (first, second):
        db.session.refresh(order)
        assert order.status == "declined" and [e.kind for e in order.events][-1] == "declined"
        assert len(_notices(db, order.buyer, "order.closed")) == 1


def test_a_moderator_removing_a_reserved_listing_cancels_its_order_without_a_breach(
    db, phone, buyer, seller, moderator, make_order
):
    order = make_order(status="accepted")
    listings.delete(moderator, phone)
    db.session.commit()
    db.session.refresh(order)
    assert (order.status, order.cancelled_by, order.breach) == ("cancelled", "moderator", False)
    assert _status(db, phone) == "removed"
    assert _notices(db, buyer, "order.closed") and _notices(db, seller, "order.closed")
    with pytest.raises(Conflict):
        service.complete(buyer, order)


def test_a_request_from_an_account_closed_since_cannot_be_accepted(db, phone, buyer, seller, make_order):
    order = make_order()
    buyer.status = "closed"
    db.session.commit()
    with pytest.raises(Conflict, match="买家"):
        service.accept(seller, order)
    db.session.rollback()
    assert _status(db, phone) == "active"
