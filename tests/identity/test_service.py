"""Verification service: validation, encryption at rest, one identity per account, decisions."""

import json
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.identity import service
from marketplace.identity.crypto import ENCRYPTION_KEY_FILE, INDEX_KEY_FILE, crypto
from marketplace.identity.models import IdentityVerification
from marketplace.identity.validators import resident_id_check_char
from marketplace.identity.verifiers import InstantVerifier, QueueVerifier, get_verifier
from tests.identity.factories import make_id_number, make_phone
from tests.pii import find_pii


def _input(**fields):
    data = {"real_name": "张小三", "id_number": make_id_number(), "phone": make_phone()}
    data.update(fields)
    return service.VerificationInput(**data)


def _id_ending_in_x() -> str:
    for seq in range(1000):
        number = make_id_number(birth="19880808", seq=seq)
        if number.endswith("X"):
            return number
    raise AssertionError("no check character X in 1000 tries")


def _rows(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(IdentityVerification))


def _audit(db) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)))


def _assert_audit_has_no_pii(db, *raw_values):
    for entry in _audit(db):
        assert find_pii(entry.data) == [], entry.action
        for value in raw_values:
            assert value not in entry.data


# --- validation ------------------------------------------------------------------------


def test_a_wrong_check_digit_names_the_id_field_and_stores_nothing(db, user):
    number = make_id_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(Invalid) as exc:
        service.submit(user, _input(id_number=wrong), verifier=QueueVerifier())
    assert list(exc.value.errors) == ["id_number"]
    assert "校验位" in exc.value.errors["id_number"][0]
    db.session.rollback()
    assert _rows(db) == 0


def test_each_field_at_fault_gets_its_own_message(db, user):
    first17 = "64010419990230123"  # 30 February
    with pytest.raises(Invalid) as exc:
        service.submit(
            user,
            _input(real_name="", id_number=first17 + resident_id_check_char(first17), phone="12345678901"),
            verifier=QueueVerifier(),
        )
    errors = exc.value.errors
    assert set(errors) == {"real_name", "id_number", "phone"}
    assert "出生日期" in errors["id_number"][0]


def test_students_need_a_known_campus_and_a_student_number(db, user):
    with pytest.raises(Invalid) as exc:
        service.submit(user, _input(kind="student", campus="pku"), verifier=QueueVerifier())
    assert set(exc.value.errors) == {"campus", "student_no"}
    req = service.submit(user, _input(kind="student", campus="nxu", student_no="2023010101"), verifier=QueueVerifier())
    assert (req.kind, req.campus) == ("student", "nxu")
    assert service.masked(req)["student_no"] == "2********1"


def test_businesses_need_a_valid_credit_code(db, user):
    with pytest.raises(Invalid) as exc:
        service.submit(user, _input(kind="business", credit_code="91350100M000100Y4Z"), verifier=QueueVerifier())
    assert list(exc.value.errors) == ["credit_code"]
    with pytest.raises(Invalid) as exc:
        service.submit(user, _input(kind="business", credit_code="91512081MA62K0260F"), verifier=QueueVerifier())
    assert "校验位" in exc.value.errors["credit_code"][0]
    with pytest.raises(Invalid) as exc:
        service.submit(user, _input(kind="business"), verifier=QueueVerifier())
    assert list(exc.value.errors) == ["credit_code"]
    req = service.submit(user, _input(kind="business", credit_code="91512081ma62k0260e"), verifier=QueueVerifier())
    assert service.masked(req)["credit_code"] == "9****************E"


# --- encryption at rest -------------------------------------------------------------------


def test_id_number_and_phone_are_encrypted_at_rest(app, db, user):
    number, phone = make_id_number(), make_phone()
    service.submit(user, _input(id_number=number, phone="+86 " + phone), verifier=QueueVerifier())
    db.session.commit()

    row = db.session.execute(sa.text("SELECT * FROM identity_verifications")).mappings().one()
    stored = json.dumps({k: str(v) for k, v in row.items()}, ensure_ascii=False)
    for raw in (number, phone, "张小三"):
        assert raw not in stored
    assert row["id_number_enc"] and row["phone_enc"]

    if db.engine.dialect.name == "sqlite":
        db.session.commit()
        path = Path(db.engine.url.database)
        blob = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        for raw in (number, phone):
            assert raw.encode() not in blob


