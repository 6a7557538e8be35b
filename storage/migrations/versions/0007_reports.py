"""Reports: cases (content and, for anonymous reports, the reporter only sealed) and their append-only trail.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_case",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("submission_key", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("follow_up", sa.Boolean, nullable=False),
        sa.Column("reporter_id", sa.String(32)),
        sa.Column("reporter_sealed", sa.Text, nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("dm_recipients", sa.Text),
        sa.Column("assignee_id", sa.String(32)),
        sa.Column("card_version", sa.Integer, nullable=False),
        sa.Column("reply_waiting", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("acknowledged_at", TS),
        sa.Column("escalated_at", TS),
        sa.UniqueConstraint("team_id", "number"),
        sa.UniqueConstraint("team_id", "submission_key"),
    )
    op.create_index("ix_report_case_status", "report_case", ["status"])
    op.create_table(
        "report_entry",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("report_case.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("ref", sa.String(64)),
        sa.Column("at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_entry")
    op.drop_index("ix_report_case_status", "report_case")
    op.drop_table("report_case")
