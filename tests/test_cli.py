"""The users command group."""

from marketplace.accounts.service import find_user


def test_users_create_and_grant(cli, db):
    result = cli("users", "create", "wang_mod", "--password", "Shenhe-Yuan-2026", "--role", "moderator")
    assert result.exit_code == 0, result.output
    assert find_user("wang_mod").roles == ["resident", "moderator"]
    result = cli("users", "grant", "wang_mod", "supervisor")
    assert result.exit_code == 0, result.output
    assert "supervisor" in find_user("wang_mod").roles


def test_users_create_rejects_weak_password(cli, db):
    result = cli("users", "create", "weak", "--password", "12345678")
    assert result.exit_code == 1
    assert find_user("weak") is None


def test_grant_unknown_user_or_role(cli, db, user):
    assert cli("users", "grant", "ghost", "admin").exit_code == 1
    assert cli("users", "grant", user.username, "emperor").exit_code == 1


def test_suspend_ends_sessions_and_reactivate_restores(cli, db, user):
    from marketplace.accounts.service import authenticate
    from marketplace.errors import Forbidden

    version = user.session_version
    assert cli("users", "suspend", user.username, "--reason", "reported fraud").exit_code == 0
    db.session.refresh(user)
    assert user.status == "suspended" and user.session_version == version + 1
    try:
        authenticate(user.username, "Lvse-Xunhuan-2026")
    except Forbidden:
        pass
    else:
        raise AssertionError("a suspended user could log in")
    assert cli("users", "reactivate", user.username, "--reason", "cleared").exit_code == 0
    db.session.refresh(user)
    assert user.status == "active"


def test_suspend_needs_a_reason(cli, user):
    assert cli("users", "suspend", user.username).exit_code != 0
