"""The JSON API base: routes described by pydantic models, bearer auth, problem+json, OpenAPI 3.1.

Each feature's `api.py` declares its routes with `endpoint(...)`. The declaration is
both what validates and serialises at run time and what `/api/v1/openapi.json`
publishes, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError

from marketplace.db import db
from marketplace.errors import Forbidden, Invalid, problem

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")

ERROR_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
}


@dataclass
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    tags: list[str]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: str
    errors: tuple[int, ...]
    roles: tuple[str, ...] = field(default_factory=tuple)
    content_type: str = "application/json"
    # Further success statuses the operation may answer with, each with its body model (None: no body).
    also: dict[int, type[BaseModel] | None] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


class ApiAuthError(Exception):
    """No valid bearer token was sent to a route that needs one."""


def _bearer_user():
    from marketplace.accounts.service import user_for_token

    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    user = user_for_token(token.strip())
    if user is None:
        raise ApiAuthError(_("令牌无效、已过期或已撤销。"))
    return user


def current_api_user():
    """The user of the current API request, or None for an anonymous call."""
    return g.get("api_user")


_MESSAGES = {
    "missing": lambda c: _("必填"),
    "string_too_short": lambda c: _("至少 %(n)s 个字符", n=c.get("min_length")),
    "string_too_long": lambda c: _("最多 %(n)s 个字符", n=c.get("max_length")),
    "too_long": lambda c: _("最多 %(n)s 项", n=c.get("max_length")),
    "greater_than_equal": lambda c: _("不能小于 %(n)s", n=c.get("ge")),
    "less_than_equal": lambda c: _("不能大于 %(n)s", n=c.get("le")),
    "int_parsing": lambda c: _("须为整数"),
    "int_type": lambda c: _("须为整数"),
    "string_type": lambda c: _("须为文本"),
    "bool_type": lambda c: _("须为 true 或 false"),
    "bool_parsing": lambda c: _("须为 true 或 false"),
    "enum": lambda c: _("须为以下之一：%(v)s", v=c.get("expected")),
    "literal_error": lambda c: _("须为以下之一：%(v)s", v=c.get("expected")),
    "extra_forbidden": lambda c: _("不接受此字段"),
    "dict_type": lambda c: _("须为对象"),
    "model_type": lambda c: _("须为对象"),
    "string_pattern_mismatch": lambda c: _("格式不正确"),
}


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Turn pydantic's errors into {field: [message in the user's language]}."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        make = _MESSAGES.get(err["type"])
        message = make(err.get("ctx") or {}) if make else _("格式不正确")
        errors.setdefault(loc, []).append(message)
    return errors


def _parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        from werkzeug.exceptions import UnsupportedMediaType

        raise UnsupportedMediaType()
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise Invalid(_("请求体须为 JSON 对象。"), errors={"body": [_("须为 JSON 对象")]})
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise Invalid(_("输入有误，请检查标出的字段。"), errors=field_errors(exc)) from None


def _parse_query(model: type[BaseModel]) -> BaseModel:
    raw = {k: v for k, v in request.args.items()}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise Invalid(_("查询参数有误。"), errors=field_errors(exc)) from None


def endpoint(
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    tags: tuple[str, ...] = (),
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    also: dict[int, type[BaseModel] | None] | None = None,
    auth: str = "required",
    roles: tuple[str, ...] = (),
    errors: tuple[int, ...] = (),
    content_type: str = "application/json",
    decorators: tuple[Callable, ...] = (),
) -> Callable:
    """Declare a JSON route: validation, auth, serialisation and its OpenAPI entry in one place.

    `decorators` wrap the view before it is registered (rate limits, for example).
    The handler receives the path arguments plus `user`, and `body`/`query` when declared,
    and returns a model instance, a dict for `response`, or a flask Response as is.
    `also` documents further success statuses ({201: Model}); the handler picks one by
    returning `(result, status)`, and a status not declared is a programming error.
    Writing methods commit once when the handler returns.
    """
    assert auth in ("required", "optional", "none")
    also = dict(also or {})

    def decorator(fn: Callable) -> Callable:
        @wraps(fn)
        def view(**path_args: Any):
            user = None
            if auth != "none":
                user = _bearer_user()
                if user is None and auth == "required":
                    raise ApiAuthError(_("需要登录：请在 Authorization 头中附上 Bearer 令牌。"))
            if roles and not (user and user.has_role(*roles)):
                raise Forbidden(_("此操作需要以下角色之一：%(r)s", r=", ".join(roles)))
            g.api_user = user
            kwargs: dict[str, Any] = dict(path_args, user=user)
            if body is not None:
                kwargs["body"] = _parse_body(body)
            if query is not None:
                kwargs["query"] = _parse_query(query)
            result = fn(**kwargs)
            code, model = status, response
            if isinstance(result, tuple):
                result, code = result
                if code != status:
                    if code not in also:
                        raise RuntimeError(f"{fn.__name__} answered {code}, not declared in its endpoint()")
                    model = also[code]
            if method != "GET":
                db.session.commit()
            if result is None:
                return "", code
            if isinstance(result, current_app.response_class):
                return result
            if model is not None and not isinstance(result, BaseModel):
                result = model.model_validate(result)
            payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
            resp = jsonify(payload)
            resp.status_code = code
            return resp

        registered = view
        for deco in reversed(decorators):
            registered = deco(registered)
        api_bp.add_url_rule(rule, endpoint=fn.__name__, view_func=registered, methods=[method])
        OPERATIONS.append(
            Operation(
                rule=rule,
                method=method,
                endpoint=fn.__name__,
                summary=summary,
                tags=list(tags),
                body=body,
                query=query,
                response=response,
                status=status,
                auth=auth,
                errors=errors,
                roles=roles,
                content_type=content_type,
                also=also,
            )
        )
        return registered

    return decorator


def init_api(app: Flask) -> None:
    """Wire the API's error handling and the OpenAPI document into the app."""
    from marketplace.extensions import csrf

    # The API authenticates with bearer tokens only (never cookies), so CSRF does not apply.
    csrf.exempt(api_bp)

    @app.errorhandler(ApiAuthError)
    def _unauthorised(exc: ApiAuthError):
        return problem(401, _("需要登录"), str(exc), slug="unauthorised", headers={"WWW-Authenticate": "Bearer"})


@api_bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document, built from the declared routes."""
    from marketplace.api.openapi import build_document

    return jsonify(build_document(OPERATIONS))


def id_cursor(value: str | None) -> int | None:
    """Parse an id cursor (keyset paging by id): None for the first page, Invalid if malformed."""
    from marketplace import MAX_ID

    if not value:
        return None
    # ASCII digits only: str.isdigit() also accepts ² and ٣, which int() refuses or reads.
    if not (re.fullmatch(r"[0-9]{1,10}", value) and int(value) <= MAX_ID):
        raise Invalid(_("查询参数有误。"), errors={"cursor": [_("格式不正确")]})
    return int(value)


def path_params(rule: str) -> list[tuple[str, str]]:
    """The (name, converter) pairs of a Flask rule."""
    return [(m.group(2), m.group(1) or "string") for m in re.finditer(r"<(?:(\w+):)?(\w+)>", rule)]
