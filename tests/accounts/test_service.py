"""Account rules: registration, passwords, roles, sessions and tokens."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.accounts import service
from marketplace.accounts.models import ApiToken
from marketplace.accounts.passwords import password_problems
from marketplace.audit.models import AuditEntry
from marketplace.errors import Conflict, Forbidden, Invalid


def test_register_gives_resident_role_and_hashes_password(db):
    user = service.register("Bob_1", "Lvse-Xunhuan-2026", "鲍勃")
    db.session.commit()
    assert user.username == "bob_1"
    assert user.roles == ["resident"]
    assert "Lvse-Xunhuan-2026" not in user.password_hash
    assert user.password_hash.startswith("scrypt:")


@pytest.mark.parametrize("password", ["short1", "password123", "12345678", "woaini1314", "aaaaaaaaaa", "abcdefghij"])
def test_weak_passwords_are_refused_with_a_reason(db, password):
    with pytest.raises(Invalid) as exc:
        service.register("carol", password, "Carol")
    assert exc.value.errors["password"]


def test_password_may_not_contain_the_username():
    assert password_problems("xiaoming-2026!", "xiaoming")


def test_duplicate_username_is_a_conflict_case_insensitively(db, user):
    with pytest.raises(Conflict) as exc:
        service.register(user.username.upper(), "Lvse-Xunhuan-2026", "Another")
    assert "username" in exc.value.errors


def test_bad_username_is_a_field_error(db):
    with pytest.raises(Invalid) as exc:
        service.register("a b", "Lvse-Xunhuan-2026", "")
    assert set(exc.value.errors) == {"username", "display_name"}


def test_authenticate_is_vague_about_which_part_was_wrong(db, user, password):
    assert service.authenticate(user.username, password) is user
    with pytest.raises(Invalid) as wrong_password:
        service.authenticate(user.username, "nope-nope-nope")
    with pytest.raises(Invalid) as unknown_user:
        service.authenticate("nobody", "nope-nope-nope")
    assert str(wrong_password.value.message) == str(unknown_user.value.message)


def test_suspended_user_cannot_authenticate(db, user, password, moderator):
    service.set_status(moderator, user, "suspended", "test")
    db.session.commit()
    with pytest.raises(Forbidden):
        service.authenticate(user.username, password)


def test_change_password_bumps_session_version_and_revokes_tokens(db, user, password, app):
    raw, _token = service.issue_token(user, timedelta(days=1))
    before = user.session_version
    service.change_password(user, password, "Another-Good-Passphrase-9")
    db.session.commit()
    assert user.session_version == before + 1
    assert service.user_for_token(raw) is None
    assert service.authenticate(user.username, "Another-Good-Passphrase-9") is user


def test_change_password_checks_the_current_one(db, user):
    with pytest.raises(Invalid) as exc:
        service.change_password(user, "wrong-current", "Another-Good-Passphrase-9")
    assert "current_password" in exc.value.errors


def test_grant_role_is_audited_and_idempotent(db, user, make_user):
    admin = make_user("root_admin", roles=("admin",))
    service.grant_role(admin, user, "inspector")
    service.grant_role(admin, user, "inspector")
    db.session.commit()
    assert user.has_role("inspector")
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "role.granted")).all()
    assert [(e.actor_id, e.subject_id) for e in entries] == [(admin.id, user.id)]


def test_only_admins_grant_roles(db, user, moderator):
    with pytest.raises(Forbidden):
        service.grant_role(moderator, user, "supervisor")


def test_unknown_role_is_refused(db, user):
    with pytest.raises(Invalid):
        service.grant_role(None, user, "emperor")


def test_token_lifecycle(db, user):
    raw, _token = service.issue_token(user, timedelta(days=1))
    db.session.commit()
    assert raw not in {t.token_hash for t in db.session.scalars(sa.select(ApiToken))}
    assert service.user_for_token(raw) is user
    assert service.revoke_token(raw) is True
    assert service.revoke_token(raw) is False
    assert service.user_for_token(raw) is None


def test_expired_token_is_refused(db, user):
    raw, _token = service.issue_token(user, timedelta(seconds=-1))
    db.session.commit()
    assert service.user_for_token(raw) is None


def test_session_loader_refuses_old_versions(db, user):
    current = user.get_id()
    assert service.load_session_user(current) is user
    service.end_all_sessions(user)
    db.session.commit()
    assert service.load_session_user(current) is None
    assert service.load_session_user("garbage") is None
