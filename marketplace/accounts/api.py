"""Accounts API: register and bearer tokens."""

from __future__ import annotations

from flask import current_app, request

from marketplace.accounts import service
from marketplace.accounts.schemas import RegisterIn, TokenIn, TokenOut, UserCreatedOut
from marketplace.api import endpoint
from marketplace.extensions import limiter


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


def _login_ip_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_IP"]


def _login_user_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_USERNAME"]


def _token_username_key() -> str:
    payload = request.get_json(silent=True)
    name = payload.get("username", "") if isinstance(payload, dict) else ""
    return "login-user:" + service.normalise_username(str(name))


@endpoint(
    "/users",
    "POST",
    summary="Register an account",
    tags=("accounts",),
    body=RegisterIn,
    response=UserCreatedOut,
    status=201,
    auth="none",
    errors=(409,),
    decorators=(limiter.limit(_register_limit),),
)
def create_user(*, user, body: RegisterIn):
    created = service.register(body.username, body.password, body.display_name)
    return UserCreatedOut(
        id=created.id, username=created.username, display_name=created.display_name, roles=created.roles
    )


@endpoint(
    "/auth/token",
    "POST",
    summary="Exchange username and password for a bearer token",
    tags=("accounts",),
    body=TokenIn,
    response=TokenOut,
    auth="none",
    errors=(403,),
    decorators=(limiter.limit(_login_ip_limit), limiter.limit(_login_user_limit, key_func=_token_username_key)),
)
def create_token(*, user, body: TokenIn):
    authed = service.authenticate(body.username, body.password)
    raw, token = service.issue_token(authed, current_app.config["API_TOKEN_TTL"])
    return TokenOut(token=raw, expires_at=token.expires_at)


@endpoint(
    "/auth/token", "DELETE", summary="Revoke the bearer token used for this request", tags=("accounts",), status=204
)
def revoke_token(*, user):
    _scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    service.revoke_token(raw.strip())
    return None
