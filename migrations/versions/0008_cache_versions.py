"""page cache: a token per table, new at every commit that writes the table

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 02:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )


def downgrade():
    op.drop_table("cache_versions")
