"""Members as Hearth last saw them: ids, time zone and human/bot/deleted flags — no names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import Member


def remember(db: Database, team_id: str, user_id: str, *, tz: str | None = None,
             is_bot: bool | None = None, is_deleted: bool | None = None) -> None:
    try:
        _upsert(db, team_id, user_id, tz, is_bot, is_deleted)
    except IntegrityError:  # a concurrent request inserted the same member first
        _upsert(db, team_id, user_id, tz, is_bot, is_deleted)


def _upsert(db: Database, team_id: str, user_id: str, tz: str | None, is_bot: bool | None,
            is_deleted: bool | None) -> None:
    with db.session() as s:
        member = s.scalar(select(Member).where(Member.team_id == team_id, Member.user_id == user_id))
        if member is None:
            member = Member(team_id=team_id, user_id=user_id, is_bot=False, is_deleted=False, opted_out=False)
            s.add(member)
        if tz is not None:
            member.tz = tz
        if is_bot is not None:
            member.is_bot = is_bot
        if is_deleted is not None:
            member.is_deleted = is_deleted


def get(db: Database, team_id: str, user_id: str) -> Member | None:
    with db.session() as s:
        return s.scalar(select(Member).where(Member.team_id == team_id, Member.user_id == user_id))
