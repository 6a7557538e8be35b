"""Surveys: scheduled launches, one open run per audience enforced by the database, breakdown labels on
answers (coarsened at close) with each group's size and counts, and the archive key of a run's results.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("survey_run") as batch:
        batch.add_column(sa.Column("open_key", sa.String(80)))  # the audience while open, NULL once closed
        batch.add_column(sa.Column("breakdowns", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("archive_key", sa.String(300)))
    # NULLs are distinct in a unique index (SQLite and PostgreSQL): any number of closed runs, one open.
    op.create_index("uq_survey_run_open", "survey_run", ["team_id", "open_key"], unique=True)
    with op.batch_alter_table("survey_answer") as batch:
        batch.add_column(sa.Column("labels", sa.String(400), nullable=False, server_default=""))
    op.create_table(
        "survey_group",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("survey_run.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("labels", sa.String(400), primary_key=True),
        sa.Column("respondents", sa.Integer, nullable=False),
    )
    op.create_table(
        "survey_group_count",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("survey_run.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("labels", sa.String(400), primary_key=True),
        sa.Column("question_id", sa.String(32), primary_key=True),
        sa.Column("value", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_table(
        "survey_schedule",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("survey", sa.String(40), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("audience_key", sa.String(40), nullable=False),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("local_time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("anchor_date", sa.Date, nullable=False),
        sa.Column("closes_hours", sa.Integer, nullable=False),
        sa.Column("min_responses", sa.Integer),
        sa.Column("breakdowns", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(32)),
        sa.Column("enabled_at", TS, nullable=False),
        sa.Column("last_occurrence", TS),
        sa.Column("last_outcome", sa.String(32)),
        sa.UniqueConstraint("team_id", "survey", "audience_key", name="uq_survey_schedule_audience"),
    )


def downgrade() -> None:
    op.drop_table("survey_schedule")
    op.drop_table("survey_group_count")
    op.drop_table("survey_group")
    with op.batch_alter_table("survey_answer") as batch:
        batch.drop_column("labels")
    op.drop_index("uq_survey_run_open", "survey_run")
    with op.batch_alter_table("survey_run") as batch:
        batch.drop_column("archive_key")
        batch.drop_column("breakdowns")
        batch.drop_column("open_key")
