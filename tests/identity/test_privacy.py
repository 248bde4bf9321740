"""A person's data: export (masked), closing the account, and the audited reveal."""

import json

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import ApiToken
from marketplace.audit.models import AuditEntry
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.identity import privacy, service
from marketplace.identity.models import IdentityVerification
from marketplace.identity.verifiers import QueueVerifier
from tests.identity.factories import make_id_number, make_phone
from tests.pii import find_pii


def _last_audit(db) -> AuditEntry:
    return db.session.scalar(sa.select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))


def test_the_export_holds_everything_masked(db, user, submit_request):
    number, phone = make_id_number(), make_phone()
    submit_request(user, id_number=number, phone=phone, real_name="李小四")
    data = privacy.export_data(user)
    text = json.dumps(data, ensure_ascii=False, default=str)
    assert number not in text and phone not in text and "李小四" not in text
    assert find_pii(text) == []
    [row] = data["verifications"]
    assert row["id_number"] == number[0] + "*" * 16 + number[-1]
    assert row["phone"] == phone[:3] + "****" + phone[-4:]
    assert row["real_name"] == "李*四"
    assert data["account"]["username"] == "alice"
    assert data["account"]["verification"] == "pending"
    assert any(item["action"] == "identity.submitted" for item in data["account_history"])


def test_features_can_add_to_the_export(db, user, monkeypatch):
    monkeypatch.setitem(privacy.EXPORT_SECTIONS, "listings", lambda u: [{"seller": u.id}])
    assert privacy.export_data(user)["listings"] == [{"seller": user.id}]


def test_closing_erases_pseudonymises_and_ends_sessions(db, verified_user, password, token_for):
    user = verified_user("leaving")
    token_for(user)
    privacy.close_account(user, password)
    db.session.commit()
    assert user.status == "closed" and user.closed_at is not None
    assert user.display_name == "已注销用户"
    assert user.username == f"closed~{user.id}"
    req = db.session.scalar(sa.select(IdentityVerification).where(IdentityVerification.user_id == user.id))
    assert req.erased_at is not None
    assert (req.real_name_enc, req.id_number_enc, req.phone_enc, req.real_name_masked) == (None, None, None, None)
    assert req.status == "verified" and req.id_index is not None  # the blind index is kept (see privacy.py)
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
        == 0
    )
    assert _last_audit(db).action == "account.closed"
    assert service.public_profile(user.id)["verified"] is False
    with pytest.raises(Conflict):
        privacy.close_account(user, password)


def test_a_closed_verified_identity_cannot_open_a_new_account(db, make_user, verified_user, password):
    number = make_id_number()
    privacy.close_account(verified_user("first", id_number=number), password)
    db.session.commit()
    with pytest.raises(Conflict):
        service.submit(
            make_user("again"), service.VerificationInput("张小三", number, make_phone()), verifier=QueueVerifier()
        )


def test_closing_withdraws_a_pending_request_and_frees_its_identity(db, make_user, submit_request, password):
    number = make_id_number()
    leaving = make_user("leaving")
    req = submit_request(leaving, id_number=number)
    privacy.close_account(leaving, password)
    db.session.commit()
    assert req.status == "withdrawn" and req.id_index is None
    assert service.verification_status(leaving) == "unverified"
    assert submit_request(make_user("newcomer"), id_number=number).status == "pending"


def test_closing_does_not_overwrite_an_approval_made_a_moment_before(
    db, make_user, moderator, submit_request, password
):
    """Closing read the request as pending; a moderator's approval commits before closing writes.

    The approval is made with a Core UPDATE the session does not see, as another
    transaction's commit would be: the loaded object still says "pending".
    """
    number = make_id_number()
    leaving = make_user("leaving")
    req = submit_request(leaving, id_number=number)
    assert req.status == "pending"  # loaded into the session
    db.session.execute(
        sa.update(IdentityVerification)
        .where(IdentityVerification.id == req.id)
        .values(status="verified", decided_at=sa.func.current_timestamp(), decided_by_id=moderator.id)
        .execution_options(synchronize_session=False)
    )
    assert req.status == "pending"  # stale, as in the race
    privacy.close_account(leaving, password)
    db.session.commit()

    row = db.session.execute(
        sa.select(IdentityVerification.status, IdentityVerification.id_index, IdentityVerification.id_number_enc).where(
            IdentityVerification.id == req.id
        )
    ).one()
    assert row.status == "verified"  # the moderator's decision stands
    assert row.id_index is not None  # a verified identity keeps its index ...
    assert row.id_number_enc is None  # ... and its data is erased all the same
    with pytest.raises(Conflict):  # so the identity cannot open another account
        submit_request(make_user("again"), id_number=number)


def test_closing_needs_the_password(db, user):
    with pytest.raises(Invalid) as exc:
        privacy.close_account(user, "wrong password")
    assert list(exc.value.errors) == ["password"]
    assert user.status == "active"


def test_reveal_returns_the_data_and_audits_without_it(db, make_user, verified_user):
    number, phone = make_id_number(), make_phone()
    subject = verified_user("subject", id_number=number, phone="+86" + phone)
    supervisor = make_user("sup", roles=("supervisor",))
    values = privacy.reveal(supervisor, subject, "公安机关协查函 2026-17 号")
    db.session.commit()
    assert (values["id_number"], values["phone"], values["real_name"]) == (number, phone, "张小三")
    entry = _last_audit(db)
    assert (entry.action, entry.actor_id, entry.subject_id) == ("pii.revealed", supervisor.id, subject.id)
    data = json.loads(entry.data)
    assert data["purpose"] == "公安机关协查函 2026-17 号"
    assert number not in entry.data and phone not in entry.data and find_pii(entry.data) == []


def test_reveal_is_for_moderators_and_supervisors_with_a_purpose(db, user, verified_user, moderator):
    subject = verified_user("subject")
    with pytest.raises(Forbidden):
        privacy.reveal(user, subject, "好奇看看")
    with pytest.raises(Invalid):
        privacy.reveal(moderator, subject, "")
    with pytest.raises(Invalid):
        privacy.reveal(moderator, subject, "核对 " + make_id_number())


def test_the_reveal_command(db, cli, verified_user, moderator):
    number = make_id_number()
    verified_user("subject", id_number=number)
    result = cli("identity", "reveal", "subject", "--purpose", "用户申诉核实身份", "--actor", "mod")
    assert result.exit_code == 0, result.output
    assert f"id_number: {number}" in result.output
    assert _last_audit(db).action == "pii.revealed"
    assert cli("identity", "reveal", "nobody", "--purpose", "用户申诉核实身份").exit_code == 1
    assert cli("identity", "reveal", "subject", "--purpose", "看").exit_code == 1
