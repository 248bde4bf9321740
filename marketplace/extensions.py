"""Extension objects, created unbound and attached to the app in create_app."""

import hashlib

from flask import current_app, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from marketplace.db import db

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def config_limit(key: str):
    """A limit read from the app's config when the request is checked (so tests and deployments can set it)."""
    return lambda: current_app.config[key]


def login_username_key() -> str:
    """Rate-limit key for the username being tried, from a login form or a JSON body."""
    from marketplace.accounts.service import normalise_username

    if request.is_json:
        try:
            payload = request.get_json(silent=True)
        except RecursionError:
            payload = None
        name = payload.get("username", "") if isinstance(payload, dict) else ""
    else:
        name = request.form.get("username", "")
    return "login-user:" + normalise_username(str(name))[:64]


def account_key() -> str:
    """Rate-limit key for signed-in work: the account (session) or the bearer token, else the address.

    Real-name requests, messages, buying requests, reports and new listings are limited per person,
    not per address (a whole campus may share one NAT), and the same budget holds whichever token or
    session is used.
    """
    from flask_login import current_user

    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        from marketplace.accounts.service import user_for_token

        # The token's owner, so that a new token (or the web session) does not bring a new budget.
        user = user_for_token(header[7:].strip())
        if user is not None:
            return f"user:{user.id}"
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:24]
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()


def _failed_login(response) -> bool:
    # A successful login redirects (page) or returns the token (API); only failures count.
    return response.status_code not in (200, 302)


# Shared by the login page and the token endpoint: one budget per username, counting failures only,
# so guessing cannot lock the real owner out with the right password.
login_user_limit = limiter.shared_limit(
    config_limit("LOGIN_RATE_LIMIT_USERNAME"),
    scope="login-user",
    key_func=login_username_key,
    deduct_when=_failed_login,
    methods=["POST"],
)
login_ip_limit = limiter.shared_limit(config_limit("LOGIN_RATE_LIMIT_IP"), scope="login-ip", methods=["POST"])

# Shared by the order pages and the API, so a client cannot double its budget by switching.
message_limit = limiter.shared_limit(
    config_limit("MESSAGE_RATE_LIMIT"), scope="order-message", key_func=account_key, methods=["POST"]
)
order_limit = limiter.shared_limit(
    config_limit("ORDER_RATE_LIMIT"), scope="order-request", key_func=account_key, methods=["POST"]
)
# Registration per address and real-name requests per account, each one budget for the page and the API.
register_limit = limiter.shared_limit(config_limit("REGISTER_RATE_LIMIT"), scope="register", methods=["POST"])
verification_limit = limiter.shared_limit(
    config_limit("VERIFICATION_RATE_LIMIT"), scope="verification", key_func=account_key, methods=["POST"]
)
# Reports on listings: every attempt counts, from the report page and the API alike.
report_limit = limiter.shared_limit(
    config_limit("REPORT_RATE_LIMIT"), scope="report", key_func=account_key, methods=["POST"]
)


def _listing_created(response) -> bool:
    # The API answers 201 with the listing; the sell page redirects to it (a visitor's POST is
    # redirected to the login page instead, which publishes nothing).
    from flask_login import current_user

    return response.status_code == 201 or (response.status_code == 302 and current_user.is_authenticated)


# New listings, from the sell page and the API: only the listings made count.
listing_limit = limiter.shared_limit(
    config_limit("LISTING_RATE_LIMIT"),
    scope="listing-create",
    key_func=account_key,
    deduct_when=_listing_created,
    methods=["POST"],
)

__all__ = [
    "babel",
    "config_limit",
    "csrf",
    "db",
    "limiter",
    "listing_limit",
    "login_ip_limit",
    "login_manager",
    "login_user_limit",
    "message_limit",
    "migrate",
    "order_limit",
    "register_limit",
    "report_limit",
    "verification_limit",
]
