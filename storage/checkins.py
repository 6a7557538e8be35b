"""Check-in tables and their repository functions.

Circles (a channel with check-ins), rounds, who was part of a round, check-ins and help offers. Pause, snooze
and opt-outs are members' shared preferences (`storage.preferences`). What members write (gratitude,
challenge, offer) is encrypted with `storage.crypto` before it reaches a column and decrypted only when shown
back to people.

Functions take the caller's session, so a use case stores a change and the messages it causes
(outbox rows) in one transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Protocol

from sqlalchemy import DateTime, Dialect, ForeignKey, Index, Select, String, UniqueConstraint, bindparam, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator

from storage import members, preferences
from storage.db import upsert_insert, values
from storage.members import ChannelMember, RosterChannel
from storage.models import Base, utcnow
from storage.sealed import Sealed


class Cipher(Protocol):
    def encrypt(self, text: str) -> str: ...
    def decrypt(self, token: str) -> str: ...


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


WORKFLOW = "checkins"  # the name member opt-outs are kept under (`storage.preferences`), scoped by channel


class RoundStatus:
    PENDING = "pending"  # due, but the channel message could not be posted yet (bot not in channel, …)
    OPEN = "open"
    CLOSED = "closed"


class OfferStatus:
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class CheckinCircle(Base):
    """A channel whose members check in on a steady rhythm."""

    __tablename__ = "checkin_circle"
    __table_args__ = (UniqueConstraint("team_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(default=True)
    cadence: Mapped[str] = mapped_column(String(16))
    weekday: Mapped[int]
    local_time: Mapped[str] = mapped_column(String(5))  # HH:MM on the circle's clock
    timezone: Mapped[str] = mapped_column(String(64))
    window_minutes: Mapped[int]
    remind_before_minutes: Mapped[int]
    sharing: Mapped[str] = mapped_column(String(16))
    rotate_facilitator: Mapped[bool] = mapped_column(default=True)
    anchor_date: Mapped[date]
    next_facilitator_id: Mapped[str | None] = mapped_column(String(32))  # chosen when the last round closed
    next_open_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    problem: Mapped[str | None] = mapped_column(String(64))  # a Slack error code admins were told about
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def remind_before(self) -> timedelta:
        return timedelta(minutes=self.remind_before_minutes)


class CheckinRound(Base):
    __tablename__ = "checkin_round"
    __table_args__ = (UniqueConstraint("circle_id", "number"), Index("ix_checkin_round_status", "status"),
                      Index("ix_checkin_round_closes", "closes_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("checkin_circle.id", ondelete="CASCADE"))
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    facilitator_id: Mapped[str | None] = mapped_column(String(32))
    channel_ts: Mapped[str | None] = mapped_column(String(32))  # the round's message: the thread to share in
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CheckinParticipant(Base):
    """Someone who belonged to a round's circle: invited at opening, or joined while it was open."""

    __tablename__ = "checkin_participant"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("checkin_round.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    invited: Mapped[bool] = mapped_column(default=False)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Checkin(Base):
    __tablename__ = "checkin"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("checkin_round.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # in buttons: reveals nobody
    gratitude: Mapped[str] = mapped_column(Sealed)  # encrypted (storage.sealed: rotated by `hearth keys rotate`)
    challenge: Mapped[str | None] = mapped_column(Sealed)
    offer: Mapped[str | None] = mapped_column(Sealed)
    has_challenge: Mapped[bool] = mapped_column(default=False)  # for counts without decrypting
    has_offer: Mapped[bool] = mapped_column(default=False)
    sharing: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(default=1)  # bumps on every edit; keys the share message
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class HelpOffer(Base):
    """A peer's "I can help" under a challenge, and whether its owner accepted."""

    __tablename__ = "checkin_help_offer"
    __table_args__ = (UniqueConstraint("checkin_id", "helper_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkin.id", ondelete="CASCADE"))
    helper_id: Mapped[str] = mapped_column(String(32))
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OfferStatus.OFFERED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def new_public_id() -> str:
    return secrets.token_hex(8)


# ---- circles --------------------------------------------------------------------------------------------

def circle(s: Session, team_id: str, channel_id: str) -> CheckinCircle | None:
    return s.scalar(select(CheckinCircle).where(CheckinCircle.team_id == team_id,
                                                CheckinCircle.channel_id == channel_id))


def circles(s: Session, team_id: str, *, enabled_only: bool = False) -> list[CheckinCircle]:
    query = select(CheckinCircle).where(CheckinCircle.team_id == team_id)
    if enabled_only:
        query = query.where(CheckinCircle.enabled.is_(True))
    return list(s.scalars(query.order_by(CheckinCircle.id)))


def enabled_circles(s: Session) -> list[CheckinCircle]:
    """Every enabled circle of every workspace (the scheduler's job source)."""
    return list(s.scalars(select(CheckinCircle).where(CheckinCircle.enabled.is_(True)).order_by(CheckinCircle.id)))


def circles_due(s: Session, now: datetime) -> list[CheckinCircle]:
    return list(s.scalars(select(CheckinCircle).where(
        CheckinCircle.enabled.is_(True), CheckinCircle.next_open_at <= now).order_by(CheckinCircle.id)))


# ---- rounds ---------------------------------------------------------------------------------------------

# Built once (storage/db.py says why): these run on most requests.
_CURRENT_ROUND = select(CheckinRound).where(
    CheckinRound.circle_id == bindparam("circle_id"),
    CheckinRound.status.in_((RoundStatus.OPEN, RoundStatus.PENDING))).order_by(CheckinRound.number.desc())


def current_round(s: Session, circle_id: int) -> CheckinRound | None:
    """The round that is open or waiting to be posted; a circle has at most one."""
    return s.scalar(_CURRENT_ROUND, {"circle_id": circle_id})


def new_round(s: Session, circle_id: int, *, opens_at: datetime, remind_at: datetime, closes_at: datetime,
              facilitator_id: str | None) -> CheckinRound:
    number = (s.scalar(select(func.max(CheckinRound.number)).where(CheckinRound.circle_id == circle_id)) or 0) + 1
    row = CheckinRound(circle_id=circle_id, number=number, status=RoundStatus.PENDING, opens_at=opens_at,
                       remind_at=remind_at, closes_at=closes_at, facilitator_id=facilitator_id)
    s.add(row)
    s.flush()
    return row


def facilitator_history(s: Session, circle_id: int) -> list[str]:
    return list(s.scalars(select(CheckinRound.facilitator_id).where(
        CheckinRound.circle_id == circle_id, CheckinRound.facilitator_id.is_not(None)).order_by(CheckinRound.number)))


def rounds_of(s: Session, circle_id: int, *, limit: int = 10) -> list[CheckinRound]:
    """The newest rounds first."""
    return list(s.scalars(select(CheckinRound).where(CheckinRound.circle_id == circle_id)
                          .order_by(CheckinRound.number.desc()).limit(limit)))


def rounds_to_remind(s: Session, now: datetime) -> list[CheckinRound]:
    return list(s.scalars(select(CheckinRound).where(
        CheckinRound.status == RoundStatus.OPEN, CheckinRound.reminded_at.is_(None),
        CheckinRound.remind_at <= now, CheckinRound.closes_at > now).order_by(CheckinRound.id)))


def rounds_to_close(s: Session, now: datetime) -> list[CheckinRound]:
    """Open rounds past their closing time. A pending round waits for its channel to be fixed instead."""
    return list(s.scalars(select(CheckinRound).where(
        CheckinRound.status == RoundStatus.OPEN, CheckinRound.closes_at <= now).order_by(CheckinRound.id)))


def pending_rounds(s: Session) -> list[CheckinRound]:
    return list(s.scalars(select(CheckinRound).where(CheckinRound.status == RoundStatus.PENDING)
                          .order_by(CheckinRound.id)))


# ---- participants ---------------------------------------------------------------------------------------

def participants(s: Session, round_id: int) -> list[CheckinParticipant]:
    return list(s.scalars(select(CheckinParticipant).where(CheckinParticipant.round_id == round_id)
                          .order_by(CheckinParticipant.user_id)))


_PARTICIPANT = select(CheckinParticipant).where(CheckinParticipant.round_id == bindparam("round_id"),
                                                CheckinParticipant.user_id == bindparam("user_id"))


def participant(s: Session, round_id: int, user_id: str) -> CheckinParticipant | None:
    return s.scalar(_PARTICIPANT, {"round_id": round_id, "user_id": user_id})


def add_participant(s: Session, round_id: int, user_id: str, *, invited: bool) -> None:
    """The member takes part in the round: a new row, or theirs again if they had left (came back while the round
    was open); a row that is there already stays as it is. One statement (every check-in submission runs it)."""
    s.execute(_join_round(s.get_bind().dialect.name), {"round_id": round_id, "user_id": user_id, "invited": invited})


@cache
def _join_round(dialect: str) -> Insert:
    row = {"round_id": bindparam("round_id"), "user_id": bindparam("user_id"), "invited": bindparam("invited")}
    return upsert_insert(dialect)(CheckinParticipant).values(row).on_conflict_do_update(
        index_elements=["round_id", "user_id"], set_={"left_at": None},
        where=CheckinParticipant.left_at.is_not(None))


def _circles_of_member() -> Select:
    """Circles the member took part in or opted out of, each with the channel's listing and their opt-out."""
    joined = select(CheckinRound.circle_id).join(
        CheckinParticipant, CheckinParticipant.round_id == CheckinRound.id).where(
        CheckinParticipant.user_id == bindparam("user_id"))
    opt_outs = select(preferences.MemberOptOut.scope).where(
        preferences.MemberOptOut.team_id == bindparam("team_id"),
        preferences.MemberOptOut.user_id == bindparam("user_id"), preferences.MemberOptOut.workflow == WORKFLOW)
    opted = CheckinCircle.channel_id.in_(opt_outs.scalar_subquery())
    return members.join_listing(select(CheckinCircle.id, CheckinCircle.channel_id, RosterChannel.id.label("roster_id"),
                                       ChannelMember.id.label("member_id"), opted.label("opted_out")),
                                CheckinCircle.team_id, CheckinCircle.channel_id).where(
        CheckinCircle.team_id == bindparam("team_id"), CheckinCircle.id.in_(joined.scalar_subquery()) | opted
    ).order_by(CheckinCircle.id)


_CIRCLES_OF_MEMBER = _circles_of_member()  # built once: every App Home asks
# Rounds with what one member has of each (`RoundOf`), built once: every "Check in" click, check-in and /checkin.
_ROUNDS_WITH_MEMBER = members.join_listing(
    select(CheckinRound, CheckinCircle, Checkin, CheckinParticipant, RosterChannel.id, ChannelMember.id)
    .join(CheckinCircle, CheckinCircle.id == CheckinRound.circle_id)
    .outerjoin(Checkin, (Checkin.round_id == CheckinRound.id) & (Checkin.user_id == bindparam("user_id")))
    .outerjoin(CheckinParticipant, (CheckinParticipant.round_id == CheckinRound.id)
               & (CheckinParticipant.user_id == bindparam("user_id"))),
    CheckinCircle.team_id, CheckinCircle.channel_id)
_ROUND_OF = _ROUNDS_WITH_MEMBER.where(CheckinRound.id == bindparam("round_id"))
_OPEN_ROUNDS_FOR = (
    _ROUNDS_WITH_MEMBER
    .where(CheckinCircle.team_id == bindparam("team_id"), CheckinRound.status == RoundStatus.OPEN,
           CheckinParticipant.id.is_not(None), CheckinParticipant.left_at.is_(None))
    .order_by(CheckinRound.id))


@dataclass(frozen=True)
class RoundOf:
    """A round, its circle, and the member's check-in of it (None when they have none yet), their row as a
    participant (None when they have none), and whether the channel's last listing has them in it (None when the
    channel was never listed: `storage.members.in_channel`)."""

    round: CheckinRound
    circle: CheckinCircle
    checkin: Checkin | None
    participant: CheckinParticipant | None
    listed: bool | None


def round_of(s: Session, round_id: int | None, user_id: str) -> RoundOf | None:
    """A round, its circle and what the member has of it, in one statement (every "Check in" click and every
    check-in starts here: whether they may, and whether they still need a participant's row, is all here);
    None when there is no such round."""
    if round_id is None:
        return None
    found = s.execute(_ROUND_OF, {"round_id": round_id, "user_id": user_id}).first()
    return None if found is None else _round_of(*found)


def open_rounds_for(s: Session, team_id: str, user_id: str) -> list[RoundOf]:
    """Open rounds the member takes part in (and has not left), with what they have of each, in one statement."""
    return [_round_of(*row) for row in s.execute(_OPEN_ROUNDS_FOR, {"team_id": team_id, "user_id": user_id})]


def _round_of(round_: CheckinRound, circle: CheckinCircle, checkin_: Checkin | None,
              participant_: CheckinParticipant | None, roster_id: int | None, member_id: int | None) -> RoundOf:
    return RoundOf(round_, circle, checkin_, participant_, members.listed(roster_id, member_id))


@dataclass(frozen=True)
class CircleOf:
    """A circle of the member's, whether the channel's last listing has them (None: never listed) and whether
    they opted out of it."""

    circle_id: int
    channel_id: str
    listed: bool | None
    opted_out: bool


def circles_of_member(s: Session, team_id: str, user_id: str) -> list[CircleOf]:
    """Circles the member took part in at least once, or opted out of, in one statement (every App Home asks)."""
    rows = values(s, _CIRCLES_OF_MEMBER, {"team_id": team_id, "user_id": user_id})
    return [CircleOf(r.id, r.channel_id, members.listed(r.roster_id, r.member_id), bool(r.opted_out)) for r in rows]


# ---- check-ins ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckinText:
    gratitude: str
    challenge: str | None
    offer: str | None


_CHECKIN = select(Checkin).where(Checkin.round_id == bindparam("round_id"), Checkin.user_id == bindparam("user_id"))


def checkin(s: Session, round_id: int, user_id: str) -> Checkin | None:
    return s.scalar(_CHECKIN, {"round_id": round_id, "user_id": user_id})


def checkin_by_public_id(s: Session, public_id: str) -> Checkin | None:
    return s.scalar(select(Checkin).where(Checkin.public_id == public_id))


def checkins_of_round(s: Session, round_id: int) -> list[Checkin]:
    return list(s.scalars(select(Checkin).where(Checkin.round_id == round_id).order_by(Checkin.id)))


def save_checkin(s: Session, cipher: Cipher, row: Checkin | None, round_id: int, user_id: str, *, gratitude: str,
                 challenge: str | None, offer: str | None, sharing: str) -> tuple[Checkin, bool]:
    """Store (encrypted) the member's check-in of a round, or replace `row`, the one they have (`checkin`, read
    by the caller in this session); True when it is new."""
    created = row is None
    if row is None:
        row = Checkin(round_id=round_id, user_id=user_id, public_id=new_public_id(), version=1)
        s.add(row)
    else:
        row.version += 1
    row.gratitude = cipher.encrypt(gratitude)
    row.challenge = cipher.encrypt(challenge) if challenge else None
    row.offer = cipher.encrypt(offer) if offer else None
    row.has_challenge = bool(challenge)
    row.has_offer = bool(offer)
    row.sharing = sharing
    row.updated_at = utcnow()
    s.flush()
    return row, created


class SealedText(Protocol):
    """A check-in's words as stored: a `Checkin`, or a row of `values` that selected them."""

    gratitude: str
    challenge: str | None
    offer: str | None


def read_checkin(cipher: Cipher, row: SealedText) -> CheckinText:
    return CheckinText(
        gratitude=cipher.decrypt(row.gratitude),
        challenge=cipher.decrypt(row.challenge) if row.challenge else None,
        offer=cipher.decrypt(row.offer) if row.offer else None,
    )


class SharedCheckin(SealedText, Protocol):
    """What App Home shows of a check-in: its words (sealed), author, sharing, and its round's circle and opening."""

    user_id: str
    sharing: str
    circle_id: int
    opens_at: datetime


class RoundTakenPart(Protocol):
    """What App Home reads of a round the member took part in (`took_part`)."""

    id: int
    status: str
    closes_at: datetime
    facilitator_id: str | None


# Built once: every App Home draws both. Values, not objects (`storage.db.values`): App Home only reads them.
_IN_CIRCLES = CheckinRound.circle_id.in_(bindparam("circle_ids", expanding=True))
_SHARED = select(Checkin.user_id, Checkin.gratitude, Checkin.challenge, Checkin.offer, Checkin.sharing,
                 CheckinRound.circle_id, CheckinRound.opens_at).join(CheckinRound, CheckinRound.id == Checkin.round_id)
_CHECKINS_OF_MEMBER = (_SHARED.where(Checkin.user_id == bindparam("user_id"), _IN_CIRCLES)
                       .order_by(CheckinRound.opens_at.desc()).limit(bindparam("limit")))
_OFFERS_IN_CIRCLES = (_SHARED.where(_IN_CIRCLES, Checkin.has_offer.is_(True), CheckinRound.opens_at >= bindparam("since"))
                      .order_by(CheckinRound.opens_at.desc(), Checkin.id.desc()).limit(bindparam("limit")))


def checkins_of_member(s: Session, user_id: str, circle_ids: list[int], *, limit: int = 5) -> list[SharedCheckin]:
    """The member's latest check-ins in these circles, newest first."""
    return list(values(s, _CHECKINS_OF_MEMBER, {"user_id": user_id, "circle_ids": circle_ids, "limit": limit}))


def offers_in_circles(s: Session, circle_ids: list[int], *, since: datetime, limit: int = 20) -> list[SharedCheckin]:
    """Recent check-ins that offer something, newest first (the caller keeps only browsable ones)."""
    return list(values(s, _OFFERS_IN_CIRCLES, {"circle_ids": circle_ids, "since": since, "limit": limit}))


_TOOK_PART = (select(CheckinRound.id, CheckinRound.status, CheckinRound.closes_at, CheckinRound.facilitator_id,
                     Checkin.id.label("checkin_id"))
              .join(CheckinParticipant, CheckinParticipant.round_id == CheckinRound.id)
              .outerjoin(Checkin, (Checkin.round_id == CheckinRound.id) & (Checkin.user_id == bindparam("user_id")))
              .where(CheckinRound.circle_id == bindparam("circle_id"), CheckinParticipant.user_id == bindparam("user_id"))
              .order_by(CheckinRound.number.desc()).limit(bindparam("limit")))


def took_part(s: Session, circle_id: int, user_id: str, *, limit: int = 52) -> list[tuple[RoundTakenPart, bool]]:
    """The member's rounds in a circle (oldest first) and whether they checked in to each."""
    rows = values(s, _TOOK_PART, {"circle_id": circle_id, "user_id": user_id, "limit": limit})
    return [(r, r.checkin_id is not None) for r in reversed(list(rows))]


# ---- help offers ----------------------------------------------------------------------------------------

def help_offer(s: Session, public_id: str) -> HelpOffer | None:
    return s.scalar(select(HelpOffer).where(HelpOffer.public_id == public_id))


def add_help_offer(s: Session, checkin_id: int, helper_id: str) -> tuple[HelpOffer, bool]:
    row = s.scalar(select(HelpOffer).where(HelpOffer.checkin_id == checkin_id, HelpOffer.helper_id == helper_id))
    if row is not None:
        return row, False
    row = HelpOffer(checkin_id=checkin_id, helper_id=helper_id, public_id=new_public_id(),
                    status=OfferStatus.OFFERED)
    s.add(row)
    s.flush()
    return row, True


def help_offers_of_round(s: Session, round_id: int) -> list[HelpOffer]:
    return list(s.scalars(select(HelpOffer).join(Checkin, Checkin.id == HelpOffer.checkin_id)
                          .where(Checkin.round_id == round_id).order_by(HelpOffer.id)))
