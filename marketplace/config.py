"""Configuration: safe defaults, overridden by MARKETPLACE_* environment variables."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import ClassVar


def database_url(url: str | None, instance_path: str) -> str:
    """Return a SQLAlchemy URL: PostgreSQL via psycopg 3 when given, else SQLite in instance/."""
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "marketplace.db")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Defaults for production; tests and `make run` override what they need."""

    # hide_parameters: an error logged with its SQL never carries the values (hashes, ciphertexts).
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {"pool_pre_ping": True, "hide_parameters": True}
    SQLALCHEMY_RECORD_QUERIES = False

    SESSION_COOKIE_NAME = "mp_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    WTF_CSRF_TIME_LIMIT = 3600 * 8
    WTF_CSRF_SSL_STRICT = False

    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 512 * 1024

    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES: ClassVar[dict[str, str]] = {"zh_Hans_CN": "简体中文", "en": "English"}

    # Public pages kept for anonymous visitors (marketplace/pagecache.py): on/off, longest age, bytes per process.
    PAGE_CACHE = True
    PAGE_CACHE_SECONDS = 60
    PAGE_CACHE_MAX_BYTES = 16 * 1024 * 1024

    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_STRATEGY = "moving-window"
    LOGIN_RATE_LIMIT_IP = "20 per minute"
    LOGIN_RATE_LIMIT_USERNAME = "5 per minute;20 per hour"
    REGISTER_RATE_LIMIT = "10 per hour"
    VERIFICATION_RATE_LIMIT = "10 per hour"
    # Per account (or API token): order messages, and buying requests (so no seller is flooded).
    MESSAGE_RATE_LIMIT = "20 per minute;300 per day"
    ORDER_RATE_LIMIT = "30 per hour"
    # Per account, page and API together: reports (every attempt), and listings published (only those
    # made count, so a seller correcting a long checklist is not stopped; a refusal writes nothing).
    REPORT_RATE_LIMIT = "10 per hour"
    LISTING_RATE_LIMIT = "20 per hour;50 per day"

    API_TOKEN_TTL = timedelta(days=30)

    # The verifier that receives real-name requests: "queue" hands them to a moderator.
    IDENTITY_VERIFIER = "queue"

    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto (0 = none; trust nothing).
    PROXY_FIX_HOPS = 0
