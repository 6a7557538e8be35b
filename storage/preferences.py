"""Members' preferences that hold across workflows, and per-workflow opt-outs on top of them.

`MemberPreference`: paused (until resumed) or paused until an instant, and "no DMs from Hearth at all".
`MemberOptOut`: left one workflow (scope "") or one workflow in one channel (scope = channel id), e.g. a
member who left one circle's check-ins but stays in the channel. Functions take the caller's session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import String, UniqueConstraint, bindparam, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import values
from storage.models import Base, utcnow

WHOLE_WORKFLOW = ""


class MemberPreference(Base):
    __tablename__ = "member_preference"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    paused: Mapped[bool] = mapped_column(default=False)  # until they resume
    paused_until: Mapped[datetime | None]  # a snooze: paused until this instant
    no_dms: Mapped[bool] = mapped_column(default=False)  # Hearth sends them no direct messages at all
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MemberOptOut(Base):
    __tablename__ = "member_opt_out"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "workflow", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    workflow: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(64), default=WHOLE_WORKFLOW)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def preference(s: Session, team_id: str, user_id: str, *, create: bool = False) -> MemberPreference | None:
    row = s.scalar(select(MemberPreference).where(MemberPreference.team_id == team_id,
                                                  MemberPreference.user_id == user_id))
    if row is None and create:
        row = MemberPreference(team_id=team_id, user_id=user_id, paused=False, no_dms=False)
        s.add(row)
        s.flush()
    return row


class Preference(Protocol):
    """What `preferences` reads of a member's row."""

    paused: bool
    paused_until: datetime | None
    no_dms: bool


def preferences(s: Session, team_id: str, user_ids: list[str]) -> dict[str, Preference]:
    """The rows of those who have one, as plain values (`storage.db.values`): every App Home reads one."""
    rows: dict[str, Preference] = {}
    for start in range(0, len(user_ids), 500):
        rows.update({r.user_id: r for r in values(s, _PREFERENCES, {"team_id": team_id,
                                                                   "user_ids": user_ids[start:start + 500]})})
    return rows


def opt_outs(s: Session, team_id: str, workflow: str, user_ids: list[str] | None = None) -> list[MemberOptOut]:
    if user_ids is None:
        return list(s.scalars(_OPT_OUTS, {"team_id": team_id, "workflow": workflow}))
    rows: list[MemberOptOut] = []
    for start in range(0, len(user_ids), 500):
        rows += s.scalars(_OPT_OUTS_OF, {"team_id": team_id, "workflow": workflow,
                                         "user_ids": user_ids[start:start + 500]})
    return rows


# Built once (storage/db.py says why): every App Home reads a member's preferences and opt-outs.
_PREFERENCES = select(MemberPreference.user_id, MemberPreference.paused, MemberPreference.paused_until,
                      MemberPreference.no_dms).where(
    MemberPreference.team_id == bindparam("team_id"), MemberPreference.user_id.in_(bindparam("user_ids", expanding=True)))
_OPT_OUTS = select(MemberOptOut).where(MemberOptOut.team_id == bindparam("team_id"),
                                       MemberOptOut.workflow == bindparam("workflow"))
_OPT_OUTS_OF = _OPT_OUTS.where(MemberOptOut.user_id.in_(bindparam("user_ids", expanding=True)))


def add_opt_out(s: Session, team_id: str, user_id: str, workflow: str, scope: str = WHOLE_WORKFLOW) -> None:
    if s.scalar(select(MemberOptOut).where(
            MemberOptOut.team_id == team_id, MemberOptOut.user_id == user_id, MemberOptOut.workflow == workflow,
            MemberOptOut.scope == scope)) is None:
        s.add(MemberOptOut(team_id=team_id, user_id=user_id, workflow=workflow, scope=scope))
        s.flush()


def remove_opt_outs(s: Session, team_id: str, user_id: str, workflow: str,
                    scopes: Iterable[str] | None = None) -> int:
    """Back in: every scope of the workflow, or only these; returns how many opt-outs were removed."""
    query = delete(MemberOptOut).where(MemberOptOut.team_id == team_id, MemberOptOut.user_id == user_id,
                                       MemberOptOut.workflow == workflow)
    if scopes is not None:
        query = query.where(MemberOptOut.scope.in_(list(scopes)))
    return s.execute(query).rowcount or 0
