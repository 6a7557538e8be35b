"""Roster and preferences: member profiles with freshness, channel listings, shared preferences and opt-outs.

Check-ins' own pause/snooze (`checkin_member_state`) and circle opt-outs (`checkin_opt_out`) move into the
shared `member_preference` and `member_opt_out` (workflow "checkins", scope = the circle's channel), and the
never-written `member.opted_out` / `member.snoozed_until` go.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("profile_at", TS))
        batch.add_column(sa.Column("profile_error", sa.String(64)))
        batch.drop_column("opted_out")
        batch.drop_column("snoozed_until")
    op.create_table(
        "roster_channel",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.UniqueConstraint("team_id", "channel_id"),
    )
    op.create_table(
        "channel_member",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("roster_id", sa.Integer, sa.ForeignKey("roster_channel.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("user_id", sa.String(32), nullable=False, index=True),
        sa.UniqueConstraint("roster_id", "user_id"),
    )
    op.create_table(
        "member_preference",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("paused_until", TS),
        sa.Column("no_dms", sa.Boolean, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("team_id", "user_id"),
    )
    op.create_table(
        "member_opt_out",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False, index=True),
        sa.Column("workflow", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("team_id", "user_id", "workflow", "scope"),
    )
    op.execute(
        "INSERT INTO member_preference (team_id, user_id, paused, paused_until, no_dms, updated_at) "
        "SELECT team_id, user_id, paused, snoozed_until, false, updated_at FROM checkin_member_state")
    op.execute(
        "INSERT INTO member_opt_out (team_id, user_id, workflow, scope, created_at) "
        "SELECT c.team_id, o.user_id, 'checkins', c.channel_id, o.created_at "
        "FROM checkin_opt_out o JOIN checkin_circle c ON c.id = o.circle_id")
    op.drop_table("checkin_opt_out")
    op.drop_table("checkin_member_state")


def downgrade() -> None:
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
    op.execute(
        "INSERT INTO checkin_member_state (team_id, user_id, paused, snoozed_until, updated_at) "
        "SELECT team_id, user_id, paused, paused_until, updated_at FROM member_preference")
    op.execute(
        "INSERT INTO checkin_opt_out (circle_id, user_id, created_at) "
        "SELECT c.id, o.user_id, o.created_at FROM member_opt_out o "
        "JOIN checkin_circle c ON c.team_id = o.team_id AND c.channel_id = o.scope WHERE o.workflow = 'checkins'")
    for table in ("member_opt_out", "member_preference", "channel_member", "roster_channel"):
        op.drop_table(table)
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("opted_out", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("snoozed_until", TS))
        batch.drop_column("profile_error")
        batch.drop_column("profile_at")
        batch.drop_column("is_admin")
