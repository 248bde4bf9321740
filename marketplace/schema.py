"""Building a database from empty: Alembic migrations are the one source of the schema."""

from __future__ import annotations

from flask_migrate import upgrade

from marketplace import ROOT


def build_database() -> None:
    """Upgrade the app's database to the newest migration (what `flask db upgrade` does)."""
    upgrade(directory=str(ROOT / "migrations"))