def test_keys_live_in_the_instance_folder_readable_by_the_owner_only(app, db, user):
    service.submit(user, _input(), verifier=QueueVerifier())
    for name in (ENCRYPTION_KEY_FILE, INDEX_KEY_FILE):
        path = Path(app.instance_path) / name
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not list(Path(app.instance_path).glob(".identity*"))  # no temporary files left behind


# --- one identity, one account ---------------------------------------------------------------


def test_a_second_account_for_the_same_identity_is_refused(db, make_user):
    first, second = make_user("first"), make_user("second")
    number = make_id_number()
    service.submit(first, _input(id_number=number), verifier=QueueVerifier())  # pending holds it too
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        service.submit(second, _input(id_number=number), verifier=QueueVerifier())
    assert list(exc.value.errors) == ["id_number"]
    db.session.rollback()
    assert _rows(db) == 1


def test_normalisation_makes_lower_case_x_the_same_identity(db, make_user):
    number = _id_ending_in_x()
    service.submit(make_user("upper"), _input(id_number=number), verifier=QueueVerifier())
    db.session.commit()
    with pytest.raises(Conflict):
        service.submit(make_user("lower"), _input(id_number=" " + number.lower()), verifier=QueueVerifier())


def test_full_width_input_is_stored_and_indexed_as_ascii(db, user):
    number, phone = make_id_number(), make_phone()
    full = {c: chr(ord(c) + 0xFEE0) for c in "0123456789X+"}
    typed_number = "".join(full.get(c, c) for c in number)
    typed_phone = "＋８６ " + "".join(full[c] for c in phone)
    req = service.submit(user, _input(id_number=typed_number, phone=typed_phone), verifier=QueueVerifier())
    c = crypto()
    assert req.id_index == c.blind_index("id", number)
    assert req.phone_index == c.blind_index("phone", phone)
    assert c.decrypt(req.id_number_enc) == number and c.decrypt(req.phone_enc) == phone


def test_student_numbers_are_stored_as_ascii(db, user):
    req = service.submit(
        user, _input(kind="student", campus="nmu", student_no="ｂ２０２３００４２"), verifier=QueueVerifier()
    )
    assert crypto().decrypt(req.student_no_enc) == "B20230042"
    with pytest.raises(Invalid) as exc:
        service.submit(user, _input(kind="student", campus="nmu", student_no="٢٠٢٣٠٠٤٢"), verifier=QueueVerifier())
    assert list(exc.value.errors) == ["student_no"]


