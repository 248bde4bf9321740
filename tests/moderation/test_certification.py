"""Inspectors' certification: who may, what is recorded, when a report opens by itself."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.listings.models import Certification
from marketplace.moderation import certification
from marketplace.moderation.models import Report


def _reports(db):
    return list(db.session.scalars(sa.select(Report).order_by(Report.id)))


def _audit(db, action):
    return [json.loads(e.data) for e in db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action))]


def test_the_same_grade_is_certified_without_a_report(db, inspector, phone_listing, phone_answers):
    cert = certification.certify(inspector, phone_listing.id, phone_answers())
    db.session.commit()
    assert (cert.grade, cert.inspector_id, cert.listing_id) == ("A", inspector.id, phone_listing.id)
    assert cert.standard_version == phone_listing.standard_version
    assert cert.grading["screen"] == "invisible_20cm" and cert.grading["account_locked"] is False
    assert cert.opened_report is None
    assert phone_listing.certified.id == cert.id
    assert _reports(db) == []


def test_one_grade_lower_opens_no_report(db, inspector, phone_listing, phone_answers):
    cert = certification.certify(inspector, phone_listing.id, phone_answers(screen="invisible_50cm"))
    db.session.commit()
    assert cert.grade == "B" and cert.opened_report is None
    assert _reports(db) == []


def test_two_grades_lower_opens_a_report_with_both_checklists(db, inspector, phone_listing, phone_answers):
    cert = certification.certify(inspector, phone_listing.id, phone_answers(screen="visible", battery_health=85))
    db.session.commit()
    assert cert.grade == "C"
    [report] = _reports(db)
    assert report.id == cert.opened_report.id
    assert (report.reason, report.source, report.reporter_id, report.status) == (
        "exaggeration",
        "certification",
        None,
        "open",
    )
    evidence = report.evidence
    assert evidence["certification_id"] == cert.id and evidence["inspector_id"] == inspector.id
    assert evidence["declared"]["grade"] == "A" and evidence["declared"]["answers"]["screen"] == "invisible_20cm"
    assert evidence["certified"]["grade"] == "C" and evidence["certified"]["answers"]["screen"] == "visible"
    assert evidence["grade_steps"] == 2
    assert evidence["differences"] == [
        {"key": "battery_health", "declared": 92, "certified": 85},
        {"key": "screen", "declared": "invisible_20cm", "certified": "visible"},
    ]
    assert evidence["listing"]["title"] == phone_listing.title and evidence["listing"]["grade"] == "A"


def test_a_gate_found_true_records_the_worst_grade_and_a_prohibited_report(db, inspector, phone_listing, phone_answers):
    cert = certification.certify(inspector, phone_listing.id, phone_answers(reported_lost=True))
    db.session.commit()
    assert cert.grade == "D"
    [report] = _reports(db)
    assert (report.reason, report.source) == ("prohibited", "certification")
    assert report.evidence["blocked_by"] == ["reported_lost"]
    assert {"key": "reported_lost", "declared": False, "certified": True} in report.evidence["differences"]


def test_certifying_is_audited(db, inspector, phone_listing, phone_answers):
    cert = certification.certify(inspector, phone_listing.id, phone_answers(body="visible"))
    db.session.commit()
    [entry] = _audit(db, "listing.certified")
    assert entry["certification_id"] == cert.id and entry["grade"] == "C" and entry["declared_grade"] == "A"
    assert entry["report_id"] == cert.opened_report.id and entry["steps_below"] == 2
    [opened] = _audit(db, "report.opened")
    assert opened == {"listing_id": phone_listing.id, "reason": "exaggeration", "source": "certification"}
    # The IMEI names one device: it stays in the evidence for the moderator, out of the log.
    assert all("490154203237518" not in e.data for e in db.session.scalars(sa.select(AuditEntry)))


def test_only_inspectors_certify(db, make_user, moderator, phone_listing, phone_answers):
    for who in (make_user("plain"), moderator, make_user("gone", roles=("inspector",), status="suspended")):
        with pytest.raises(Forbidden):
            certification.certify(who, phone_listing.id, phone_answers())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certification)) == 0


def test_not_ones_own_listing(db, make_user, make_phone_listing, phone_answers):
    inspector_seller = make_user("inspector_seller", roles=("inspector",))
    own = make_phone_listing(seller_id=inspector_seller.id)
    with pytest.raises(Forbidden):
        certification.certify(inspector_seller, own.id, phone_answers())


def test_unknown_or_hidden_listings_are_not_found(db, inspector, make_phone_listing, phone_answers):
    for listing_id in (make_phone_listing(status="withdrawn").id, make_phone_listing(status="removed").id, 987654):
        with pytest.raises(NotFound):
            certification.certify(inspector, listing_id, phone_answers())


def test_sold_and_ungraded_listings_cannot_be_certified(db, inspector, make_phone_listing, listing, phone_answers):
    with pytest.raises(Conflict):
        certification.certify(inspector, make_phone_listing(status="sold").id, phone_answers())
    with pytest.raises(Conflict):
        certification.certify(inspector, listing.id, phone_answers())
    # A reserved listing is still in the seller's hands: it can be inspected.
    assert certification.certify(inspector, make_phone_listing(status="reserved").id, phone_answers()).grade == "A"


def test_an_incomplete_checklist_names_the_items(db, inspector, phone_listing, phone_answers):
    answers = phone_answers(imei="490154203237519", battery_health=140)
    del answers["screen"]
    with pytest.raises(Invalid) as exc:
        certification.certify(inspector, phone_listing.id, answers)
    assert set(exc.value.errors) == {"grading.imei", "grading.battery_health", "grading.screen"}
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certification)) == 0


def test_a_second_certification_waits_for_an_edit(db, inspector, make_user, phone_listing, phone_answers):
    certification.certify(inspector, phone_listing.id, phone_answers())
    db.session.commit()
    other = make_user("inspector2", roles=("inspector",))
    with pytest.raises(Conflict):
        certification.certify(other, phone_listing.id, phone_answers())
    phone_listing.updated_at = phone_listing.certified.created_at + timedelta(seconds=1)
    db.session.commit()
    assert certification.certify(other, phone_listing.id, phone_answers(screen="visible")).grade == "C"


def test_the_queue_lists_uncertified_graded_listings_newest_first(
    db, inspector, make_user, make_phone_listing, make_listing, phone_answers
):
    older, newer, certified = (make_phone_listing(title=f"手机{i}") for i in range(3))
    make_listing()  # a book: nothing to inspect
    make_phone_listing(status="sold")
    make_phone_listing(seller_id=inspector.id)  # the inspector's own
    certification.certify(make_user("inspector2", roles=("inspector",)), certified.id, phone_answers())
    db.session.commit()
    assert [x.id for x in certification.certification_queue(inspector)] == [newer.id, older.id]
    assert [x.id for x in certification.certification_queue(inspector, before_id=newer.id)] == [older.id]
    with pytest.raises(Forbidden):
        certification.certification_queue(make_user("plain"))


def test_an_edit_after_the_certification_makes_it_out_of_date(db, inspector, phone_listing, phone_answers):
    from marketplace.listings import service

    cert = certification.certify(inspector, phone_listing.id, phone_answers())
    db.session.commit()
    assert phone_listing.certified.id == cert.id and phone_listing.certified_before_edit is None
    assert certification.certification_queue(inspector) == []
    service.edit(phone_listing.seller, phone_listing, service.ListingInput(title="华为 Mate 60 换了新屏"))
    db.session.commit()
    assert phone_listing.certified is None
    assert phone_listing.certified_before_edit.id == cert.id == phone_listing.latest_certification.id
    # Out of date: back in the queue, and it may be certified again.
    assert [x.id for x in certification.certification_queue(inspector)] == [phone_listing.id]


def test_a_status_change_keeps_the_certification_current(db, inspector, phone_listing, phone_answers):
    from marketplace.listings import service

    cert = certification.certify(inspector, phone_listing.id, phone_answers())
    db.session.commit()
    service.mark_sold(phone_listing.seller, phone_listing)
    db.session.commit()
    db.session.expire_all()
    assert phone_listing.certified.id == cert.id
