"""The post-event summary: what was brought, swapped and sold, who came, and the weight kept out of waste.

Three aggregate queries (listings, registrations, swap offers), each one GROUP BY,
whatever the size of the event. The weight is an estimate: every item swapped or sold
counts at the rough average weight of its category (weights.json, a data file).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from marketplace.db import db, utcnow
from marketplace.events.models import REGISTRATION_ROLES, SWAP_STATUSES, Event, Registration, SwapOffer
from marketplace.listings.models import CATEGORIES, Listing
from marketplace.listings.service import CATEGORY_LABELS

WEIGHTS_FILE = Path(__file__).with_name("weights.json")
# Listings that changed hands at the event: the ones kept out of waste.
CHANGED_HANDS = ("swapped", "sold")


@cache
def weights() -> dict[str, float]:
    """The estimated average weight in kg of an item of each listing category."""
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    kg = {category: float(value) for category, value in data["kg"].items()}
    missing = set(CATEGORIES) - set(kg)
    if missing:
        raise ValueError(f"{WEIGHTS_FILE.name}: no weight for {sorted(missing)}")
    return kg


def _kg(value: float) -> float:
    return round(value, 1)


def _listings(event: Event) -> dict:
    rows = db.session.execute(
        sa.select(Listing.category, Listing.status, sa.func.count())
        .where(Listing.event_id == event.id)
        .group_by(Listing.category, Listing.status)
    ).all()
    kg = weights()
    by_status: dict[str, int] = {}
    categories: dict[str, dict[str, int]] = {}
    for category, status, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        row = categories.setdefault(category, {"listed": 0, "count": 0})
        row["listed"] += count
        if status in CHANGED_HANDS:
            row["count"] += count
    by_category = [
        {
            "category": category,
            "label": str(CATEGORY_LABELS.get(category, category)),
            "listed": row["listed"],
            "count": row["count"],
            "kg": _kg(row["count"] * kg.get(category, 0.0)),
        }
        for category, row in categories.items()
    ]
    order = {category: n for n, category in enumerate(CATEGORIES)}
    by_category.sort(key=lambda row: (-row["kg"], -row["count"], order.get(row["category"], len(order))))
    return {
        "listed": sum(by_status.values()),
        "swapped": by_status.get("swapped", 0),
        "sold": by_status.get("sold", 0),
        "active": by_status.get("active", 0),
        "by_category": by_category,
        "weight_kg_total": _kg(sum(row["count"] * kg.get(row["category"], 0.0) for row in by_category)),
        # A car counts at its kerb weight: the page says so next to the total.
        "includes_vehicles": categories.get("vehicle", {}).get("count", 0) > 0,
    }


def _registrations(event: Event, ended: bool) -> dict:
    checked_in = sa.case((Registration.checked_in_at.is_not(None), 1), else_=0)
    flagged = sa.case((Registration.no_show.is_(True), 1), else_=0)
    # Before settlement: who would be a no-show (settlement.is_no_show in SQL).
    would_be = sa.case(
        (
            sa.and_(
                Registration.role == "stall",
                Registration.checked_in_at.is_(None),
                sa.or_(
                    Registration.status == "registered",
                    sa.and_(Registration.status == "cancelled", Registration.late_cancellation.is_(True)),
                ),
            ),
            1,
        ),
        else_=0,
    )
    rows = db.session.execute(
        sa.select(
            Registration.role,
            Registration.status,
            sa.func.count(),
            sa.func.sum(checked_in),
            sa.func.sum(flagged),
            sa.func.sum(would_be),
        )
        .where(Registration.event_id == event.id)
        .group_by(Registration.role, Registration.status)
    ).all()
    counts = {role: 0 for role in REGISTRATION_ROLES} | {"waitlisted": 0, "cancelled": 0}
    totals = {"checked_in": 0, "flagged": 0, "would_be": 0}
    for role, status, count, n_checked, n_flagged, n_would_be in rows:
        if status == "registered":
            counts[role] = counts.get(role, 0) + count
        else:
            counts[status] = counts.get(status, 0) + count
        totals["checked_in"] += int(n_checked or 0)
        totals["flagged"] += int(n_flagged or 0)
        totals["would_be"] += int(n_would_be or 0)
    # Settled: the no-shows marked. Over but not settled yet: those who would be. Before the end: none.
    no_shows = totals["flagged"] if event.settled_at is not None else (totals["would_be"] if ended else 0)
    return {"registrations": counts, "checked_in": totals["checked_in"], "no_shows": no_shows}


def _swaps(event: Event) -> dict[str, int]:
    rows = db.session.execute(
        sa.select(SwapOffer.status, sa.func.count()).where(SwapOffer.event_id == event.id).group_by(SwapOffer.status)
    ).all()
    return {status: 0 for status in SWAP_STATUSES} | {status: count for status, count in rows}


def of(event: Event) -> dict:
    """The summary of an event (any time; the figures are final once it has ended and been settled).

    Keys: listed (listings brought to the event and still attached to it), swapped, sold, active,
    by_category [{category, label, listed, count (swapped + sold), kg}], weight_kg_total,
    includes_vehicles, registrations {stall, visitor, waitlisted, cancelled}, checked_in, no_shows
    (counted at settlement; before it, the stallholders who would be), settled, ended,
    swaps {pending, accepted, declined, withdrawn, void}.
    """
    ended = utcnow() >= event.ends_at
    out = _listings(event)
    out.update(_registrations(event, ended))
    out["swaps"] = _swaps(event)
    out["ended"] = ended
    out["settled"] = event.settled_at is not None
    return out
