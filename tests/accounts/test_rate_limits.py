"""Login and registration are rate-limited, per IP and per username."""

import os
import uuid

import pytest


@pytest.fixture
def app_config():
    return {
        "RATELIMIT_ENABLED": True,
        "LOGIN_RATE_LIMIT_USERNAME": "3 per minute",
        "LOGIN_RATE_LIMIT_IP": "6 per minute",
    }


def _login(client, username, ip="10.0.0.1"):
    return client.post(
        "/login", data={"username": username, "password": "wrong-password-x"}, environ_base={"REMOTE_ADDR": ip}
    )


def test_username_limit_holds_across_addresses(client, user):
    statuses = [_login(client, user.username, ip=f"10.0.0.{n}").status_code for n in range(4)]
    assert statuses == [422, 422, 422, 429]
    assert "操作过于频繁" in _login(client, user.username, ip="10.0.0.9").get_data(as_text=True)


def test_ip_limit_holds_across_usernames(client):
    statuses = [_login(client, f"guess{n}").status_code for n in range(7)]
    assert statuses[:6] == [422] * 6 and statuses[6] == 429


def test_page_and_api_share_one_budget_per_username(client, api, user):
    _login(client, user.username)
    _login(client, user.username)
    api.post("/api/v1/auth/token", json={"username": user.username, "password": "wrong-password-x"})
    resp = api.post("/api/v1/auth/token", json={"username": user.username, "password": "wrong-password-x"})
    assert resp.status_code == 429
    assert resp.mimetype == "application/problem+json"
    assert "Retry-After" in resp.headers


def test_only_failures_count_so_the_owner_is_not_locked_out(client, api, user, password):
    for n in range(5):
        resp = client.post(
            "/login",
            data={"username": user.username, "password": password},
            environ_base={"REMOTE_ADDR": f"10.2.0.{n}"},
        )
        assert resp.status_code == 302
        client.post("/logout", data={})
    _login(client, user.username)
    _login(client, user.username)
    resp = api.post("/api/v1/auth/token", json={"username": user.username, "password": password})
    assert resp.status_code == 200


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _redis_available(), reason="no Redis on localhost (set TEST_REDIS_URL)")
def test_with_redis_the_limit_is_shared_between_workers(database_template, tmp_path, make_user, app):
    """Two app instances (as two gunicorn workers would be) count against one limit in Redis."""
    from marketplace import create_app

    prefix = f"test-{uuid.uuid4().hex[:8]}"
    config = dict(app.config)
    config.update(
        RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix, LOGIN_RATE_LIMIT_USERNAME="2 per minute"
    )
    workers = [create_app(config), create_app(config)]
    for worker in workers:
        worker.test_client_class = app.test_client_class
        worker.extensions["pii_watch"] = app.extensions["pii_watch"]
    target = make_user("shared_limit")
    statuses = []
    for n in range(3):
        worker = workers[n % 2]
        statuses.append(_login(worker.test_client(), target.username, ip=f"10.1.0.{n}").status_code)
    assert statuses == [422, 422, 429]
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    keys = store.keys(f"*{prefix}*")
    assert keys, "the limit was not kept in Redis"
    store.delete(*keys)


@pytest.fixture
def _verification_limit_of_two(app):
    app.config["VERIFICATION_RATE_LIMIT"] = "2 per hour"


@pytest.mark.usefixtures("_verification_limit_of_two")
def test_verification_requests_are_limited_per_account_not_per_address(app, make_user, token_for):
    """Two people behind one campus NAT each get their own budget."""
    first, second = make_user("nat_one"), make_user("nat_two")
    bad = {"real_name": "张三", "id_number": "123", "phone": "1"}
    for who in (first, second):
        headers = token_for(who)
        api = app.test_client()
        statuses = [api.post("/api/v1/me/verification", json=bad, headers=headers).status_code for _ in range(3)]
        assert statuses == [422, 422, 429], who.username


# --- registration, and one budget for page and API ----------------------------------------------------


@pytest.fixture
def _register_limit_of_two(app):
    app.config["REGISTER_RATE_LIMIT"] = "2 per hour"


def _register_page(client, ip, username="newcomer"):
    data = {"username": username, "display_name": "新人", "password": "Lvse-Xunhuan-2026", "confirm": "x"}
    return client.post("/register", data=data, environ_base={"REMOTE_ADDR": ip})


@pytest.mark.usefixtures("_register_limit_of_two")
def test_registration_is_limited_per_address_and_the_refusal_writes_nothing(app, client, api):
    from marketplace.accounts.service import find_user

    # Refused forms count too (a bot trying names): the passwords do not match.
    assert [_register_page(client, "10.3.0.1").status_code for _ in range(2)] == [422, 422]
    good = {"username": "newcomer", "display_name": "新人", "password": "Lvse-Xunhuan-2026"}
    refused = client.post(
        "/register", data=good | {"confirm": good["password"]}, environ_base={"REMOTE_ADDR": "10.3.0.1"}
    )
    assert refused.status_code == 429
    assert "操作过于频繁" in refused.get_data(as_text=True)
    assert find_user("newcomer") is None
    # Another address has its own budget.
    assert _register_page(client, "10.3.0.2").status_code == 422

    bad = {"username": "x", "display_name": "", "password": "y"}
    statuses = [
        api.post("/api/v1/users", json=bad, environ_base={"REMOTE_ADDR": "10.4.0.1"}).status_code for _ in range(2)
    ]
    assert statuses == [422, 422]
    problem = api.post("/api/v1/users", json=good, environ_base={"REMOTE_ADDR": "10.4.0.1"})
    assert problem.status_code == 429 and problem.mimetype == "application/problem+json"
    assert int(problem.headers["Retry-After"]) > 0
    assert find_user("newcomer") is None


@pytest.mark.usefixtures("_register_limit_of_two")
def test_registration_page_and_api_share_one_budget(client, api):
    assert [_register_page(client, "10.5.0.1").status_code for _ in range(2)] == [422, 422]
    bad = {"username": "x", "display_name": "", "password": "y"}
    assert api.post("/api/v1/users", json=bad, environ_base={"REMOTE_ADDR": "10.5.0.1"}).status_code == 429


@pytest.mark.usefixtures("_verification_limit_of_two")
def test_verification_page_and_api_share_one_budget(app, client, login, user, token_for):
    bad = {"real_name": "张三", "id_number": "123", "phone": "1"}
    headers = token_for(user)
    login(user)
    assert [client.post("/me/verification", data=bad).status_code for _ in range(2)] == [422, 422]
    assert app.test_client().post("/api/v1/me/verification", json=bad, headers=headers).status_code == 429
