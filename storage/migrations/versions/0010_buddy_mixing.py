"""Buddy introductions: mix groups by a profile field (opaque keys of members' profile values), a repeat
window per program (already a column), and how many groups of a round repeat a recent pair.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("profile_keys", sa.Text))
    with op.batch_alter_table("buddy_program") as batch:
        batch.add_column(sa.Column("mix_field", sa.String(64)))
    with op.batch_alter_table("buddy_round") as batch:
        batch.add_column(sa.Column("repeat_groups", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("buddy_round") as batch:
        batch.drop_column("repeat_groups")
    with op.batch_alter_table("buddy_program") as batch:
        batch.drop_column("mix_field")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("profile_keys")
