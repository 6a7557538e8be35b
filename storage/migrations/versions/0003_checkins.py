"""Check-ins: circles, rounds, participants, check-ins (text encrypted), help offers, pause and opt-outs.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "checkin_circle",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("local_time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("window_minutes", sa.Integer, nullable=False),
        sa.Column("remind_before_minutes", sa.Integer, nullable=False),
        sa.Column("sharing", sa.String(16), nullable=False),
        sa.Column("rotate_facilitator", sa.Boolean, nullable=False),
        sa.Column("anchor_date", sa.Date, nullable=False),
        sa.Column("next_facilitator_id", sa.String(32)),
        sa.Column("next_open_at", TS, index=True),
        sa.Column("problem", sa.String(64)),
        sa.Column("created_by", sa.String(32)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("team_id", "channel_id"),
    )
    op.create_table(
        "checkin_round",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("circle_id", sa.Integer, sa.ForeignKey("checkin_circle.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opens_at", TS, nullable=False),
        sa.Column("remind_at", TS, nullable=False),
        sa.Column("closes_at", TS, nullable=False),
        sa.Column("facilitator_id", sa.String(32)),
        sa.Column("channel_ts", sa.String(32)),
        sa.Column("reminded_at", TS),
        sa.Column("closed_at", TS),
        sa.UniqueConstraint("circle_id", "number"),
    )
    op.create_index("ix_checkin_round_status", "checkin_round", ["status"])
    op.create_table(
        "checkin_participant",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("round_id", sa.Integer, sa.ForeignKey("checkin_round.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False, index=True),
        sa.Column("invited", sa.Boolean, nullable=False),
        sa.Column("left_at", TS),
        sa.Column("reminded_at", TS),
        sa.UniqueConstraint("round_id", "user_id"),
    )
    op.create_table(
        "checkin",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("round_id", sa.Integer, sa.ForeignKey("checkin_round.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False, index=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("gratitude", sa.Text, nullable=False),
        sa.Column("challenge", sa.Text),
        sa.Column("offer", sa.Text),
        sa.Column("has_challenge", sa.Boolean, nullable=False),
        sa.Column("has_offer", sa.Boolean, nullable=False),
        sa.Column("sharing", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("round_id", "user_id"),
    )
    op.create_table(
        "checkin_help_offer",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("checkin_id", sa.Integer, sa.ForeignKey("checkin.id", ondelete="CASCADE"), nullable=False),
        sa.Column("helper_id", sa.String(32), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS),
        sa.UniqueConstraint("checkin_id", "helper_id"),
    )
    op.create_table(
        "checkin_member_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("snoozed_until", TS),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("team_id", "user_id"),
    )
    op.create_table(
        "checkin_opt_out",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("circle_id", sa.Integer, sa.ForeignKey("checkin_circle.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("circle_id", "user_id"),
    )


def downgrade() -> None:
    for table in ("checkin_opt_out", "checkin_member_state", "checkin_help_offer", "checkin", "checkin_participant",
                  "checkin_round", "checkin_circle"):
        op.drop_table(table)
