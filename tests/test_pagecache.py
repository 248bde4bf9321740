"""The page cache: public pages kept for anonymous visitors, invalidated by commits to the tables they read."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.pagecache import StatementTables

HIT, MISS = "hit", "miss"


def state(response) -> str | None:
    return response.headers.get("X-Page-Cache")


@pytest.fixture
def listing(make_listing, seller):
    return make_listing(user=seller, title="华为 Mate 60 手机 原装")


def test_a_public_page_is_kept_and_served_again(client, listing):
    first = client.get(f"/listings/{listing.id}")
    second = client.get(f"/listings/{listing.id}")
    assert (state(first), state(second)) == (MISS, HIT)
    assert first.get_data() == second.get_data()
    # The headers every response carries are added to a kept page as well.
    assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in second.headers


@pytest.mark.parametrize("path", ["/", "/red", "/black", "/search?q=手机", "/api/v1/listings?q=手机"])
def test_public_pages_are_cached(client, listing, path):
    assert state(client.get(path)) == MISS
    assert state(client.get(path)) == HIT


def test_a_service_change_shows_at_once(client, db, listing, seller):
    from marketplace.listings import service

    client.get("/search?q=手机")
    assert state(client.get(f"/listings/{listing.id}")) == MISS
    service.withdraw(seller, listing)
    db.session.commit()
    # A withdrawn listing is no one's business but its seller's: not found, and never the kept copy.
    assert client.get(f"/listings/{listing.id}").status_code == 404
    results = client.get("/search?q=手机")
    assert state(results) == MISS and f"/listings/{listing.id}" not in results.get_data(as_text=True)


def test_a_core_update_in_plain_sql_invalidates(client, db, listing):
    client.get(f"/listings/{listing.id}")
    db.session.execute(sa.text("UPDATE listings SET title = '改过的标题' WHERE id = :id"), {"id": listing.id})
    db.session.commit()
    page = client.get(f"/listings/{listing.id}")
    assert state(page) == MISS and "改过的标题" in page.get_data(as_text=True)


def test_a_write_with_returning_invalidates(client, db, listing):
    # sqlite3 counts the rows of an UPDATE ... RETURNING only once they are fetched.
    from marketplace.listings.models import Listing

    client.get(f"/listings/{listing.id}")
    update = sa.update(Listing).where(Listing.id == listing.id).values(title="带回执的修改").returning(Listing.id)
    assert db.session.execute(update).scalar_one() == listing.id
    db.session.commit()
    page = client.get(f"/listings/{listing.id}")
    assert state(page) == MISS and "带回执的修改" in page.get_data(as_text=True)


def test_a_rolled_back_change_and_an_update_of_no_row_invalidate_nothing(client, db, listing):
    client.get(f"/listings/{listing.id}")
    db.session.execute(sa.text("UPDATE listings SET title = 'x' WHERE id = :id"), {"id": listing.id})
    db.session.rollback()
    db.session.execute(sa.text("UPDATE listings SET title = 'x' WHERE id = -1"))
    db.session.commit()
    assert state(client.get(f"/listings/{listing.id}")) == HIT


def test_a_change_to_an_unrelated_table_keeps_the_page(client, db, listing, make_user):
    client.get("/black")
    make_user("someone_new")  # users: the black board reads no user row when it is empty
    db.session.execute(sa.text("UPDATE listings SET price_fen = price_fen + 1 WHERE id = :id"), {"id": listing.id})
    db.session.commit()
    assert state(client.get("/black")) == HIT


def test_another_process_sees_the_change(app, client, db, listing):
    """A second app on the same database (another worker, a server or a CLI command that keeps no
    pages itself) invalidates this one's pages."""
    from marketplace import create_app
    from marketplace.db import db as _db

    listing_id = listing.id
    client.get(f"/listings/{listing_id}")
    db.session.commit()  # this test's own session holds no lock while the other process writes
    other = create_app({**app.config, "INSTANCE_PATH": app.instance_path, "PAGE_CACHE": False})
    with other.app_context():
        _db.session.execute(sa.text("UPDATE listings SET title = '另一个进程改的' WHERE id = :id"), {"id": listing_id})
        _db.session.commit()
        _db.session.remove()
        _db.engine.dispose()
    page = client.get(f"/listings/{listing_id}")
    assert state(page) == MISS and "另一个进程改的" in page.get_data(as_text=True)


def test_signed_in_visitors_never_get_a_kept_page(client, login, listing, user):
    client.get(f"/listings/{listing.id}")
    login(user)
    page = client.get(f"/listings/{listing.id}")
    assert state(page) is None
    assert user.display_name in page.get_data(as_text=True)
    assert state(client.get(f"/listings/{listing.id}")) is None


def test_a_bearer_token_bypasses_the_cache(api, token_for, user, listing):
    token = token_for(user)
    api.get("/api/v1/listings?q=手机")
    answer = api.get("/api/v1/listings?q=手机", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and state(answer) is None


def test_a_waiting_flash_message_is_shown_not_a_kept_page(client, listing):
    client.get(f"/listings/{listing.id}")
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "一条提示")]
    page = client.get(f"/listings/{listing.id}")
    assert state(page) is None and "一条提示" in page.get_data(as_text=True)


def test_each_language_has_its_own_copy(client, listing):
    chinese = client.get("/red")
    client.post("/lang/en", data={"next": "/red"})
    english = client.get("/red")
    assert state(english) == MISS and english.get_data() != chinese.get_data()
    assert state(client.get("/red")) == HIT
    assert 'lang="en"' in client.get("/red").get_data(as_text=True)


