"""SQLAlchemy 2.x typed models of the foundation, delivery and scheduling.

Workflows add their own tables in their own modules (e.g. `storage.checkins`) and migrations. Columns that hold
member content are encrypted by `storage.crypto` before they reach this layer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Float,
    Index,
    LargeBinary,
    String,
    Table,
    Unicode,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.sealed import Sealed


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Workspace(Base):
    """A Slack team Hearth is installed in, with its community-level settings."""

    __tablename__ = "workspace"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Member(Base):
    """A person (or bot) of a workspace as Hearth last saw them. Names are not stored."""

    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    tz: Mapped[str | None] = mapped_column(String(64))
    is_bot: Mapped[bool] = mapped_column(default=False)
    is_deleted: Mapped[bool] = mapped_column(default=False)
    is_admin: Mapped[bool] = mapped_column(default=False)  # a workspace admin or owner, as Slack last said
    # When Slack last told Hearth this profile (users.info, users.list or a user_change/team_join event);
    # None until then. Preferences (pause, opt-outs) live in storage.preferences, not here.
    profile_at: Mapped[datetime | None]
    profile_error: Mapped[str | None] = mapped_column(String(64))  # why the last read failed (admins see it)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SlackEvent(Base):
    """Events API envelopes already handled, so Slack's retries (X-Slack-Retry-Num) run once."""

    __tablename__ = "slack_event"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Secret(Base):
    """Secrets Hearth makes for itself (e.g. the key of its opaque hashes, `storage.opaque`), sealed with
    HEARTH_ENCRYPTION_KEY and re-encrypted by `hearth keys rotate` like every other sealed value."""

    __tablename__ = "hearth_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Sealed)


# ---- delivery and scheduling -----------------------------------------------------------------------------


class OutboxMessage(Base):
    """One message a workflow caused, written in the same transaction as the change that caused it.

    `target` is a conversation id (C…/G…/D…), a user id for a DM, or comma-separated user ids of a group
    DM that the worker opens first; encrypted when `sensitive` (and such a row is deleted once delivered).
    `payload` holds text, blocks and threading (see `storage.outbox`), encrypted; '' once sent or expired.
    `dedupe_key` is an opaque keyed hash of the caller's key (`storage.opaque`), so neither the database nor
    Slack's message metadata shows whom a message was for.
    `status` moves pending → sending → sent | failed; `sending` is committed before the Slack call, so a
    row found `sending` with an expired lease is reconciled against Slack before it is sent again.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("team_id", "dedupe_key", name="uq_outbox_team_dedupe_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Sealed(partial=True))  # String(400) in the schema
    payload: Mapped[str] = mapped_column(Sealed)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    dedupe_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    sent_channel: Mapped[str | None] = mapped_column(String(32))
    sent_ts: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class RateBucket(Base):
    """Shared pacing state: one GCRA theoretical arrival time (epoch seconds) per limit key, and the rate
    learned from Slack's 429s (`storage.adaptive`; NULL: the configured ceiling)."""

    __tablename__ = "rate_bucket"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[float] = mapped_column(Double)
    rate: Mapped[float | None] = mapped_column(Double)  # calls per second
    changed_at: Mapped[float | None] = mapped_column(Double)
    mark_at: Mapped[float | None] = mapped_column(Double)
    mark_grants: Mapped[int] = mapped_column(BigInteger, server_default="0")
    grants: Mapped[int] = mapped_column(BigInteger, server_default="0")


class JobRun(Base):
    """The ledger of scheduled occurrences: each (job, occurrence) runs once, and one cut short by a dead
    leader is run again by the next."""

    __tablename__ = "job_run"

    job_id: Mapped[str] = mapped_column(String(191), primary_key=True)
    occurrence: Mapped[datetime] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # running / done / failed
    owner: Mapped[str] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


# APScheduler's SQLAlchemyJobStore table, declared here so the migration creates it and tests empty it;
# the schema is APScheduler 3's own.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
