"""Response hardening: security headers and safe redirect targets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app, request
from flask_babel import gettext as _

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def apply_security_headers(response):
    """Add the headers every response carries (CSP without inline script, no framing, nosniff)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.path.startswith("/api/") or request.endpoint in {"accounts.login", "accounts.register"}:
        headers.setdefault("Cache-Control", "no-store")
    return response


def limit_form_body():
    """A url-encoded form is parsed into memory whole: refuse one over MAX_FORM_MEMORY_SIZE with a 413.

    Werkzeug applies MAX_FORM_MEMORY_SIZE to multipart fields only; without this a url-encoded body
    could be as large as MAX_CONTENT_LENGTH (16 MiB). Registered before the CSRF check, which reads
    the form first.
    """
    if request.mimetype == "application/x-www-form-urlencoded":
        limit = current_app.config.get("MAX_FORM_MEMORY_SIZE")
        current = request.max_content_length
        if limit and (current is None or current > limit):
            if request.content_length is None:
                # Sent in chunks, with no length to refuse it by: Werkzeug would parse the first `limit`
                # bytes and drop the rest without a word. Read it now, one byte past the limit.
                read_bounded(limit)
            request.max_content_length = limit


def read_bounded(limit: int) -> bytes:
    """Read (and cache) a body sent without a Content-Length: a 413 if it is longer than `limit`,
    a 400 if its chunked framing is broken (gunicorn raises its own errors for that)."""
    from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

    request.max_content_length = limit + 1
    try:
        data = request.get_data(cache=True)
    except HTTPException:
        raise
    except Exception:  # gunicorn's InvalidChunkSize and kin are not OSErrors: never a 500
        raise BadRequest() from None
    if len(data) > limit:
        raise RequestEntityTooLarge()
    return data


def safe_next(target: str | None, default: str = "/") -> str:
    """Return `target` if it is a path on this site, else `default` (no open redirects)."""
    if not target:
        return default
    target = target.strip()
    if not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default
    try:
        parts = urlsplit(target)
    except ValueError:  # a malformed URL is no same-site path (and never a 500)
        return default
    if parts.scheme or parts.netloc:
        return default
    return target


def same_origin() -> bool:
    """OWASP's CSRF check by standard headers: an Origin (else Referer) header, when sent, names this host.

    For the one form that carries no token (the language switch, so that public pages hold nothing
    per visitor and can be cached); browsers send Origin with every cross-site POST.
    """
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True
    try:
        return source != "null" and urlsplit(source).netloc == request.host
    except ValueError:  # "http://[" and the like: not this host
        return False


# C0 control characters other than tab, newline and carriage return, and DEL: never
# legitimate in a form field, a query or a JSON string, and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
API_MAX_BODY = 64 * 1024


def _has_control(value) -> bool:
    if isinstance(value, str):
        return bool(_CONTROL.search(value))
    if isinstance(value, dict):
        return any(_has_control(k) or _has_control(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_control(v) for v in value)
    return False


def screen_request():
    """Refuse, before any view runs, input no field may hold: control characters, oversized
    or unparseable API bodies. Views and services then only see sane text."""
    from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

    from marketplace.errors import Invalid

    is_api = request.path.startswith("/api/")
    if is_api:
        if (request.content_length or 0) > API_MAX_BODY:
            raise RequestEntityTooLarge()
        # A body sent without a length (chunked) is read now up to the same size: one byte more is a 413.
        if request.content_length is None and request.method in ("POST", "PUT", "PATCH", "DELETE"):
            read_bounded(API_MAX_BODY)
        request.max_content_length = API_MAX_BODY
    fields = [request.path, *request.args.keys(), *request.args.values()]
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        fields += [*request.form.keys(), *request.form.values()]
    payload = None
    if request.is_json and (request.content_length or (is_api and request.get_data(cache=True))):
        try:
            payload = request.get_json(silent=True)
        except RecursionError:
            raise Invalid(_("请求体嵌套过深。"), errors={"body": [_("JSON 嵌套过深")]}) from None
    if any(_has_control(f) for f in fields) or _has_control(payload):
        message = _("输入中含有不可见的控制字符，请删除后重试。")
        if is_api:
            raise Invalid(message, errors={"body": [message]})
        raise BadRequest(message)
