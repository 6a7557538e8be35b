"""Report tables: cases (content sealed) and their append-only trail of entries (audit, notes, conversation).

What a reader of a database dump may not learn (docs/privacy.md, "Reports"):
- the content: what happened, the reported message, people involved, notes, questions and replies are one
  sealed JSON value per case (`details`) or per entry (`body`), under HEARTH_ENCRYPTION_KEY and its rotation;
- who reported anonymously: such a case holds its reporter only in `reporter_sealed` (encrypted, to relay
  follow-up); `reporter_id` is empty and the reporter's own actions are recorded under the case's pseudonym.

Entries are only ever inserted: there is no update or delete of `report_entry` here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.checkins import Cipher, UTCDateTime
from storage.models import Base, Workspace, utcnow
from storage.opaque import opaque
from storage.sealed import Sealed

REPORTER = "reporter"  # actor of entries the reporter causes (their id is never an actor)
SYSTEM = "hearth"


class ReportCase(Base):
    __tablename__ = "report_case"
    __table_args__ = (UniqueConstraint("team_id", "number"), UniqueConstraint("team_id", "submission_key"),
                      Index("ix_report_case_team_updated", "team_id", "updated_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    number: Mapped[int] = mapped_column(Integer)
    submission_key: Mapped[str] = mapped_column(String(64))  # opaque hash of the modal's view id: one case
    category: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean)
    follow_up: Mapped[bool] = mapped_column(Boolean)
    reporter_id: Mapped[str | None] = mapped_column(String(32))  # None for an anonymous report
    reporter_sealed: Mapped[str] = mapped_column(Sealed)         # the reporter's id, encrypted (always)
    pseudonym: Mapped[str] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Sealed)                 # sealed JSON: text, people, snapshot, nonce
    channel_id: Mapped[str | None] = mapped_column(String(32))   # where the card went; None: nowhere usable
    dm_recipients: Mapped[str | None] = mapped_column(Sealed)  # sealed ids, when a moderator is involved
    assignee_id: Mapped[str | None] = mapped_column(String(32))
    card_version: Mapped[int] = mapped_column(Integer, default=0)
    reply_waiting: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReportEntry(Base):
    """One line of a case's trail: who (a moderator's id, `reporter` or `hearth`), what, when, and for notes,
    questions, replies and resolutions a sealed body."""

    __tablename__ = "report_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    body: Mapped[str | None] = mapped_column(Sealed)
    ref: Mapped[str | None] = mapped_column(String(64))  # opaque hash of the modal submitted: one entry each
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Entry:
    id: int
    actor: str
    action: str
    body: str | None
    at: datetime


def submission_key(session: Session, team_id: str, view_id: str) -> str:
    return opaque(session, f"report-submission:{team_id}:{view_id}")[:64]


def by_submission(session: Session, team_id: str, key: str) -> ReportCase | None:
    return session.scalar(select(ReportCase).where(ReportCase.team_id == team_id,
                                                   ReportCase.submission_key == key))


def next_number(session: Session, team_id: str) -> int:
    return (session.scalar(select(func.max(ReportCase.number)).where(ReportCase.team_id == team_id)) or 0) + 1


def get(session: Session, case_id: int) -> ReportCase | None:
    return session.get(ReportCase, case_id)


def by_number(session: Session, team_id: str, number: int) -> ReportCase | None:
    return session.scalar(select(ReportCase).where(ReportCase.team_id == team_id, ReportCase.number == number))


def cases(session: Session, team_id: str, *, status: str | None = None) -> list[ReportCase]:
    stmt = select(ReportCase).where(ReportCase.team_id == team_id)
    if status:
        stmt = stmt.where(ReportCase.status == status)
    return list(session.scalars(stmt.order_by(ReportCase.number)))


def open_cases(session: Session) -> list[ReportCase]:
    return list(session.scalars(select(ReportCase).where(ReportCase.status == "open").order_by(ReportCase.id)))


def unresolved_cases(session: Session) -> list[ReportCase]:
    return list(session.scalars(select(ReportCase).where(ReportCase.status != "resolved")
                                .order_by(ReportCase.team_id, ReportCase.number)))


def never_routed(session: Session, made_before: datetime) -> list[tuple[str, int]]:
    """(team, case id) of unresolved cases made before `made_before` that routing never finished: no card
    posted and no trail entry by Hearth (routing always leaves one: posted, sent by DM, or not posted)."""
    routed = select(ReportEntry.case_id).where(ReportEntry.actor == SYSTEM)
    stmt = (select(ReportCase.team_id, ReportCase.id)
            .where(ReportCase.status != "resolved", ReportCase.channel_id.is_(None),
                   ReportCase.created_at < made_before, ReportCase.id.not_in(routed))
            .order_by(ReportCase.id))
    return [(team_id, case_id) for team_id, case_id in session.execute(stmt)]


def linked_pairs(session: Session, crypto: Cipher, team_id: str) -> set[tuple[str, str]]:
    """Who an unresolved report links: its reporter with each person involved. Buddy introductions never
    group such a pair; worked out when a round is matched (nothing stored, so it lifts at resolution, and
    nothing in the buddy tables hints that a report exists)."""
    pairs: set[tuple[str, str]] = set()
    stmt = select(ReportCase).where(ReportCase.team_id == team_id, ReportCase.status != "resolved")
    for case in session.scalars(stmt):
        reporter = crypto.decrypt(case.reporter_sealed)
        for person in open_details(crypto, case).get("people") or []:
            if person != reporter:
                pairs.add((reporter, person))
    return pairs


def add_entry(session: Session, crypto: Cipher, case: ReportCase, actor: str, action: str,
              body: str | None = None, *, at: datetime | None = None, ref: str | None = None) -> ReportEntry:
    """Append one line to the case's trail (the only write `report_entry` ever gets)."""
    entry = ReportEntry(case_id=case.id, actor=actor[:64], action=action[:64],
                        body=crypto.encrypt(body) if body is not None else None, at=at or utcnow(), ref=ref)
    session.add(entry)
    session.flush()
    return entry


