"""Oversized input is refused before it costs anything: 413 (a page in Chinese, or problem+json on the
API), or a field error that keeps what was typed. Nothing is written either way."""

from __future__ import annotations

import io
import json

import pytest

from marketplace.security import API_MAX_BODY
from tests.listings.sellers import checklist_fields, jpeg_bytes, phone_answers
from tests.security.test_methods import changed, snapshot

TOO_LARGE = "提交的内容过大"


class Zeros(io.RawIOBase):
    """`size` bytes of "a", made as they are read (a real-sized body without holding it in memory)."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"a" * n
        self.left -= n
        return n


def _sell_form(**fields) -> dict:
    data = {
        "category": "phone",
        "title": "华为 Mate 60 手机",
        "price": "3299",
        "district": "xixia",
        "description": "自用一年。",
        **checklist_fields(phone_answers()),
    }
    data.update(fields)
    return data


def _page_413(resp) -> None:
    assert resp.status_code == 413, resp.status_code
    assert resp.mimetype == "text/html"
    assert TOO_LARGE in resp.get_data(as_text=True)


def _api_413(resp) -> None:
    assert resp.status_code == 413, resp.status_code
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["status"] == 413


class TestSmallLimits:
    @pytest.fixture
    def app_config(self):
        return {"MAX_CONTENT_LENGTH": 4096, "MAX_FORM_MEMORY_SIZE": 1024}

    def test_a_page_post_over_max_content_length_is_413(self, app, db, client, login, seller):
        login(seller)
        before = snapshot(db)
        _page_413(client.post("/account/password", data={"current_password": "a" * 5000}))
        _page_413(client.post("/notices/read", data={"x": "a" * 5000}))
        assert not changed(before, snapshot(db))

    def test_a_multipart_field_over_max_form_memory_size_is_413(self, app, db, client, login, seller):
        login(seller)
        before = snapshot(db)
        resp = client.post(
            "/account/password", data={"current_password": "a" * 2000}, content_type="multipart/form-data"
        )
        _page_413(resp)
        assert not changed(before, snapshot(db))


def test_a_body_over_the_real_limit_is_413_before_it_is_read(app, db, client, login, seller):
    login(seller)
    size = app.config["MAX_CONTENT_LENGTH"] + 1
    stream = Zeros(size)
    token = client.csrf_token()
    resp = client.post(
        "/notices/read",
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": token},
        environ_overrides={"wsgi.input": stream, "CONTENT_LENGTH": str(size)},
    )
    _page_413(resp)
    assert stream.left == size, "the body was refused by its length, unread"


def test_api_bodies_over_64_kib_are_413_on_every_write_route(app, db, api, token_for, seller):
    headers = token_for(seller)
    body = json.dumps({"title": "好" * (API_MAX_BODY // 3 + 10)}).encode()
    assert len(body) > API_MAX_BODY
    before = snapshot(db)
    failures, walked = [], 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            url = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}").format_map(_Ones())
            resp = api.open(url, method=method, data=body, content_type="application/json", headers=headers)
            walked += 1
            if resp.status_code != 413 or resp.mimetype != "application/problem+json":
                failures.append(f"{method} {url}: {resp.status_code}")
    assert walked >= 40
    assert not failures, "\n".join(failures)
    assert not changed(before, snapshot(db))


class _Ones(dict):
    def __missing__(self, key):
        return "1"


@pytest.mark.parametrize("size", [API_MAX_BODY + 1, 4 * API_MAX_BODY])
def test_a_chunked_api_body_over_64_kib_is_413(app, db, api, token_for, seller, size):
    """No Content-Length (Transfer-Encoding: chunked): the body is cut off at 64 KiB while read."""
    headers = {**token_for(seller), "Transfer-Encoding": "chunked"}
    before = snapshot(db)
    body = json.dumps({"title": "a" * size}).encode()
    resp = api.post(
        "/api/v1/listings",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )
    _api_413(resp)
    assert not changed(before, snapshot(db))


def test_a_chunked_api_body_under_64_kib_is_read(app, api, token_for, seller):
    headers = {**token_for(seller), "Transfer-Encoding": "chunked"}
    body = json.dumps({"title": "a" * 100}).encode()
    resp = api.post(
        "/api/v1/listings",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert resp.status_code == 422
    assert "category" in resp.get_json()["errors"]  # the body was parsed: only the missing fields are named


def test_a_urlencoded_body_over_max_form_memory_size_is_413(app, db, client, login, seller):
    """Werkzeug bounds multipart fields by MAX_FORM_MEMORY_SIZE, url-encoded bodies only by
    MAX_CONTENT_LENGTH: security.limit_form_body holds them to the smaller limit, before the form is read."""
    login(seller)
    before = snapshot(db)
    title = "好" * (app.config["MAX_FORM_MEMORY_SIZE"] // 3 + 10)
    resp = client.post("/sell?category=phone", data=_sell_form(title=title))
    _page_413(resp)
    assert not changed(before, snapshot(db))


def test_a_text_field_longer_than_allowed_is_a_field_error_that_keeps_the_input(app, db, client, login, seller):
    login(seller)
    before = snapshot(db)
    resp = client.post("/sell?category=phone", data=_sell_form(title="华为手机" * 50, description="好" * 20000))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="title-error"' in html and 'id="description-error"' in html
    assert "华为手机" * 50 in html
    assert not changed(before, snapshot(db))


def test_too_big_and_too_many_photos_are_field_errors(app, db, client, login, seller):
    from marketplace.listings import photos
    from marketplace.listings.models import MAX_PHOTOS

    login(seller)
    before = snapshot(db)
    big = jpeg_bytes() + b"\0" * (photos.MAX_BYTES + 1)
    resp = client.post(
        "/sell?category=phone",
        data={**_sell_form(title="超大照片测试"), "photos": [(io.BytesIO(big), "big.jpg")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code in (413, 422)
    if resp.status_code == 422:
        html = resp.get_data(as_text=True)
        assert 'id="photos-error"' in html and 'value="超大照片测试"' in html
    small = jpeg_bytes(size=(40, 30))
    files = [(io.BytesIO(small), f"p{i}.jpg") for i in range(MAX_PHOTOS + 1)]
    resp = client.post(
        "/sell?category=phone",
        data={**_sell_form(title="照片太多测试"), "photos": files},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f"最多 {MAX_PHOTOS} 张照片" in html and 'value="照片太多测试"' in html
    assert not changed(before, snapshot(db))


def test_a_chunked_api_body_of_exactly_64_kib_is_read_as_one_with_a_length_would_be(app, api, token_for, seller):
    headers = {**token_for(seller), "Transfer-Encoding": "chunked"}
    body = json.dumps({"title": "a" * 10, "description": ""}).encode()
    body = body[:-1] + b" " * (API_MAX_BODY - len(body)) + b"}"
    assert len(body) == API_MAX_BODY
    resp = api.post(
        "/api/v1/listings",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert resp.status_code == 422, resp.get_json()  # parsed: only the missing fields are named


class BrokenChunks(io.RawIOBase):
    """A chunked body whose framing the server cannot parse (gunicorn raises its own, non-OSError, errors)."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client rewinds its input stream
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def readinto(self, buffer) -> int:
        raise RuntimeError("Invalid chunk size")


