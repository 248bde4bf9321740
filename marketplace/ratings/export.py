"""The ratings part of a person's data export: ratings they gave, and those they received once revealed."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.db import db, utcnow
from marketplace.ratings.models import Rating


def _row(rating: Rating) -> dict:
    return {
        "id": rating.id,
        "order_id": rating.order_id,
        "rater_role": rating.rater_role,
        "scores": rating.scores,
        "comment": rating.comment,
        "created_at": rating.created_at.isoformat(),
        "reply": rating.reply,
        "folded": rating.folded_at is not None,
        "fold_reason": rating.fold_reason,
    }


def export_ratings(user: User) -> dict:
    """Ratings the user gave (all), and ratings about them that are revealed (hidden ones stay hidden)."""
    given = db.session.scalars(sa.select(Rating).where(Rating.rater_id == user.id).order_by(Rating.id)).all()
    received = db.session.scalars(
        sa.select(Rating).where(Rating.ratee_id == user.id, Rating.visible_from <= utcnow()).order_by(Rating.id)
    ).all()
    return {"given": [_row(r) for r in given], "received": [_row(r) for r in received]}


def _register() -> None:
    from marketplace.identity.privacy import register_export_section

    register_export_section("ratings", export_ratings)


_register()
