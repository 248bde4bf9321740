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
