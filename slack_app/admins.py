"""Who counts as a Hearth admin: workspace admins and owners (Slack says so), and anyone in HEARTH_ADMINS.

Slack is asked only when Hearth's own record of the person is missing or older than `ADMIN_FRESH_FOR`:
`user_change` events keep that record current (an admin demoted in Slack is demoted here within seconds), so
App Home opens and `/hearth` under load do not spend Slack's `users.info` budget on the same question.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from slack_app.roster import profile_of
from slack_app.slack_port import SlackError, SlackPort
from storage import members
from storage.models import utcnow

if TYPE_CHECKING:
    from slack_app.services import Services

# Bounds how long a missed `user_change` (Hearth was down) could keep someone's admin powers.
ADMIN_FRESH_FOR = timedelta(hours=1)


def counts_as_admin(user_id: str, *, is_workspace_admin: bool, is_owner: bool, configured: Iterable[str]) -> bool:
    return is_workspace_admin or is_owner or user_id in set(configured)


def is_admin(services: Services, slack: SlackPort, team_id: str, user_id: str, *, strict: bool = False,
             known: members.Known | None = None) -> bool:
    """`strict`: when Slack cannot say (a 429 under load), raise its SlackError instead of answering False,
    so an admin is told "Slack is busy" rather than "you are not an admin". `known`: their member row, when
    the caller has just read it."""
    if user_id in services.settings.admins:
        return True  # no Slack call needed
    known = known or members.get(services.db, team_id, user_id)
    profiled = members.aware(known.profile_at) if known else None
    if known is not None and profiled is not None and profiled > utcnow() - ADMIN_FRESH_FOR:
        return known.is_admin  # stored as workspace admin or owner
    try:
        info = slack.user_info(user_id)
    except SlackError:
        if strict:
            raise
        return False  # when Slack cannot say, nobody gets admin powers by default
    members.store_profiles(services.db, team_id, [profile_of(info)])
    return counts_as_admin(user_id, is_workspace_admin=info.is_admin, is_owner=info.is_owner,
                           configured=services.settings.admins)