def test_a_page_that_needs_a_csrf_token_is_not_kept(client):
    # The login form carries a token tied to the visitor's session; it is never a public page.
    client.get("/login")
    assert state(client.get("/login")) is None


def test_conditional_get_answers_304(client, listing):
    client.get("/red")
    kept = client.get("/red")
    again = client.get("/red", headers={"If-None-Match": kept.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""


@pytest.mark.parametrize("app_config", [{"PAGE_CACHE_SECONDS": 0}])
def test_pages_expire(client, listing):
    client.get("/red")
    assert state(client.get("/red")) == MISS


@pytest.mark.parametrize("app_config", [{"PAGE_CACHE": False}])
def test_the_cache_can_be_turned_off(app, client, listing):
    assert "page_cache" not in app.extensions
    client.get("/red")
    assert state(client.get("/red")) is None


def test_the_store_is_bounded(app, client, listing):
    cache = app.extensions["page_cache"]
    cache.max_bytes = 5 * len(client.get("/search?q=手机&page_hint=x").get_data()) + 100
    for page in range(12):
        client.get(f"/search?q=手机&page_hint={page}")
    assert 0 < cache._bytes <= cache.max_bytes and len(cache._entries) == 5
    assert state(client.get("/search?q=手机&page_hint=11")) == HIT  # the newest are kept
    assert state(client.get("/search?q=手机&page_hint=0")) == MISS


def test_statements_are_read_for_the_tables_they_name():
    tables = StatementTables(["listings", "listing_photos", "users", "orders"])
    reads, written = tables.classify(
        "SELECT listings.id FROM listings JOIN users AS users_1 ON users_1.id = listings.seller_id"
    )
    assert reads == {"listings", "users"} and written is None
    assert tables.classify('UPDATE "listings" SET status=? WHERE listings.id = ?')[1] == "listings"
    assert tables.classify("INSERT INTO listing_photos (listing_id) VALUES (?)")[1] == "listing_photos"
    assert tables.classify("DELETE FROM orders WHERE id = %(id)s")[1] == "orders"
    assert tables.classify("INSERT OR IGNORE INTO users (id) VALUES (1)")[1] == "users"
    assert tables.classify("UPDATE unknown_table SET a = 1")[1] is None


class TestLanguageSwitch:
    """The language form carries no token: a cross-site request is refused by its Origin or Referer."""

    def test_same_site_or_no_origin_switches(self, client):
        assert client.post("/lang/en", data={"next": "/"}, headers={"Origin": "http://localhost"}).status_code == 302
        assert client.post("/lang/en", data={"next": "/"}).status_code == 302

    @pytest.mark.parametrize(
        "headers", [{"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}, {"Origin": "null"}]
    )
    def test_another_site_is_refused(self, client, headers):
        answer = client.post("/lang/en", data={"next": "/"}, headers=headers)
        assert answer.status_code == 400
        assert "lang=en" not in answer.headers.get("Set-Cookie", "")

    def test_public_pages_hold_no_csrf_token(self, client, listing):
        for path in ("/", f"/listings/{listing.id}", "/search?q=手机", "/red", "/black"):
            assert 'name="csrf_token"' not in client.get(path).get_data(as_text=True), path


def test_every_template_compiles_once_before_the_workers_fork(app):
    """gunicorn's master compiles them all (gunicorn.conf.py, when_ready): none fails, and a
    page rendered afterwards uses the compiled template instead of compiling it again."""
    from marketplace import compile_templates

    count = compile_templates(app)
    assert count >= 50
    env = app.jinja_env
    compiled = env.get_template("base.html")
    assert env.get_template("base.html") is compiled


def test_a_listing_page_is_kept_no_longer_than_its_order_deadline(app, client, db, make_order, phone):
    """A reserved listing's page turns into 'sold' when the order completes on its own at its
    deadline; a kept copy must not outlive that moment (the settling runs only on a miss)."""
    import time
    from datetime import timedelta

    from marketplace.db import utcnow
    from marketplace.orders.service import AUTO_COMPLETE_AFTER

    order = make_order(status="accepted")
    soon = utcnow() - AUTO_COMPLETE_AFTER + timedelta(seconds=20)
    db.session.execute(sa.text("UPDATE orders SET accepted_at = :at WHERE id = :id"), {"at": soon, "id": order.id})
    db.session.commit()
    assert state(client.get(f"/listings/{phone.id}")) == MISS
    cache = app.extensions["page_cache"]
    (entry,) = [e for key, e in cache._entries.items() if key[-1] == f"/listings/{phone.id}?"]
    assert entry.expires - time.monotonic() <= 21

    # Past the deadline the page settles the order first: the listing shows as sold.
    late = utcnow() - AUTO_COMPLETE_AFTER - timedelta(seconds=1)
    db.session.execute(sa.text("UPDATE orders SET accepted_at = :at WHERE id = :id"), {"at": late, "id": order.id})
    db.session.commit()
    client.get(f"/listings/{phone.id}")
    assert db.session.scalar(sa.text("SELECT status FROM orders WHERE id = :id"), {"id": order.id}) == "completed"


def test_the_token_reader_survives_a_dropped_connection(app, client, db, listing):
    """PostgreSQL: the tokens are read on a connection each worker keeps; a restart of the server
    (here: its backend terminated) costs one reconnect, not an error page."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reads the tokens on a pooled connection")
    client.get("/red")
    reader = app.extensions["page_cache"]._reader.conn
    db.session.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": reader.driver_connection.info.backend_pid})
    db.session.commit()
    assert state(client.get("/red")) == HIT
    assert app.extensions["page_cache"]._reader.conn is not reader
