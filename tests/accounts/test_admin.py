"""Admin pages for users and roles."""

import pytest
import sqlalchemy as sa

from marketplace.audit.models import AuditEntry


@pytest.fixture
def admin(make_user):
    return make_user("boss", roles=("admin",))


def test_non_admins_are_refused(client, login, user):
    login(user)
    assert client.get("/admin/users").status_code == 403


def test_anonymous_is_sent_to_login(client):
    resp = client.get("/admin/users")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_list_filters_by_prefix_and_pages(client, login, admin, make_user):
    for n in range(35):
        make_user(f"zz{n:02d}")
    login(admin)
    html = client.get("/admin/users?q=zz").get_data(as_text=True)
    assert ">zz00<" in html and ">zz29<" in html and ">zz30<" not in html and ">boss<" not in html
    html = client.get("/admin/users?q=zz&after=zz29").get_data(as_text=True)
    assert ">zz30<" in html and ">zz34<" in html and ">zz29<" not in html
    assert "没有找到" in client.get("/admin/users?q=nobody").get_data(as_text=True)


def test_grant_then_revoke_with_confirmation(client, login, admin, user, db):
    login(admin)
    resp = client.post(f"/admin/users/{user.id}", data={"role": "inspector"})
    assert resp.status_code == 302
    db.session.refresh(user)
    assert user.has_role("inspector")
    page = client.get(f"/admin/users/{user.id}/roles/inspector/revoke")
    assert "确认收回" in page.get_data(as_text=True)
    assert user.has_role("inspector")
    client.post(f"/admin/users/{user.id}/roles/inspector/revoke", data={})
    db.session.refresh(user)
    assert not user.has_role("inspector")
    actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions[-2:] == ["role.granted", "role.revoked"]


def test_unknown_role_choice_is_refused(client, login, admin, user, db):
    login(admin)
    resp = client.post(f"/admin/users/{user.id}", data={"role": "emperor"})
    assert resp.status_code == 422
    db.session.refresh(user)
    assert user.roles == ["resident"]


def test_the_last_admin_cannot_be_revoked(client, login, admin, db):
    login(admin)
    resp = client.post(f"/admin/users/{admin.id}/roles/admin/revoke", data={}, follow_redirects=True)
    assert "最后一位管理员" in resp.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.has_role("admin")
