"""Domain errors raised by services, and how they become HTTP responses."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A rule of the domain refused an operation; `message` is shown to the user."""

    status = 400
    title = _l("请求无法完成")
    type_slug = "domain-error"

    def __init__(self, message: str | None = None, *, errors: Mapping[str, list[str]] | None = None):
        super().__init__(str(message or self.title))
        self.message = message or self.title
        self.errors = {k: list(v) for k, v in (errors or {}).items()}


class NotFound(DomainError):
    status = 404
    title = _l("找不到该内容")
    type_slug = "not-found"


class Forbidden(DomainError):
    status = 403
    title = _l("没有权限")
    type_slug = "forbidden"


class Conflict(DomainError):
    status = 409
    title = _l("状态冲突")
    type_slug = "conflict"


class Invalid(DomainError):
    """Input broke a rule; `errors` maps each field at fault to its messages."""

    status = 422
    title = _l("输入有误")
    type_slug = "invalid"


def wants_problem_json() -> bool:
    """Whether the current request is an API call (answered with problem+json)."""
    return request.path.startswith("/api/")


def problem(status: int, title: str, detail: str | None = None, *, slug: str | None = None, errors=None, headers=None):
    """Build an RFC 9457 application/problem+json response."""
    body = {
        "type": f"/api/v1/problems/{slug or status}",
        "title": str(title),
        "status": status,
        "detail": str(detail if detail is not None else title),
    }
    if errors:
        body["errors"] = {k: [str(m) for m in v] for k, v in errors.items()}
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


HTTP_TITLES = {
    400: _l("请求有误"),
    401: _l("需要登录"),
    403: _l("没有权限"),
    404: _l("找不到该页面"),
    405: _l("不支持该请求方法"),
    409: _l("状态冲突"),
    413: _l("提交的内容过大"),
    415: _l("不支持的内容类型"),
    422: _l("输入有误"),
    429: _l("操作过于频繁，请稍后再试"),
    500: _l("服务器出了点问题"),
}


def _rollback():
    from marketplace.db import db

    db.session.rollback()


def register_error_handlers(app: Flask) -> None:
    """Map domain and HTTP errors to problem+json for the API and pages for the site."""

    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError):
        _rollback()
        if wants_problem_json():
            return problem(exc.status, exc.title, exc.message, slug=exc.type_slug, errors=exc.errors)
        return render_template("errors/error.html", status=exc.status, title=exc.title, detail=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        _rollback()
        status = exc.code or 500
        title = HTTP_TITLES.get(status, exc.name)
        headers = {}
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        if status == 429:
            detail = _l("请求太频繁了，请稍后再试。")
        elif isinstance(exc, CSRFError):
            detail = _l("表单已过期或来源不明，请刷新页面后重新提交。")
        elif status == 400 and exc.description != type(exc).description:
            detail = exc.description  # our own explanation, already in the user's language
        else:
            detail = title
        if wants_problem_json():
            return problem(status, title, detail, headers=headers)
        return render_template("errors/error.html", status=status, title=title, detail=detail), status, headers

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        _rollback()
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        title = HTTP_TITLES[500]
        detail = _l("我们已记录这个问题。请稍后再试。")
        if wants_problem_json():
            return problem(500, title, detail)
        return render_template("errors/error.html", status=500, title=title, detail=detail), 500
