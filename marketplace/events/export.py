"""The events part of a person's data export: their registrations, events they organise, swap offers."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.db import db
from marketplace.events.models import Event, Registration, SwapOffer


def _iso(value):
    return value.isoformat() if value is not None else None


def export_events(user: User) -> dict:
    """Registrations (with codes and no-show appeals), events organised, swap offers made and received."""
    registrations = db.session.scalars(
        sa.select(Registration).where(Registration.user_id == user.id).order_by(Registration.id)
    ).all()
    organised = db.session.scalars(sa.select(Event).where(Event.organiser_id == user.id).order_by(Event.id)).all()
    offers = db.session.scalars(
        sa.select(SwapOffer)
        .where(sa.or_(SwapOffer.offerer_id == user.id, SwapOffer.owner_id == user.id))
        .order_by(SwapOffer.id)
    ).all()
    return {
        "registrations": [
            {
                "id": r.id,
                "event_id": r.event_id,
                "event_title": r.event.title,
                "role": r.role,
                "status": r.status,
                "checkin_code": r.checkin_code,
                "created_at": _iso(r.created_at),
                "cancelled_at": _iso(r.cancelled_at),
                "checked_in_at": _iso(r.checked_in_at),
                "no_show": r.no_show,
                "appeal_status": r.appeal_status,
                "appeal_reason": r.appeal_reason,
            }
            for r in registrations
        ],
        "organised_events": [
            {"id": e.id, "title": e.title, "kind": e.kind, "starts_at": _iso(e.starts_at), "status": e.status}
            for e in organised
        ],
        "swap_offers": [
            {
                "id": o.id,
                "event_id": o.event_id,
                "role": "offerer" if o.offerer_id == user.id else "owner",
                "want_listing_id": o.want_listing_id,
                "offered_listing_ids": [item.listing_id for item in o.items],
                "message": o.message,
                "status": o.status,
                "created_at": _iso(o.created_at),
            }
            for o in offers
        ],
    }


def _register() -> None:
    from marketplace.identity.privacy import register_export_section

    register_export_section("events", export_events)


_register()
