"""Buddy introduction tables and their repository functions.

A program (one per channel) matches its members into small groups on a cadence; each round keeps its seed
(so it can be reproduced) and its groups. Who met whom is personal, so a group's members are sealed
(`storage.sealed.Sealed`, encrypted by the caller); so are "never pair me with" lists and the "must not
meet" pairs fed by reports. Skipping the next round and "left out last time" (priority) are per member.
Pause and leave are members' shared preferences (`storage.preferences`, workflow "buddies", scope = the
channel). Functions take the caller's session.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint, bindparam, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.checkins import UTCDateTime
from storage.models import Base, utcnow
from storage.sealed import Sealed

WORKFLOW = "buddies"


class Cipher(Protocol):
    def encrypt(self, text: str) -> str: ...
    def decrypt(self, token: str) -> str: ...


class BuddyProgram(Base):
    __tablename__ = "buddy_program"
    __table_args__ = (UniqueConstraint("team_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(default=True)
    size: Mapped[int] = mapped_column(default=2)
    cadence: Mapped[str] = mapped_column(String(16))
    weekday: Mapped[int]
    local_time: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    anchor_date: Mapped[date]
    opt_in: Mapped[bool] = mapped_column(default=False)  # members join with a button instead of by being there
    window: Mapped[int] = mapped_column(default=12)  # no pair repeated within this many rounds
    mix_channel: Mapped[str | None] = mapped_column(String(32))  # mix its members with everyone else
    mix_field: Mapped[str | None] = mapped_column(String(64))  # or mix members whose profile field differs
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_occurrence: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last scheduled round claimed
    heads_up_for: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the occurrence last announced


class BuddyRound(Base):
    __tablename__ = "buddy_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("buddy_program.id", ondelete="CASCADE"), index=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    occurrence: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: run by hand
    groups: Mapped[int] = mapped_column(default=0)
    left_out: Mapped[int] = mapped_column(default=0)
    repeats: Mapped[int] = mapped_column(default=0)  # pairs that met within the window
    repeat_groups: Mapped[int] = mapped_column(default=0)  # groups holding such a pair (the repeat rate)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # "Did you meet?" halfway
    followed_up: Mapped[bool] = mapped_column(default=False)
    tallied: Mapped[bool] = mapped_column(default=False)  # unanswered follow-ups counted (at the next round)


class BuddyGroup(Base):
    __tablename__ = "buddy_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("buddy_round.id", ondelete="CASCADE"), index=True)
    members: Mapped[str] = mapped_column(Sealed)  # JSON list of user ids, encrypted
    answer: Mapped[str | None] = mapped_column(String(16))  # "yes", "not_yet", "couldnt" (Did you meet?)


class BuddyMember(Base):
    """A member's state in one program: joined (opt-in programs), skipping the next round, left out last."""

    __tablename__ = "buddy_member"
    __table_args__ = (UniqueConstraint("program_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("buddy_program.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    joined: Mapped[bool] = mapped_column(default=False)
    skip_next: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[bool] = mapped_column(default=False)  # left out last round: placed first next round
    welcomer: Mapped[bool] = mapped_column(default=False)  # volunteers to welcome newcomers (onboarding buddy)
    welcomed: Mapped[bool] = mapped_column(default=False)  # was introduced to a welcomer (at most once)
    # introductions in a row whose "Did you meet?" got no answer; at the limit (3) the member is paused in this
    # program only (their other programs, check-ins and surveys go on) until they resume
    unanswered: Mapped[int] = mapped_column(default=0)


class BuddyNeverPair(Base):
    """One member's confidential "never pair me with" list (sealed JSON list of user ids)."""

    __tablename__ = "buddy_never_pair"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    others: Mapped[str] = mapped_column(Sealed)


class BuddyMustNotMeet(Base):
    """Two people who must never be grouped (fed by reports; the reason is not kept here). Sealed pair."""

    __tablename__ = "buddy_must_not_meet"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    pair: Mapped[str] = mapped_column(Sealed)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- programs ------------------------------------------------------------------------------------------------

def program(s: Session, team_id: str, channel_id: str) -> BuddyProgram | None:
    return s.scalar(select(BuddyProgram).where(BuddyProgram.team_id == team_id,
                                               BuddyProgram.channel_id == channel_id))


# Built once (storage/db.py says why): every App Home lists its workspace's programs.
_ENABLED_PROGRAMS_OF = (select(BuddyProgram).where(BuddyProgram.team_id == bindparam("team_id"),
                                                   BuddyProgram.enabled.is_(True)).order_by(BuddyProgram.id))


def programs(s: Session, team_id: str | None = None, *, enabled_only: bool = True) -> list[BuddyProgram]:
    if team_id is not None and enabled_only:
        return list(s.scalars(_ENABLED_PROGRAMS_OF, {"team_id": team_id}))
    q = select(BuddyProgram).order_by(BuddyProgram.id)
    if team_id is not None:
        q = q.where(BuddyProgram.team_id == team_id)
    if enabled_only:
        q = q.where(BuddyProgram.enabled.is_(True))
    return list(s.scalars(q))


# --- rounds --------------------------------------------------------------------------------------------------

def add_round(s: Session, cipher: Cipher, program_id: int, seed: int, groups: list[list[str]], *,
              occurrence: datetime | None, left_out: int, repeats: int, repeat_groups: int = 0,
              follow_up_at: datetime | None = None) -> BuddyRound:
    rnd = BuddyRound(program_id=program_id, seed=seed, occurrence=occurrence, groups=len(groups),
                     left_out=left_out, repeats=repeats, repeat_groups=repeat_groups, follow_up_at=follow_up_at,
                     followed_up=False, tallied=False)
    s.add(rnd)
    s.flush()
    s.add_all(BuddyGroup(round_id=rnd.id, members=cipher.encrypt(json.dumps(g))) for g in groups)
    s.flush()
    return rnd


def rounds(s: Session, program_id: int, limit: int | None = None) -> list[BuddyRound]:
    """The program's rounds, newest first."""
    q = select(BuddyRound).where(BuddyRound.program_id == program_id).order_by(BuddyRound.id.desc())
    return list(s.scalars(q.limit(limit) if limit else q))


def history(s: Session, cipher: Cipher, program_id: int, window: int) -> list[list[list[str]]]:
    """The groups of the last `window` rounds, oldest first."""
    recent = list(reversed(rounds(s, program_id, window)))
    out = []
    for rnd in recent:
        rows = s.scalars(select(BuddyGroup.members).where(BuddyGroup.round_id == rnd.id).order_by(BuddyGroup.id))
        out.append([json.loads(cipher.decrypt(token)) for token in rows])
    return out


def group_rows(s: Session, round_id: int) -> list[BuddyGroup]:
    return list(s.scalars(select(BuddyGroup).where(BuddyGroup.round_id == round_id).order_by(BuddyGroup.id)))


def members_of(cipher: Cipher, group: BuddyGroup) -> list[str]:
    return json.loads(cipher.decrypt(group.members))


def groups_of(s: Session, cipher: Cipher, round_id: int) -> list[list[str]]:
    rows = s.scalars(select(BuddyGroup.members).where(BuddyGroup.round_id == round_id).order_by(BuddyGroup.id))
    return [json.loads(cipher.decrypt(token)) for token in rows]


# --- members -------------------------------------------------------------------------------------------------

def member(s: Session, program_id: int, user_id: str, *, create: bool = False) -> BuddyMember | None:
    row = s.scalar(select(BuddyMember).where(BuddyMember.program_id == program_id, BuddyMember.user_id == user_id))
    if row is None and create:
        row = BuddyMember(program_id=program_id, user_id=user_id, joined=False, skip_next=False, priority=False,
                          unanswered=0, welcomer=False, welcomed=False)
        s.add(row)
        s.flush()
    return row


def members(s: Session, program_id: int) -> dict[str, BuddyMember]:
    return {m.user_id: m for m in s.scalars(select(BuddyMember).where(BuddyMember.program_id == program_id))}


def resume_everywhere(s: Session, team_id: str, user_id: str) -> None:
    """`/buddies resume`: back in every program of the team that paused the member for unanswered intros."""
    s.execute(update(BuddyMember).where(
        BuddyMember.user_id == user_id, BuddyMember.unanswered > 0,
        BuddyMember.program_id.in_(select(BuddyProgram.id).where(BuddyProgram.team_id == team_id)))
        .values(unanswered=0))


def after_round(s: Session, program_id: int, left_out: list[str]) -> None:
    """Skips are used up; who was left out gets priority next round (and nobody else keeps it)."""
    for row in members(s, program_id).values():
        row.skip_next = False
        row.priority = False
    for user_id in left_out:
        row = member(s, program_id, user_id, create=True)
        assert row is not None
        row.priority = True


# --- constraints ---------------------------------------------------------------------------------------------

def never_pair(s: Session, cipher: Cipher, team_id: str, user_id: str) -> list[str]:
    row = s.scalar(select(BuddyNeverPair).where(BuddyNeverPair.team_id == team_id, BuddyNeverPair.user_id == user_id))
    return json.loads(cipher.decrypt(row.others)) if row else []


def set_never_pair(s: Session, cipher: Cipher, team_id: str, user_id: str, others: list[str]) -> None:
    s.execute(delete(BuddyNeverPair).where(BuddyNeverPair.team_id == team_id, BuddyNeverPair.user_id == user_id))
    others = sorted({o for o in others if o != user_id})
    if others:
        s.add(BuddyNeverPair(team_id=team_id, user_id=user_id, others=cipher.encrypt(json.dumps(others))))
    s.flush()


def add_must_not_meet(s: Session, cipher: Cipher, team_id: str, a: str, b: str) -> None:
    """For the report workflow: `a` and `b` are never grouped from now on. No reason is stored."""
    s.add(BuddyMustNotMeet(team_id=team_id, pair=cipher.encrypt(json.dumps(sorted([a, b])))))
    s.flush()


def forbidden_pairs(s: Session, cipher: Cipher, team_id: str) -> set[tuple[str, str]]:
    """Every hard constraint of the workspace: never-pair lists and must-not-meet pairs, undistinguished."""
    pairs: set[tuple[str, str]] = set()
    for row in s.scalars(select(BuddyNeverPair).where(BuddyNeverPair.team_id == team_id)):
        pairs.update((row.user_id, other) for other in json.loads(cipher.decrypt(row.others)))
    for token in s.scalars(select(BuddyMustNotMeet.pair).where(BuddyMustNotMeet.team_id == team_id)):
        a, b = json.loads(cipher.decrypt(token))
        pairs.add((a, b))
    return pairs