def test_the_database_itself_refuses_a_duplicate_blind_index(db, make_user, submit_request):
    """The rule holds even for code that skips the service (or races it)."""
    req = submit_request(make_user("a"))
    other = make_user("b")
    db.session.add(
        IdentityVerification(
            user_id=other.id,
            kind="resident",
            status="pending",
            holder_id=other.id,
            id_index=req.id_index,
            verifier="queue",
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_rejected_request_frees_the_identity(db, make_user, moderator, submit_request):
    number = make_id_number()
    first = make_user("first")
    req = submit_request(first, id_number=number)
    service.reject(moderator, req.id, "姓名与证件不符")
    db.session.commit()
    second = make_user("second")
    assert submit_request(second, id_number=number).status == "pending"


def test_one_open_request_per_user(db, user, moderator, submit_request):
    req = submit_request(user)
    with pytest.raises(Conflict):
        service.submit(user, _input(), verifier=QueueVerifier())
    db.session.rollback()
    service.reject(moderator, req.id, "照片不清楚")
    db.session.commit()
    assert service.verification_status(user) == "rejected"
    again = submit_request(user)
    assert service.verification_status(user) == "pending"
    service.approve(moderator, again.id)
    db.session.commit()
    with pytest.raises(Conflict):
        service.submit(user, _input(), verifier=QueueVerifier())


# --- decisions ----------------------------------------------------------------------------------


def test_approval_verifies_sets_the_initial_score_and_is_audited(db, user, moderator, submit_request):
    number = make_id_number()
    req = submit_request(user, id_number=number)
    assert service.verification_status(user) == "pending"
    assert user.credit_score is None
    service.approve(moderator, req.id)
    db.session.commit()
    assert service.verification_status(user) == "verified"
    assert service.is_verified(user)
    assert user.credit_score == 600
    entry = _audit(db)[-1]
    assert (entry.action, entry.actor_id, entry.subject_id) == ("identity.approved", moderator.id, req.id)
    _assert_audit_has_no_pii(db, number, "张小三")


def test_approval_opens_the_credit_ledger_with_the_initial_score(db, make_user, moderator, submit_request):
    from marketplace.credit import service as credit

    user = make_user("scored")
    service.approve(moderator, submit_request(user).id)
    assert user.credit_score == 600
    assert [(e.code, e.points, e.source) for e in credit.ledger(user)] == [("verification", 600, "verification")]
    # Opening it again (a second approval path) adds nothing.
    assert credit.open_account(user) is None and len(credit.ledger(user)) == 1


def test_rejection_needs_a_reason_without_personal_numbers(db, user, moderator, submit_request):
    req = submit_request(user)
    with pytest.raises(Invalid) as exc:
        service.reject(moderator, req.id, "  ")
    assert list(exc.value.errors) == ["reason"]
    with pytest.raises(Invalid):
        service.reject(moderator, req.id, "请确认手机号 13912345678")
    service.reject(moderator, req.id, "身份证照片与填写的姓名不一致")
    db.session.commit()
    assert service.masked(req)["reason"] == "身份证照片与填写的姓名不一致"
    entry = _audit(db)[-1]
    assert entry.action == "identity.rejected"
    assert json.loads(entry.data)["reason"] == "身份证照片与填写的姓名不一致"


def test_a_moderator_cannot_decide_their_own_request(db, moderator, submit_request):
    req = submit_request(moderator)
    with pytest.raises(Forbidden):
        service.approve(moderator, req.id)
    with pytest.raises(Forbidden):
        service.reject(moderator, req.id, "自己的申请")
    assert req.status == "pending"


def test_only_moderators_decide_and_only_once(db, make_user, moderator, submit_request):
    req = submit_request(make_user("applicant"))
    with pytest.raises(Forbidden):
        service.approve(make_user("nosy"), req.id)
    service.approve(moderator, req.id)
    db.session.commit()
    other = make_user("mod2", roles=("moderator",))
    with pytest.raises(Conflict):
        service.reject(other, req.id, "晚了一步")


def test_the_instant_verifier_decides_at_once(app, db, user):
    app.config["IDENTITY_VERIFIER"] = "instant"
    req = service.submit(user, _input())
    assert req.status == "verified" and req.verifier == "instant"
    assert user.credit_score == 600
    assert _audit(db)[-1].actor_id is None


def test_verifiers_are_chosen_by_name_or_import_path(app):
    assert isinstance(get_verifier(), QueueVerifier)
    assert isinstance(get_verifier("marketplace.identity.verifiers:InstantVerifier"), InstantVerifier)
    with pytest.raises(RuntimeError):
        get_verifier("oracle")


def test_the_public_profile_shows_the_masked_name_of_verified_users_only(db, make_user, verified_user, submit_request):
    shown = service.public_profile(verified_user("seller", real_name="欧阳小锋").id)
    assert shown["real_name"] == "欧**锋" and shown["verified"] is True
    assert shown["credit"] == {"score": 600, "band": "fair"}
    pending = make_user("waiting")
    submit_request(pending)
    hidden = service.public_profile(pending.id)
    assert hidden["real_name"] is None and hidden["verified"] is False


def test_credit_details_are_for_the_user_and_active_moderators_or_supervisors(db, make_user, verified_user):
    from marketplace.credit.service import details as credit_details

    owner = verified_user("owner")
    mine = credit_details(owner, owner.id)
    assert (mine["score"], mine["band"]) == (600, "fair")
    assert [row["event"].code for row in mine["events"]] == ["verification"]
    assert credit_details(make_user("sup", roles=("supervisor",)), owner.id)["score"] == 600
    for viewer in (make_user("other"), make_user("paused", roles=("moderator",), status="suspended"), None):
        with pytest.raises(NotFound):
            credit_details(viewer, owner.id)
