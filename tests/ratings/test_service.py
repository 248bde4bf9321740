"""Rating rules: the two parties of a completed order, once each, within 14 days, double-blind."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import UserRole
from marketplace.audit.models import AuditEntry
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.moderation.models import Report
from marketplace.notices.models import Notice
from marketplace.ratings import service
from marketplace.ratings.models import Rating
from marketplace.ratings.summary import summary

BUYER_SCORES = {"accuracy": 5, "communication": 5, "punctuality": 4}
SELLER_SCORES = {"punctuality": 5, "communication": 4}


def _kinds(db, user) -> list[str]:
    return list(db.session.scalars(sa.select(Notice.kind).where(Notice.user_id == user.id).order_by(Notice.id)))


def _reports(db) -> list[Report]:
    return list(db.session.scalars(sa.select(Report).order_by(Report.id)))


def _rated(db, completed_order, buyer, seller) -> tuple[Rating, Rating]:
    """Both parties rated: both ratings revealed."""
    by_buyer = service.rate(buyer, completed_order, BUYER_SCORES, "手机和描述一致，卖家很守时")
    db.session.commit()
    by_seller = service.rate(seller, completed_order, SELLER_SCORES, "买家爽快")
    db.session.commit()
    return by_buyer, by_seller


@pytest.fixture
def stranger(make_user):
    return make_user("stranger")


# --- who may rate, and when --------------------------------------------------------------------


def test_only_the_parties_rate(db, completed_order, stranger, moderator):
    for who in (stranger, moderator):
        with pytest.raises(Forbidden):
            service.rate(who, completed_order, SELLER_SCORES)
        assert not service.can_rate(who, completed_order)


@pytest.mark.parametrize("status", ["requested", "accepted", "disputed"])
def test_only_completed_orders_are_rated(db, make_order, buyer, seller, status):
    order = make_order(status=status)
    with pytest.raises(Conflict):
        service.rate(buyer, order, BUYER_SCORES)
    db.session.rollback()
    with pytest.raises(Conflict):
        service.rate(seller, order, SELLER_SCORES)
    assert not service.can_rate(buyer, order)


def test_each_party_rates_once(db, completed_order, buyer):
    service.rate(buyer, completed_order, BUYER_SCORES)
    db.session.commit()
    assert not service.can_rate(buyer, completed_order)
    with pytest.raises(Conflict):
        service.rate(buyer, completed_order, {"accuracy": 1, "communication": 1, "punctuality": 1})
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 1


@pytest.mark.parametrize(("days", "allowed"), [(13, True), (15, False)])
def test_the_window_is_14_days_after_completion(db, completed_order, buyer, days, allowed):
    completed_order.completed_at = utcnow() - timedelta(days=days)
    db.session.commit()
    assert service.deadline(completed_order) == completed_order.completed_at + timedelta(days=14)
    assert service.can_rate(buyer, completed_order) is allowed
    if allowed:
        assert service.rate(buyer, completed_order, BUYER_SCORES).id
    else:
        with pytest.raises(Conflict) as exc:
            service.rate(buyer, completed_order, BUYER_SCORES)
        assert "14" in exc.value.message


def test_rating_an_overdue_accepted_order_settles_it_first(db, make_order, buyer):
    order = make_order(status="accepted")
    order.accepted_at = utcnow() - timedelta(days=8)
    db.session.commit()
    rating = service.rate(buyer, order, BUYER_SCORES)
    db.session.commit()
    db.session.refresh(order)
    assert order.status == "completed" and order.auto_completed and rating.order_id == order.id
    assert order.listing.status == "sold"


# --- the scores ------------------------------------------------------------------------------------


def test_the_buyer_rates_three_dimensions_and_the_seller_two(db, completed_order, buyer, seller):
    by_buyer, by_seller = _rated(db, completed_order, buyer, seller)
    assert (by_buyer.rater_role, by_buyer.ratee_id, by_buyer.scores) == ("buyer", seller.id, BUYER_SCORES)
    assert (by_seller.rater_role, by_seller.ratee_id, by_seller.scores) == ("seller", buyer.id, SELLER_SCORES)
    assert by_seller.accuracy is None


def test_the_seller_does_not_rate_accuracy(db, completed_order, seller):
    with pytest.raises(Invalid) as exc:
        service.rate(seller, completed_order, {**SELLER_SCORES, "accuracy": 5})
    assert list(exc.value.errors) == ["scores.accuracy"]


def test_every_dimension_of_the_buyer_is_required(db, completed_order, buyer):
    with pytest.raises(Invalid) as exc:
        service.rate(buyer, completed_order, {"communication": 5})
    assert set(exc.value.errors) == {"scores.accuracy", "scores.punctuality"}
    with pytest.raises(Invalid) as exc:
        service.rate(buyer, completed_order, {**BUYER_SCORES, "friendliness": 5})
    assert list(exc.value.errors) == ["scores.friendliness"]


@pytest.mark.parametrize("value", [0, 6, -1, True, False, 4.5, 5.0, None, "", "5.0", "５", "五", [5], {"v": 5}])
def test_a_score_must_be_a_whole_number_from_1_to_5(db, completed_order, buyer, value):
    with pytest.raises(Invalid) as exc:
        service.rate(buyer, completed_order, {**BUYER_SCORES, "communication": value})
    assert list(exc.value.errors) == ["scores.communication"]
    db.session.rollback()
    assert service.can_rate(buyer, completed_order)


def test_digit_strings_from_a_form_are_read_as_scores(db, completed_order, seller):
    # The service parses ASCII digit strings (what a form posts); the API's schema decides for JSON.
    rating = service.rate(seller, completed_order, {"punctuality": "5", "communication": " 3 "})
    assert rating.scores == {"punctuality": 5, "communication": 3}


@pytest.mark.parametrize("scores", [None, [5, 5, 5], "5,5,5"])
def test_scores_must_be_a_mapping(db, completed_order, buyer, scores):
    with pytest.raises(Invalid) as exc:
        service.rate(buyer, completed_order, scores)
    assert "scores" in exc.value.errors


@pytest.mark.parametrize("comment", ["评" * 501, "有问题打 13912345678", "控制\x1b字符"])
def test_the_comment_is_checked(db, completed_order, buyer, comment):
    with pytest.raises(Invalid) as exc:
        service.rate(buyer, completed_order, BUYER_SCORES, comment)
    assert list(exc.value.errors) == ["comment"]


def test_a_comment_of_500_characters_is_fine(db, completed_order, buyer):
    assert service.rate(buyer, completed_order, BUYER_SCORES, "好" * 500).comment == "好" * 500


# --- double-blind ----------------------------------------------------------------------------------


def test_the_first_rating_stays_hidden_until_the_other_party_rates(db, completed_order, buyer, seller):
    first = service.rate(buyer, completed_order, BUYER_SCORES, "不错")
    db.session.commit()
    assert not first.is_visible()
    assert first.visible_from == service.deadline(completed_order)
    assert service.revealed_of(seller.id) == [] and summary(seller)["count"] == 0
    with pytest.raises(NotFound):
        service.get(first.id, viewer=seller)
    assert service.get(first.id, viewer=buyer) is first
    view = service.for_order(seller, completed_order)
    assert view["theirs"] is None and view["they_rated"] and view["can_rate"]
    assert "rating.received" in _kinds(db, seller)

    second = service.rate(seller, completed_order, SELLER_SCORES)
    db.session.commit()
    db.session.refresh(first)
    assert first.is_visible() and second.is_visible()
    assert [r.id for r in service.revealed_of(seller.id)] == [first.id]
    assert [r.id for r in service.revealed_of(buyer.id)] == [second.id]
    assert summary(seller)["count"] == summary(buyer)["count"] == 1
    assert service.for_order(seller, completed_order)["theirs"].id == first.id
    assert service.for_order(buyer, completed_order)["theirs"].id == second.id
    assert _kinds(db, buyer).count("rating.revealed") == _kinds(db, seller).count("rating.revealed") == 1


def test_a_lone_rating_is_revealed_when_the_window_closes(db, completed_order, buyer, seller):
    rating = service.rate(buyer, completed_order, BUYER_SCORES)
    db.session.commit()
    assert service.revealed_of(seller.id) == []
    completed_order.completed_at -= timedelta(days=15)
    rating.visible_from = service.deadline(completed_order)
    db.session.commit()
    assert rating.is_visible() and [r.id for r in service.revealed_of(seller.id)] == [rating.id]
    assert summary(seller)["count"] == 1
    assert not service.can_rate(seller, completed_order)
    assert service.for_order(seller, completed_order)["theirs"].id == rating.id


def test_others_see_only_revealed_ratings(db, completed_order, buyer, seller, stranger, moderator):
    rating = service.rate(buyer, completed_order, BUYER_SCORES)
    db.session.commit()
    with pytest.raises(NotFound):
        service.get(rating.id, viewer=stranger)
    with pytest.raises(NotFound):
        service.get(rating.id)
    assert service.get(rating.id, viewer=moderator) is rating
    assert service.for_order(moderator, completed_order)["revealed"] == []
    service.rate(seller, completed_order, SELLER_SCORES)
    db.session.commit()
    assert service.get(rating.id).id == rating.id
    assert len(service.for_order(moderator, completed_order)["revealed"]) == 2


# --- a poor accuracy opens a report ----------------------------------------------------------------


@pytest.mark.parametrize(("accuracy", "reported"), [(1, True), (2, True), (3, False), (5, False)])
def test_an_accuracy_of_1_or_2_opens_a_not_as_described_report(db, completed_order, buyer, phone, accuracy, reported):
    rating = service.rate(buyer, completed_order, {**BUYER_SCORES, "accuracy": accuracy}, "屏幕有划痕，描述没写")
    db.session.commit()
    reports = _reports(db)
    if not reported:
        assert reports == []
        return
    (report,) = reports
    assert (report.listing_id, report.source, report.reason, report.status) == (phone.id, "rating", "other", "open")
    assert report.reporter_id is None
    evidence = report.evidence if isinstance(report.evidence, dict) else json.loads(report.evidence)
    assert (evidence["rating_id"], evidence["order_id"], evidence["accuracy"]) == (
        rating.id,
        completed_order.id,
        accuracy,
    )


# --- replies ------------------------------------------------------------------------------------


def test_the_rated_party_replies_once_after_the_reveal(db, completed_order, buyer, seller):
    first = service.rate(buyer, completed_order, BUYER_SCORES)
    db.session.commit()
    with pytest.raises(Conflict):
        service.reply(seller, first, "谢谢")
    db.session.rollback()
    service.rate(seller, completed_order, SELLER_SCORES)
    db.session.commit()
    with pytest.raises(Forbidden):
        service.reply(buyer, first, "自己回复自己")
    with pytest.raises(Invalid) as exc:
        service.reply(seller, first, "  ")
    assert list(exc.value.errors) == ["reply"]
    db.session.rollback()
    service.reply(seller, first, "谢谢你的好评")
    db.session.commit()
    assert first.reply == "谢谢你的好评" and first.replied_at is not None
    assert "rating.replied" in _kinds(db, buyer)
    with pytest.raises(Conflict):
        service.reply(seller, first, "再回复一次")
    db.session.rollback()
    db.session.refresh(first)
    assert first.reply == "谢谢你的好评"


# --- folding -----------------------------------------------------------------------------------------


def test_only_a_moderator_who_is_not_involved_folds(db, completed_order, buyer, seller, stranger, moderator):
    by_buyer, _ = _rated(db, completed_order, buyer, seller)
    for who in (stranger, seller):
        with pytest.raises(Forbidden):
            service.fold(who, by_buyer, "辱骂")
    seller.role_rows.append(UserRole(role="moderator"))
    db.session.commit()
    with pytest.raises(Forbidden):
        service.fold(seller, by_buyer, "对我不公平")
    with pytest.raises(Invalid) as exc:
        service.fold(moderator, by_buyer, "")
    assert list(exc.value.errors) == ["reason"]
    db.session.rollback()
    db.session.refresh(by_buyer)
    assert by_buyer.folded_at is None


def test_a_folded_rating_is_kept_marked_but_left_out_of_the_summary(db, completed_order, buyer, seller, moderator):
    by_buyer, _ = _rated(db, completed_order, buyer, seller)
    assert summary(seller)["count"] == 1
    service.fold(moderator, by_buyer, "含有人身攻击")
    db.session.commit()
    assert (by_buyer.folded_by_id, by_buyer.fold_reason) == (moderator.id, "含有人身攻击")
    assert [r.id for r in service.revealed_of(seller.id)] == [by_buyer.id]
    assert summary(seller)["count"] == 0 and summary(seller)["average"] is None
    assert summary(buyer)["count"] == 1
    (entry,) = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "rating.folded")).all()
    assert (entry.actor_id, entry.subject_type, entry.subject_id) == (moderator.id, "rating", by_buyer.id)
    assert json.loads(entry.data)["reason"] == "含有人身攻击"
    assert "rating.folded" in _kinds(db, buyer) and "rating.folded" in _kinds(db, seller)
    with pytest.raises(Conflict):
        service.fold(moderator, by_buyer, "再折叠一次")


# --- moderators who are a party see nothing early -------------------------------------------------


def test_a_moderator_who_is_the_rated_seller_cannot_see_or_fold_a_hidden_rating(
    db, make_listing, make_order, verified_user, buyer, moderator
):
    from marketplace.moderation import service as moderation

    mod_seller = verified_user("modseller", roles=("moderator",))
    order = make_order(listing=make_listing(user=mod_seller), status="completed")
    rating = service.rate(buyer, order, {"accuracy": 1, "communication": 1, "punctuality": 1}, "骗子")
    db.session.commit()
    with pytest.raises(NotFound):
        service.get(rating.id, mod_seller)
    # The report the low accuracy opened is in everyone's queue but the seller's own.
    assert [r.listing_id for r in moderation.open_reports(moderator)] == [order.listing_id]
    assert moderation.open_reports(mod_seller) == []
    # Another moderator folds it: only the rater hears of it while the seller cannot see it yet.
    service.fold(moderator, service.get(rating.id, moderator), "人身攻击")
    db.session.commit()
    assert "rating.folded" in _kinds(db, buyer) and "rating.folded" not in _kinds(db, mod_seller)


@pytest.mark.parametrize("score", ["1" * 20000, "05", "+5", " 4 "])
def test_only_the_five_digits_are_scores_when_typed(db, completed_order, buyer, score):
    scores = {"accuracy": score, "communication": 5, "punctuality": 5}
    if score.strip() in ("1", "2", "3", "4", "5"):
        assert service.rate(buyer, completed_order, scores).accuracy == int(score)
    else:
        with pytest.raises(Invalid):
            service.rate(buyer, completed_order, scores)
