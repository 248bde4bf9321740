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


def safe_next(target: str | None, default: str = "/") -> str:
    """Return `target` if it is a path on this site, else `default` (no open redirects)."""
    if not target:
        return default
    target = target.strip()
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
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
    return source != "null" and urlsplit(source).netloc == request.host


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
    if is_api and (request.content_length or 0) > API_MAX_BODY:
        raise RequestEntityTooLarge()
    fields = [request.path, *request.args.keys(), *request.args.values()]
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        fields += [*request.form.keys(), *request.form.values()]
    payload = None
    if request.is_json and request.content_length:
        try:
            payload = request.get_json(silent=True)
        except RecursionError:
            raise Invalid(_("请求体嵌套过深。"), errors={"body": [_("JSON 嵌套过深")]}) from None
    if any(_has_control(f) for f in fields) or _has_control(payload):
        message = _("输入中含有不可见的控制字符，请删除后重试。")
        if is_api:
            raise Invalid(message, errors={"body": [message]})
        raise BadRequest(message)
