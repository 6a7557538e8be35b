"""The data lifecycle: the archive ledger (one row per archive object), forgotten members, and indexes on the
ages the archive selects by.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "archive_batch",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("object_key", sa.String(400), nullable=False, unique=True),
        sa.Column("root_ids", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows", sa.Integer),
        sa.Column("size", sa.BigInteger),
        sa.Column("sha256", sa.String(64)),
        sa.Column("manifest_key", sa.String(400)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("archived_at", TS),
    )
    op.create_index("ix_archive_batch_status", "archive_batch", ["status"])
    op.create_table(
        "member_forgotten",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("pending_user", sa.Text),
        sa.Column("requested_by", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("db_rows", sa.Integer, nullable=False),
        sa.Column("objects_rewritten", sa.Integer, nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("done_at", TS),
    )
    # The archive walks old rows in age order, one batch at a time.
    op.create_index("ix_outbox_team_created", "outbox", ["team_id", "created_at"])
    op.create_index("ix_job_run_occurrence", "job_run", ["occurrence"])
    op.create_index("ix_checkin_round_closes", "checkin_round", ["closes_at"])
    op.create_index("ix_report_case_team_updated", "report_case", ["team_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_report_case_team_updated", "report_case")
    op.drop_index("ix_checkin_round_closes", "checkin_round")
    op.drop_index("ix_job_run_occurrence", "job_run")
    op.drop_index("ix_outbox_team_created", "outbox")
    op.drop_table("member_forgotten")
    op.drop_index("ix_archive_batch_status", "archive_batch")
    op.drop_table("archive_batch")