def view_ref(session: Session, view_id: str | None) -> str | None:
    """The opaque reference of a submitted modal, so a double submission or replay adds one entry."""
    return opaque(session, f"report-view:{view_id}")[:64] if view_id else None


def has_ref(session: Session, case_id: int, ref: str | None) -> bool:
    return ref is not None and session.scalar(select(ReportEntry.id).where(
        ReportEntry.case_id == case_id, ReportEntry.ref == ref).limit(1)) is not None


def entries(session: Session, crypto: Cipher, case_id: int) -> list[Entry]:
    rows = session.scalars(select(ReportEntry).where(ReportEntry.case_id == case_id)
                           .order_by(ReportEntry.at, ReportEntry.id))
    return [Entry(r.id, r.actor, r.action, crypto.decrypt(r.body) if r.body else None, r.at) for r in rows]


def seal_details(crypto: Cipher, details: dict[str, Any]) -> str:
    return crypto.encrypt(json.dumps(details, separators=(",", ":"), ensure_ascii=False))


def open_details(crypto: Cipher, case: ReportCase) -> dict[str, Any]:
    return json.loads(crypto.decrypt(case.details))


# ---- the per-workspace moderator channel (workspace.settings["reports"]["channel"]) -------------------

def moderator_channel(session: Session, team_id: str) -> str | None:
    ws = session.get(Workspace, team_id)
    return ((ws.settings or {}).get("reports") or {}).get("channel") if ws else None


def set_moderator_channel(session: Session, team_id: str, channel_id: str | None) -> None:
    ws = session.get(Workspace, team_id)
    if ws is None:
        ws = Workspace(team_id=team_id, settings={})
        session.add(ws)
    settings = dict(ws.settings or {})
    reports = dict(settings.get("reports") or {})
    reports["channel"] = channel_id
    settings["reports"] = reports
    ws.settings = settings  # a new dict: JSON columns do not track changes in place
