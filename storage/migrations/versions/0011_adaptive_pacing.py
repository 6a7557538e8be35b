"""Adaptive pacing: a rate bucket may carry the rate learned from Slack's 429s (`storage.adaptive`).

`rate` NULL means the configured ceiling; `grants` counts the bucket's reservations, so two 429 episodes
measure how many calls Slack let through between them.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = ("rate", "changed_at", "mark_at", "mark_grants", "grants")


def upgrade() -> None:
    with op.batch_alter_table("rate_bucket") as batch:
        batch.add_column(sa.Column("rate", sa.Double))
        batch.add_column(sa.Column("changed_at", sa.Double))
        batch.add_column(sa.Column("mark_at", sa.Double))
        batch.add_column(sa.Column("mark_grants", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("grants", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("rate_bucket") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
