"""Reporting a listing: who may, what is checked, what is kept as evidence."""

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.moderation import service
from marketplace.moderation.models import Report


def _audit(db, action):
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_a_report_keeps_the_listing_as_it_was(db, reporter, listing):
    report = service.report_listing(reporter, listing.id, "exaggeration", "  屏幕有划痕，描述说完美  ")
    db.session.commit()
    listing.title = "改过的标题"
    listing.price_fen = 1
    db.session.commit()

    stored = db.session.get(Report, report.id)
    assert (stored.status, stored.source, stored.reporter_id) == ("open", "user", reporter.id)
    assert stored.detail == "屏幕有划痕，描述说完美"
    snapshot = stored.evidence["listing"]
    assert snapshot["title"] == "九成新《三体》全套"
    assert snapshot["price_fen"] == 3500
    assert snapshot["description"] == "<p>书脊完好，无笔记。</p>"
    assert snapshot["status"] == "active"
    assert snapshot["seller_id"] == listing.seller_id
    assert len(snapshot["photos"]) == 2 and all(stem.startswith("photo") for stem in snapshot["photos"])
    assert {"grade", "grading", "at"} <= set(snapshot)


def test_one_open_report_per_person_and_listing(db, reporter, listing):
    service.report_listing(reporter, listing.id, "exaggeration", "")
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        service.report_listing(reporter, listing.id, "counterfeit", "是仿品")
    assert "已举报过" in exc.value.message
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 1


def test_reporting_again_after_the_first_report_is_closed(db, reporter, listing):
    first = service.report_listing(reporter, listing.id, "exaggeration", "")
    db.session.commit()
    first.status = "dismissed"
    db.session.commit()
    second = service.report_listing(reporter, listing.id, "hidden_defect", "电池鼓包")
    db.session.commit()
    assert second.id != first.id and second.status == "open"


def test_others_may_report_the_same_listing(db, reporter, make_user, listing):
    service.report_listing(reporter, listing.id, "exaggeration", "")
    service.report_listing(make_user("bob"), listing.id, "exaggeration", "")
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 2


def test_not_ones_own_listing(db, seller, listing):
    with pytest.raises(Forbidden):
        service.report_listing(seller, listing.id, "other", "测试")


def test_a_suspended_account_cannot_report(db, make_user, listing):
    with pytest.raises(Forbidden):
        service.report_listing(make_user("sus", status="suspended"), listing.id, "exaggeration", "")


@pytest.mark.parametrize("status", ["removed", "withdrawn"])
def test_listings_no_one_can_see_are_not_found(db, reporter, make_listing, status):
    hidden = make_listing(status=status)
    with pytest.raises(NotFound):
        service.report_listing(reporter, hidden.id, "exaggeration", "")
    with pytest.raises(NotFound):
        service.report_listing(reporter, 999_999, "exaggeration", "")


def test_a_sold_listing_can_still_be_reported(db, reporter, make_listing):
    sold = make_listing(status="sold")
    assert service.report_listing(reporter, sold.id, "counterfeit", "收到的是假货").status == "open"


@pytest.mark.parametrize(
    ("reason", "detail", "field"),
    [
        ("", "", "reason"),
        ("spam", "", "reason"),
        ("other", "   ", "detail"),
        ("exaggeration", "字" * 1001, "detail"),
        ("exaggeration", "bad\x00byte", "detail"),
        ("exaggeration", "bell\x07", "detail"),
    ],
    ids=["no-reason", "unknown-reason", "other-without-detail", "too-long", "nul", "bell"],
)
def test_bad_reason_or_detail(db, reporter, listing, reason, detail, field):
    with pytest.raises(Invalid) as exc:
        service.report_listing(reporter, listing.id, reason, detail)
    assert list(exc.value.errors) == [field]


def test_detail_may_be_long_and_multiline(db, reporter, listing):
    detail = "第一行\r\n" + "字" * 990
    report = service.report_listing(reporter, listing.id, "other", detail)
    assert report.detail == "第一行\n" + "字" * 990


def test_opening_is_audited_without_the_detail(db, reporter, listing):
    report = service.report_listing(reporter, listing.id, "counterfeit", "卖家电话 13912345678 说是正品")
    db.session.commit()
    [entry] = _audit(db, "report.opened")
    assert entry.actor_id == reporter.id and entry.subject_id == report.id
    assert "13912345678" not in entry.data and "正品" not in entry.data
    assert '"reason": "counterfeit"' in entry.data and '"source": "user"' in entry.data


def test_a_system_report_has_no_reporter_and_may_repeat(db, listing):
    first = service.open_system_report(listing, "exaggeration", "certification", {"note": 1})
    second = service.open_system_report(listing, "exaggeration", "certification", {"note": 2})
    db.session.commit()
    assert first.reporter_id is None and second.reporter_id is None
    assert first.evidence["note"] == 1 and first.evidence["listing"]["title"] == listing.title
    [entry, _] = _audit(db, "report.opened")
    assert entry.actor_id is None and '"source": "certification"' in entry.data


def test_open_reports_newest_first_for_moderators_only(db, reporter, make_user, moderator, make_listing):
    listings = [make_listing(title=f"商品{i}") for i in range(3)]
    for item in listings:
        service.report_listing(reporter, item.id, "exaggeration", "")
    closed = service.report_listing(make_user("bob"), listings[0].id, "exaggeration", "")
    closed.status = "dismissed"
    db.session.commit()
    rows = service.open_reports(moderator)
    assert [r.listing_id for r in rows] == [item.id for item in reversed(listings)]
    assert [r.id for r in service.open_reports(moderator, before_id=rows[0].id, limit=1)] == [rows[1].id]
    with pytest.raises(Forbidden):
        service.open_reports(reporter)
