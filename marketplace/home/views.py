"""The home page, the language switch and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

from marketplace.events import service as events
from marketplace.extensions import csrf
from marketplace.listings import service as listings
from marketplace.pagecache import public_page
from marketplace.security import safe_next, same_origin
from marketplace.trust import redlist
from marketplace.trust.views import red_rows

bp = Blueprint("home", __name__)


NEWEST = 12
# The next events shown on the home page (the events page has the rest).
UPCOMING_EVENTS = 4
# Sellers of the current red edition shown on the home page (the board has the rest).
RED_TEASER = 5


@bp.get("/")
@public_page
def index():
    """The home page, with the newest listings, the next events and the top of the red board."""
    newest = listings.newest(NEWEST)
    red_top = red_rows(redlist.standing(redlist.current())[:RED_TEASER])
    return render_template(
        "home/index.html",
        newest=newest,
        verified=listings.verified_sellers(newest),
        red_top=red_top,
        upcoming_events=events.upcoming(limit=UPCOMING_EVENTS),
    )


@bp.post("/lang/<code>")
@csrf.exempt
def set_language(code: str):
    """Switch the interface language and go back to the page the visitor was on.

    No CSRF token (the form is on every public page, which must hold nothing per visitor to be
    cached); a cross-site request is refused by its Origin or Referer instead. The most another
    site could do with it is change a visitor's language.
    """
    if not same_origin():
        raise BadRequest(_("请求来自其他网站，已拒绝。"))
    target = safe_next(request.form.get("next"), url_for("home.index"))
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    response = redirect(target)
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(
            "lang",
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
        )
    return response


@bp.get("/healthz")
def health():
    """Liveness probe for the proxy."""
    return {"status": "ok"}
