"""iCalendar (RFC 5545) documents of events, for calendar applications to import or subscribe to.

Times are written in UTC (`...Z`), so no VTIMEZONE is needed; calendar applications
show them in the reader's own zone. Each event's UID is stable (`event-<id>@<host>`),
so a feed read again updates the entries it made instead of adding new ones; a
cancelled event stays in the feed with STATUS:CANCELLED, which removes it from
calendars that had it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, timedelta

import icalendar
from flask import has_request_context, request, url_for
from flask_babel import gettext as _

from marketplace.db import utcnow
from marketplace.events.models import Event
from marketplace.events.service import KIND_LABELS
from marketplace.identity.places import campus_label, district_label

PRODID = "-//Second-hand marketplace//Events//ZH"
# How often a subscribed calendar should read the feed again.
REFRESH = timedelta(hours=1)


def uid_host() -> str:
    """The host part of event UIDs: the site's host name, without a port."""
    if not has_request_context():
        return "localhost"
    host = request.host
    # "example.org:8443" → "example.org"; "[::1]" (an IPv6 address without a port) stays as it is.
    return host if host.endswith("]") else host.rsplit(":", 1)[0]


def event_uid(event: Event, host: str | None = None) -> str:
    return f"event-{event.id}@{host or uid_host()}"


def _utc(moment):
    return moment.astimezone(UTC)


def location(event: Event) -> str:
    """The venue and its district (the event page's wording), e.g. "宁夏大学怀远校区东门广场，西夏区"."""
    district = district_label(event.district)
    if not district:
        return event.venue
    return _("%(venue)s，%(district)s", venue=event.venue, district=district)


def description(event: Event, url: str) -> str:
    """The organiser's description, then the kind (and campus) and the link to the event page."""
    kind = str(KIND_LABELS.get(event.kind, event.kind))
    if event.campus:
        kind = _("%(kind)s（%(campus)s）", kind=kind, campus=campus_label(event.campus))
    lines = []
    if event.status == "cancelled":
        lines.append(_("活动已取消：%(reason)s", reason=event.cancel_reason or ""))
    if event.description:
        lines.append(event.description)
    lines.append(_("活动类型：%(kind)s", kind=kind))
    lines.append(_("详情与报名：%(url)s", url=url))
    return "\n\n".join(lines)


def vevent(event: Event, *, host: str, stamp) -> icalendar.Event:
    url = url_for("events.detail", event_id=event.id, _external=True)
    component = icalendar.Event()
    component.add("uid", event_uid(event, host))
    component.add("dtstamp", stamp)
    component.add("dtstart", _utc(event.starts_at))
    component.add("dtend", _utc(event.ends_at))
    component.add("summary", event.title)
    component.add("location", location(event))
    component.add("description", description(event, url))
    component.add("url", url)
    component.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    component.add("created", _utc(event.created_at))
    component.add("last-modified", _utc(event.updated_at))
    component.add("categories", [str(KIND_LABELS.get(event.kind, event.kind))])
    return component


def calendar_for(events: Iterable[Event], name: str) -> bytes:
    """A VCALENDAR with one VEVENT per event, as bytes (UTF-8, CRLF line ends, long lines folded)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Shanghai")
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", icalendar.vDuration(REFRESH).to_ical().decode())
    host = uid_host()
    stamp = utcnow().replace(microsecond=0)
    for event in events:
        cal.add_component(vevent(event, host=host, stamp=stamp))
    return cal.to_ical()
