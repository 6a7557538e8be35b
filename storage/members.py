"""Members as Hearth last saw them, and who is in which channel — ids, time zones and flags, never names.

`Member` holds a profile (time zone, bot, deactivated, admin) and when Slack last told it; `ChannelMember`
is the last known membership of a channel (a snapshot from `conversations.members`, kept current by
member_joined/left_channel events); `RosterChannel` says when that snapshot was taken, so "not in the
table" can mean "not in the channel" only for channels Hearth has actually listed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import ForeignKey, String, UniqueConstraint, bindparam, delete, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import ColumnElement, Select

from storage.db import Database, insert_ignore, values
from storage.models import Base, Member, utcnow
from storage.opaque import hasher
from storage.preferences import MemberPreference, Preference


class RosterChannel(Base):
    """A channel whose membership Hearth has listed at least once."""

    __tablename__ = "roster_channel"
    __table_args__ = (UniqueConstraint("team_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    synced_at: Mapped[datetime]


class ChannelMember(Base):
    """Someone in a listed channel, as of the last listing or membership event."""

    __tablename__ = "channel_member"
    __table_args__ = (UniqueConstraint("roster_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    roster_id: Mapped[int] = mapped_column(ForeignKey("roster_channel.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)


@dataclass(frozen=True)
class Profile:
    """What Slack says about a person that workflows need (users.info, users.list, user_change)."""

    user_id: str
    tz: str | None
    is_bot: bool
    is_deleted: bool
    is_admin: bool
    fields: Mapping[str, str] = field(default_factory=dict)  # title, custom fields: kept only as opaque keys


def aware(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; Hearth stores UTC."""
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


# ---- profiles -------------------------------------------------------------------------------------------

def remember(db: Database, team_id: str, user_id: str) -> Member:
    """Note that a member exists (App Home opened, joined a channel) without touching their profile; their row
    as it is now."""
    with db.session() as s:
        row = s.scalar(_MEMBER, {"team_id": team_id, "user_id": user_id})
        if row is None:  # a concurrent request may add them too: theirs or ours, the row is read back
            _add_members(s, team_id, [user_id])
            row = s.scalar(_MEMBER, {"team_id": team_id, "user_id": user_id})
        assert row is not None
        return row


def store_profiles(db: Database, team_id: str, profiles: Iterable[Profile], *, now: datetime | None = None) -> None:
    """Write fresh profiles in one transaction (a 1,000-member listing is one commit, not 1,000)."""
    now = now or utcnow()
    given = {p.user_id: p for p in profiles}
    if not given:
        return
    with db.session() as s:
        known = _rows(s, team_id, list(given))
        digest = hasher(s) if any(p.fields for p in given.values()) else None
        for user_id, p in given.items():
            row = known[user_id]
            row.tz, row.is_bot, row.is_deleted, row.is_admin = p.tz, p.is_bot, p.is_deleted, p.is_admin
            row.profile_at, row.profile_error = now, None
            row.profile_keys = _field_keys(p.fields, digest) if digest and p.fields else None


def _rows(s: Session, team_id: str, user_ids: list[str]) -> dict[str, Member]:
    """These members' rows, added first for those not known yet."""
    known = by_id(s, team_id, user_ids)
    if missing := sorted(set(user_ids) - set(known)):
        _add_members(s, team_id, missing)
        known.update(by_id(s, team_id, missing))
    return known


def _add_members(s: Session, team_id: str, user_ids: list[str]) -> None:
    """Rows for members not known yet, skipping any another writer adds meanwhile: PostgreSQL makes this one
    wait for that writer's commit instead of failing, and since every writer goes in the same (sorted) order,
    two of them never wait on each other (a round opening while another instance warms the same profiles)."""
    now = utcnow()
    s.execute(insert_ignore(s, Member.__table__, unique=["team_id", "user_id"]),
              [{"team_id": team_id, "user_id": u, "is_bot": False, "is_deleted": False, "is_admin": False,
                "updated_at": now} for u in sorted(user_ids)])


def _field_keys(fields: Mapping[str, str], digest: Callable[[str], str]) -> str:
    """Profile values as opaque keys: equal values (whatever their case and spacing) give equal keys, and
    the database never holds a job title or a custom field's text."""
    return json.dumps({name: digest(f"profile:{name}:{' '.join(value.split()).casefold()}")
                       for name, value in sorted(fields.items())})


def profile_keys(s: Session, team_id: str, user_ids: list[str], name: str) -> dict[str, str]:
    """The opaque key of profile field `name` for those of `user_ids` whose profile has it."""
    out = {}
    for user_id, row in by_id(s, team_id, user_ids).items():
        key = json.loads(row.profile_keys).get(name) if row.profile_keys else None
        if key:
            out[user_id] = key
    return out


def mark_unreadable(db: Database, team_id: str, errors: dict[str, str]) -> None:
    """Slack would not tell these profiles (after retries): keep the reason for admins to see."""
    if not errors:
        return
    with db.session() as s:
        known = _rows(s, team_id, list(errors))
        for user_id, error in errors.items():
            known[user_id].profile_error = error[:64]


