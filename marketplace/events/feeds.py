"""iCalendar feeds of events: one event (to add to a calendar) and every upcoming event (to subscribe to).

The routes sit beside the HTML pages (`/events/12.ics` next to `/events/12`: the id
converter does not match "12.ics", so the two never clash). The JSON API serves the
same documents under /api/v1.
"""

from __future__ import annotations

from flask import Blueprint, current_app
from flask_babel import gettext as _

from marketplace.events import ics, service
from marketplace.events.models import Event

bp = Blueprint("event_feeds", __name__)

MIMETYPE = "text/calendar"
# A calendar application polls the feed; five minutes of caching spares the database.
MAX_AGE = 300
# The feed of upcoming events holds at most this many (the soonest).
FEED_LIMIT = 200


def calendar_response(body: bytes, filename: str):
    """A text/calendar response, shown inline (opened by the calendar application), cacheable by anyone."""
    response = current_app.response_class(body, mimetype=MIMETYPE)
    response.charset = "utf-8"
    response.headers["Content-Type"] = f"{MIMETYPE}; charset=utf-8"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    return response


def event_calendar(event: Event):
    """The calendar of one event (a cancelled one too: STATUS:CANCELLED takes it out of calendars)."""
    return calendar_response(ics.calendar_for([event], event.title), f"event-{event.id}.ics")


def upcoming_calendar():
    """The calendar of every upcoming event, soonest first."""
    events = service.upcoming(limit=FEED_LIMIT)
    return calendar_response(ics.calendar_for(events, _("循环市集 · 活动")), "events.ics")


@bp.get("/events/<int:event_id>.ics")
def event_ics(event_id: int):
    return event_calendar(service.get(event_id))


@bp.get("/events.ics")
def all_ics():
    return upcoming_calendar()
