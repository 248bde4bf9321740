"""Accounts API: register and bearer tokens."""

from __future__ import annotations

from flask import current_app, request

from marketplace.accounts import service
from marketplace.accounts.schemas import RegisterIn, TokenIn, TokenOut, UserCreatedOut
from marketplace.api import endpoint
from marketplace.db import read_only
from marketplace.extensions import login_ip_limit, login_user_limit, register_limit


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
    decorators=(register_limit,),
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
    decorators=(login_ip_limit, login_user_limit),
)
def create_token(*, user, body: TokenIn):
    with read_only():
        # The password check (scrypt) runs outside SQLite's write lock.
        authed = service.authenticate(body.username, body.password)
    raw, token = service.issue_token(authed, current_app.config["API_TOKEN_TTL"])
    return TokenOut(token=raw, expires_at=token.expires_at)


@endpoint(
    "/auth/token",
    "DELETE",
    summary="Revoke the bearer token used for this request",
    tags=("accounts",),
    status=204,
)
def revoke_token(*, user):
    _scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    service.revoke_token(raw.strip())
    return None
