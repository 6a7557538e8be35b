"""Buddy introductions: programs per channel, rounds (with their seed) and sealed groups, members' skip and
priority, confidential never-pair lists and must-not-meet pairs.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "buddy_program",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("local_time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("anchor_date", sa.Date, nullable=False),
        sa.Column("opt_in", sa.Boolean, nullable=False),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("mix_channel", sa.String(32)),
        sa.Column("enabled_at", TS, nullable=False),
        sa.Column("last_occurrence", TS),
        sa.Column("heads_up_for", TS),
        sa.UniqueConstraint("team_id", "channel_id"),
    )
    op.create_table(
        "buddy_round",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("program_id", sa.Integer, sa.ForeignKey("buddy_program.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("occurrence", TS),
        sa.Column("groups", sa.Integer, nullable=False),
        sa.Column("left_out", sa.Integer, nullable=False),
        sa.Column("repeats", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("follow_up_at", TS, index=True),
        sa.Column("followed_up", sa.Boolean, nullable=False),
        sa.Column("tallied", sa.Boolean, nullable=False),
    )
    op.create_table(
        "buddy_group",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("round_id", sa.Integer, sa.ForeignKey("buddy_round.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("members", sa.Text, nullable=False),
        sa.Column("answer", sa.String(16)),
    )
    op.create_table(
        "buddy_member",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("program_id", sa.Integer, sa.ForeignKey("buddy_program.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("joined", sa.Boolean, nullable=False),
        sa.Column("skip_next", sa.Boolean, nullable=False),
        sa.Column("priority", sa.Boolean, nullable=False),
        sa.Column("unanswered", sa.Integer, nullable=False),
        sa.Column("welcomer", sa.Boolean, nullable=False),
        sa.Column("welcomed", sa.Boolean, nullable=False),
        sa.UniqueConstraint("program_id", "user_id"),
    )
    op.create_table(
        "buddy_never_pair",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("others", sa.Text, nullable=False),
        sa.UniqueConstraint("team_id", "user_id"),
    )
    op.create_table(
        "buddy_must_not_meet",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False, index=True),
        sa.Column("pair", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for name in ("buddy_must_not_meet", "buddy_never_pair", "buddy_member", "buddy_group", "buddy_round",
                 "buddy_program"):
        op.drop_table(name)