def unreadable(s: Session, team_id: str) -> list[Member]:
    """Members whose profile Slack would not give at the last try."""
    return list(s.scalars(select(Member).where(Member.team_id == team_id, Member.profile_error.is_not(None))
                          .order_by(Member.user_id)))


def count(s: Session, team_id: str) -> int:
    return s.scalar(select(func.count()).select_from(Member).where(Member.team_id == team_id)) or 0


def by_id(s: Session, team_id: str, user_ids: list[str]) -> dict[str, Member]:
    rows: dict[str, Member] = {}
    for start in range(0, len(user_ids), 500):  # keep IN lists well under every database's parameter limit
        chunk = user_ids[start:start + 500]
        rows.update({m.user_id: m for m in s.scalars(_BY_ID, {"team_id": team_id, "user_ids": chunk})})
    return rows


# Built once (storage/db.py says why): every report reads its moderator channel's profiles.
_BY_ID = select(Member).where(Member.team_id == bindparam("team_id"),
                              Member.user_id.in_(bindparam("user_ids", expanding=True)))


def get(db: Database, team_id: str, user_id: str) -> Member | None:
    """Their row."""
    with db.session() as s:
        return s.scalar(_MEMBER, {"team_id": team_id, "user_id": user_id})


_MEMBER = select(Member).where(Member.team_id == bindparam("team_id"), Member.user_id == bindparam("user_id"))


class Known(Protocol):
    """What Hearth knows of a member's profile: whether they are an admin, and as of when (None: never read)."""

    is_admin: bool
    profile_at: datetime | None


class AtHome(Known, Preference, Protocol):
    """What every App Home starts from: their profile as Hearth knows it and their shared preferences (pause,
    snooze), the defaults where they never set one."""


_AT_HOME = (select(Member.is_admin, Member.profile_at, func.coalesce(MemberPreference.paused, false()).label("paused"),
                   MemberPreference.paused_until, func.coalesce(MemberPreference.no_dms, false()).label("no_dms"))
            .outerjoin(MemberPreference, (MemberPreference.team_id == Member.team_id)
                       & (MemberPreference.user_id == Member.user_id))
            .where(Member.team_id == bindparam("team_id"), Member.user_id == bindparam("user_id")))


def find(s: Session, team_id: str, user_id: str) -> AtHome | None:
    """What their row says of them and their preferences', in one statement of the caller's unit of work, as
    plain values: every App Home starts here, and both rows are a member's own, read by key."""
    return values(s, _AT_HOME, {"team_id": team_id, "user_id": user_id}).first()


# ---- channel membership ---------------------------------------------------------------------------------

# A listing that finds the channel as Hearth keeps it is not written when the channel was marked listed this
# recently: a report's routing lists the moderator channel every time, and one statement then replaces a write
# transaction of four (the mark is read against LISTING_FRESH_FOR, a day, in slack_app.roster).
RELIST_MARK = timedelta(minutes=1)


def replace_channel(db: Database, team_id: str, channel_id: str, user_ids: Iterable[str], *,
                    now: datetime | None = None) -> None:
    """Record a full listing of the channel: who joined is added, who is gone is removed."""
    wanted = set(user_ids)
    now = now or utcnow()
    with db.reader() as s:
        kept = listing(s, team_id, channel_id)
    if kept is not None and set(kept[1]) == wanted and kept[0] > now - RELIST_MARK:
        return
    for attempt in range(2):
        try:
            with db.session() as s:
                roster = _roster(s, team_id, channel_id, create=True)
                roster.synced_at = now
                have = set(s.scalars(select(ChannelMember.user_id).where(ChannelMember.roster_id == roster.id)))
                gone = list(have - wanted)
                for start in range(0, len(gone), 500):
                    s.execute(delete(ChannelMember).where(ChannelMember.roster_id == roster.id,
                                                          ChannelMember.user_id.in_(gone[start:start + 500])))
                if joined := sorted(wanted - have):  # sorted, and skipping rows a racing writer adds: see above
                    s.execute(insert_ignore(s, ChannelMember.__table__, unique=["roster_id", "user_id"]),
                              [{"roster_id": roster.id, "user_id": u} for u in joined])
            return
        except IntegrityError:  # another listing created the channel's row first: the second pass finds it
            if attempt:
                raise


def joined(db: Database, team_id: str, channel_id: str, user_id: str) -> None:
    """member_joined_channel: only channels Hearth lists are tracked (others would grow without use)."""
    try:
        with db.session() as s:
            roster = _roster(s, team_id, channel_id)
            if roster is not None and _channel_member(s, roster.id, user_id) is None:
                s.add(ChannelMember(roster_id=roster.id, user_id=user_id))
    except IntegrityError:  # the same event twice, or a listing got there first
        pass


