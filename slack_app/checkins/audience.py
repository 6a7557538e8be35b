"""Who a circle is right now: Slack's channel membership joined with what Hearth knows about each person.

Slack answers "who is in the channel" and "is this a bot / deactivated"; Hearth's tables answer "did they
opt out, pause or snooze". The result is plain `rules.Person` facts for the pure rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from slack_app.checkins.rules import Person
from slack_app.delivery.rules import Verdict, classify
from slack_app.slack_port import SlackError, SlackPort
from storage import checkins as repo
from storage import members
from storage.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.services import Services

log = logging.getLogger("hearth.checkins")

# How long Hearth trusts its record of someone's bot/deactivated flags and time zone.
PROFILE_FRESH_FOR = timedelta(days=1)

# Slack errors that mean "this channel cannot hold a round as it stands" → the problem shown to admins.
CHANNEL_PROBLEMS = {"channel_not_found": "channel_gone", "is_archived": "archived", "not_in_channel": "not_in_channel"}


def is_transient(exc: SlackError) -> bool:
    """A rate limit, a timeout or a Slack outage: try again later rather than bother an admin."""
    return classify(exc.error, exc.status) is not Verdict.PERMANENT


def channel_problem(slack: SlackPort, channel_id: str) -> str | None:
    """None when Hearth can post in the channel; else `channel_gone`, `archived`, `not_in_channel` or
    another lasting Slack error code. Transient errors are raised (SlackError) for the caller to retry."""
    try:
        info = slack.channel_info(channel_id)
    except SlackError as exc:
        if is_transient(exc):
            raise
        return CHANNEL_PROBLEMS.get(exc.error, exc.error)
    if info.is_archived:
        return "archived"
    if not info.is_member:
        return "not_in_channel"
    return None


@dataclass(frozen=True)
class Roster:
    """The humans in a channel (not bots, not deactivated) and their time zones."""

    humans: list[str]
    tz: dict[str, str]


def roster(services: Services, slack: SlackPort, team_id: str, channel_id: str) -> Roster:
    """Channel members that are people, refreshing Hearth's record of anyone it has not seen lately."""
    ids = slack.channel_members(channel_id)
    with services.db.session() as s:
        known = repo.workspace_members(s, team_id, ids)
    stale_before = utcnow() - PROFILE_FRESH_FOR
    humans: list[str] = []
    tz: dict[str, str] = {}
    for user_id in ids:
        record = known.get(user_id)
        updated = _aware(record.updated_at) if record else None
        if record is None or record.tz is None or updated is None or updated < stale_before:
            try:
                info = slack.user_info(user_id)
            except SlackError as exc:
                log.info("checkins.user_skipped error=%s", exc.error)  # who stays out of logs
                continue
            members.remember(services.db, team_id, user_id, tz=info.tz or "UTC", is_bot=info.is_bot,
                             is_deleted=info.is_deleted)
            is_human, zone = info.is_human, info.tz or "UTC"
        else:
            is_human, zone = not (record.is_bot or record.is_deleted) and user_id != "USLACKBOT", record.tz
        if is_human:
            humans.append(user_id)
            tz[user_id] = zone
    return Roster(humans=sorted(humans), tz=tz)


def people(s: Session, team_id: str, circle_id: int, user_ids: list[str]) -> list[Person]:
    """Person facts for the rules: circle opt-out, check-in pause/snooze and the workspace-wide opt-out."""
    opted = repo.opted_out(s, circle_id)
    states = repo.member_states(s, team_id, user_ids)
    records = repo.workspace_members(s, team_id, user_ids)
    out = []
    for user_id in user_ids:
        state, record = states.get(user_id), records.get(user_id)
        snoozes = [t for t in (state and state.snoozed_until, record and _aware(record.snoozed_until)) if t]
        out.append(Person(
            user_id=user_id,
            is_human=not (record and (record.is_bot or record.is_deleted)),
            opted_out=user_id in opted or bool(record and record.opted_out),
            paused=bool(state and state.paused),
            snoozed_until=max(snoozes) if snoozes else None,
        ))
    return out


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt
