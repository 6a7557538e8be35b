"""SQLAlchemy 2.x typed models of the foundation, delivery and scheduling.

Workflows add their own tables in their own modules (e.g. `storage.checkins`) and migrations. Columns that hold
member content are encrypted by `storage.crypto` before they reach this layer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Float,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
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
    # JSON {profile field: opaque key of its value} (title, custom fields): matched, never readable
    profile_keys: Mapped[str | None] = mapped_column(Text)
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
        Index("ix_outbox_team_created", "team_id", "created_at"),  # the archive walks the delivery log by age
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
    __table_args__ = (Index("ix_job_run_occurrence", "occurrence"),)

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


# ---- the data lifecycle: archive batches and forgotten members (storage.lifecycle) ----------------------


class ArchiveBatch(Base):
    """The ledger of one archive object: written `pending` (with the root rows it covers) before anything is
    uploaded, `archived` in the same transaction that deletes those rows, so a crash between any two steps
    is resumed by the next run instead of losing or repeating rows."""

    __tablename__ = "archive_batch"
    __table_args__ = (Index("ix_archive_batch_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40))
    team_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    object_key: Mapped[str] = mapped_column(String(400), unique=True)
    root_ids: Mapped[str] = mapped_column(Text)  # JSON span of the roots (team, first and last age+key); '' once archived
    status: Mapped[str] = mapped_column(String(16))  # pending / archived
    rows: Mapped[int | None]
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    manifest_key: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]


class ForgottenMember(Base):
    """A member's personal data removed on request (`hearth members forget`, or an admin in Slack). The member
    is named only by an opaque keyed hash once done; `pending_user` (sealed) lives only until then."""

    __tablename__ = "member_forgotten"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64), index=True)  # storage.opaque hash of team and user id
    pending_user: Mapped[str | None] = mapped_column(Sealed)
    requested_by: Mapped[str | None] = mapped_column(String(32))  # the admin (None: the CLI)
    status: Mapped[str] = mapped_column(String(16))  # pending / done
    db_rows: Mapped[int] = mapped_column(default=0)
    objects_rewritten: Mapped[int] = mapped_column(default=0)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
