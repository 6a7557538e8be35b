"""Delivery and scheduling: the outbox, shared rate buckets, the job-run ledger and APScheduler's job store.

APScheduler's table is created here (with APScheduler 3's own schema) rather than by the job store at
start-up, so every table Hearth uses is migration-controlled.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", TS),
        sa.Column("sent_channel", sa.String(32)),
        sa.Column("sent_ts", sa.String(32)),
        sa.Column("last_error", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.UniqueConstraint("team_id", "dedupe_key", name="uq_outbox_team_dedupe_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "rate_bucket",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("tat", sa.Double, nullable=False),
    )
    op.create_table(
        "job_run",
        sa.Column("job_id", sa.String(191), primary_key=True),
        sa.Column("occurrence", TS, primary_key=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("error", sa.String(100)),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
    )
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), index=True),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    for table in ("apscheduler_jobs", "job_run", "rate_bucket"):
        op.drop_table(table)
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