@pytest.mark.parametrize(("path", "content_type"), [("/api/v1/listings", "application/json"), ("/notices/read", None)])
def test_a_chunked_body_with_broken_framing_is_400_not_500(
    app, db, client, api, login, token_for, seller, path, content_type
):
    if path.startswith("/api/"):
        headers = token_for(seller)
    else:
        login(seller)
        headers = {}
    before = snapshot(db)
    if path.startswith("/api/"):
        resp = api.post(
            path,
            input_stream=BrokenChunks(),
            content_type=content_type,
            headers={**headers, "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert resp.status_code == 400 and resp.mimetype == "application/problem+json"
    else:
        resp = client.post(
            path,
            input_stream=BrokenChunks(),
            content_type="application/x-www-form-urlencoded",
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
            csrf=False,
        )
        assert resp.status_code == 400
    assert not changed(before, snapshot(db))


def test_a_chunked_urlencoded_form_over_max_form_memory_size_is_413_not_cut_short(app, db, client, login, seller):
    login(seller)
    before = snapshot(db)
    body = b"csrf_token=" + client.csrf_token().encode() + b"&title=" + b"a" * app.config["MAX_FORM_MEMORY_SIZE"]
    resp = client.post(
        "/sell?category=phone",
        input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
        csrf=False,
    )
    _page_413(resp)
    assert not changed(before, snapshot(db))