def left(db: Database, team_id: str, channel_id: str, user_id: str) -> None:
    with db.session() as s:
        roster = _roster(s, team_id, channel_id)
        if roster is not None:
            s.execute(delete(ChannelMember).where(ChannelMember.roster_id == roster.id,
                                                  ChannelMember.user_id == user_id))


# A listed channel's row, with the member's row beside it when they are in it (None when not): built once.
_MEMBERSHIP = (select(RosterChannel.channel_id, ChannelMember.id)
               .outerjoin(ChannelMember, (ChannelMember.roster_id == RosterChannel.id)
                          & (ChannelMember.user_id == bindparam("user_id")))
               .where(RosterChannel.team_id == bindparam("team_id")))
_IN_CHANNEL = _MEMBERSHIP.where(RosterChannel.channel_id == bindparam("channel_id"))
_CHANNELS_OF = _MEMBERSHIP.where(RosterChannel.channel_id.in_(bindparam("channel_ids", expanding=True)))


def join_listing(query: Select, team_id: ColumnElement, channel_id: ColumnElement) -> Select:
    """`query` with the last listing of the channel `team_id`/`channel_id` name and the member's row in it (bind
    `user_id`) outer-joined: select `RosterChannel.id` and `ChannelMember.id` beside the rest, read by `listed`."""
    return (query.outerjoin(RosterChannel, (RosterChannel.team_id == team_id) & (RosterChannel.channel_id == channel_id))
            .outerjoin(ChannelMember, (ChannelMember.roster_id == RosterChannel.id)
                       & (ChannelMember.user_id == bindparam("user_id"))))


def listed(roster_id: int | None, member_id: int | None) -> bool | None:
    """What `join_listing` found: True or False from the channel's last listing; None when it was never listed."""
    return None if roster_id is None else member_id is not None


def in_channel(s: Session, team_id: str, channel_id: str, user_id: str) -> bool | None:
    """True or False from the last listing (kept current by events); None when the channel was never listed."""
    row = s.execute(_IN_CHANNEL, {"team_id": team_id, "channel_id": channel_id, "user_id": user_id}).first()
    return None if row is None else row[1] is not None


def channels_of(s: Session, team_id: str, user_id: str, channel_ids: Iterable[str]) -> set[str]:
    """Of these channels, those the member is in; a channel never listed counts as in (nothing says otherwise)."""
    wanted = set(channel_ids)
    rows = s.execute(_CHANNELS_OF, {"team_id": team_id, "user_id": user_id, "channel_ids": sorted(wanted)})
    listed = {channel_id: member_id is not None for channel_id, member_id in rows}
    return {c for c in wanted if listed.get(c, True)}


def listings(s: Session, team_id: str) -> list[tuple[str, datetime, int]]:
    """Each listed channel with when it was listed (UTC) and how many members it had."""
    rows = s.execute(select(RosterChannel.channel_id, RosterChannel.synced_at, func.count(ChannelMember.id))
                     .outerjoin(ChannelMember, ChannelMember.roster_id == RosterChannel.id)
                     .where(RosterChannel.team_id == team_id)
                     .group_by(RosterChannel.id, RosterChannel.channel_id, RosterChannel.synced_at)
                     .order_by(RosterChannel.channel_id))
    return [(c, aware(at) or at, n) for c, at, n in rows]


def listing(s: Session, team_id: str, channel_id: str) -> tuple[datetime, list[str]] | None:
    """When the channel was last listed (UTC) and its members as kept since (events); None if never listed."""
    rows = values(s, _LISTING, {"team_id": team_id, "channel_id": channel_id}).all()
    if not rows:
        return None
    synced_at = rows[0].synced_at
    return aware(synced_at) or synced_at, sorted(r.user_id for r in rows if r.user_id is not None)


_LISTING = (select(RosterChannel.synced_at, ChannelMember.user_id)
            .outerjoin(ChannelMember, ChannelMember.roster_id == RosterChannel.id)
            .where(RosterChannel.team_id == bindparam("team_id"), RosterChannel.channel_id == bindparam("channel_id")))


_ROSTER = select(RosterChannel).where(RosterChannel.team_id == bindparam("team_id"),
                                      RosterChannel.channel_id == bindparam("channel_id"))
_CHANNEL_MEMBER = select(ChannelMember).where(ChannelMember.roster_id == bindparam("roster_id"),
                                              ChannelMember.user_id == bindparam("user_id"))


def _roster(s: Session, team_id: str, channel_id: str, *, create: bool = False) -> RosterChannel | None:
    row = s.scalar(_ROSTER, {"team_id": team_id, "channel_id": channel_id})
    if row is None and create:
        row = RosterChannel(team_id=team_id, channel_id=channel_id, synced_at=utcnow())
        s.add(row)
        s.flush()
    return row


def _channel_member(s: Session, roster_id: int, user_id: str) -> ChannelMember | None:
    return s.scalar(_CHANNEL_MEMBER, {"roster_id": roster_id, "user_id": user_id})
