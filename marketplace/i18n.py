"""Language and time-zone selection: Simplified Chinese by default, English on request."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session

LANG_COOKIE = "lang"


def select_locale() -> str:
    """Pick the locale: the visitor's explicit choice, else Chinese (the site's default)."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    choice = session.get("lang") or request.cookies.get(LANG_COOKIE)
    if choice in languages:
        return choice
    if request.path.startswith("/api/"):
        best = request.accept_languages.best_match(["zh", "en"])
        if best == "en":
            return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    """Times are shown in Asia/Shanghai for everyone."""
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]
