"""Who counts as a Hearth admin: workspace admins and owners (Slack says so), and anyone in HEARTH_ADMINS."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from slack_app.slack_port import SlackError, SlackPort

if TYPE_CHECKING:
    from slack_app.services import Services


def counts_as_admin(user_id: str, *, is_workspace_admin: bool, is_owner: bool, configured: Iterable[str]) -> bool:
    return is_workspace_admin or is_owner or user_id in set(configured)


def is_admin(services: Services, slack: SlackPort, user_id: str, *, strict: bool = False) -> bool:
    """`strict`: when Slack cannot say (a 429 under load), raise its SlackError instead of answering False,
    so an admin is told "Slack is busy" rather than "you are not an admin"."""
    if user_id in services.settings.admins:
        return True  # no Slack call needed
    try:
        info = slack.user_info(user_id)
    except SlackError:
        if strict:
            raise
        return False  # when Slack cannot say, nobody gets admin powers by default
    return counts_as_admin(user_id, is_workspace_admin=info.is_admin, is_owner=info.is_owner,
                           configured=services.settings.admins)
