"""Who a circle is right now: the channel's roster (`slack_app.roster`) joined with members' preferences.

The roster answers "who is in the channel" and "is this a bot / deactivated"; preferences answer "did they
opt out, pause or snooze". The result is plain `rules.Person` facts for the pure rules.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_app import preferences
from slack_app.checkins.rules import Person
from slack_app.delivery.rules import Verdict, classify
from slack_app.slack_port import SlackError, SlackPort
from storage import checkins as repo
from storage import members
from storage.checkins import CheckinCircle

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("hearth.checkins")

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


def people(s: Session, team_id: str, circle_id: int, user_ids: list[str]) -> list[Person]:
    """Person facts for the rules: shared preferences (pause, snooze, no DMs), check-in opt-outs and profiles."""
    circle = s.get(CheckinCircle, circle_id)
    prefs = preferences.of_many(s, team_id, user_ids, repo.WORKFLOW)
    records = members.by_id(s, team_id, user_ids)
    out = []
    for user_id in user_ids:
        pref, record = prefs[user_id], records.get(user_id)
        out.append(Person(
            user_id=user_id,
            is_human=not (record and (record.is_bot or record.is_deleted)),
            opted_out=pref.no_dms or pref.opted_out_of(repo.WORKFLOW, circle.channel_id),
            paused=pref.paused,
            snoozed_until=pref.paused_until,
        ))
    return out
