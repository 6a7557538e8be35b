"""Surveys: runs, participation (who took part, apart from answers), the sealed buffer, answers, their counts,
comments and the disclosure ledger. See storage/surveys.py and docs/privacy.md ("Surveys").

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "survey_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("survey", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("min_responses", sa.Integer, nullable=False),
        sa.Column("launched_by", sa.String(32)),
        sa.Column("invited", sa.Integer, nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("closes_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_on", sa.Date),
        sa.Column("respondents", sa.Integer),
        sa.Column("first_reminder_done", sa.Boolean, nullable=False),
        sa.Column("final_reminder_done", sa.Boolean, nullable=False),
    )
    op.create_index("ix_survey_run_team_status", "survey_run", ["team_id", "status"])
    op.create_table(
        "survey_participation",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("survey_run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.UniqueConstraint("run_id", "user_id", name="uq_survey_participation_run_user"),
    )
    op.create_table(
        "survey_buffer",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("survey_run.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("sealed", sa.Text, nullable=False),
    )
    op.create_table(
        "survey_answer",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("survey_run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question_id", sa.String(32), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
    )
    op.create_index("ix_survey_answer_run_question", "survey_answer", ["run_id", "question_id", "value"])
    op.create_table(
        "survey_count",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("survey_run.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("question_id", sa.String(32), primary_key=True),
        sa.Column("value", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_table(
        "survey_comment",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("survey_run.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("question_id", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "survey_release",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("series", sa.String(120), nullable=False),
        sa.Column("scope", sa.String(40), nullable=False),
        sa.Column("cell", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.UniqueConstraint("team_id", "series", "scope", "cell", name="uq_survey_release_cell"),
    )


def downgrade() -> None:
    for name in ("survey_release", "survey_comment", "survey_count", "survey_answer", "survey_buffer", "survey_participation",
                 "survey_run"):
        op.drop_table(name)
