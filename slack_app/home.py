"""App Home use case: the member's home tab, a welcome followed by each workflow's section."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from slack_app import admins, blocks
from slack_app.slack_port import SlackPort
from storage import members

if TYPE_CHECKING:
    from slack_app.app import Services


@dataclass
class Viewer:
    """Whose App Home is being drawn. Whether they are an admin is asked of Slack at most once per drawing."""

    services: Services
    slack: SlackPort
    team_id: str
    user_id: str

    @cached_property
    def is_admin(self) -> bool:
        return admins.is_admin(self.services, self.slack, self.user_id)


Section = Callable[[Viewer], list[dict]]


def _sections() -> list[Section]:
    # Imported here: workflow modules republish the home through `show`, so they import this module.
    from slack_app.checkins import home as checkins_home
    from slack_app.delivery import home as delivery_home

    return [checkins_home.section, delivery_home.section]


def view(services: Services, slack: SlackPort, team_id: str, user_id: str) -> dict:
    viewer = Viewer(services, slack, team_id, user_id)
    parts = [blocks.section(services.copy.render("home_welcome.j2", user_id=user_id))]
    for section in _sections():
        parts += section(viewer)
    if len(parts) > blocks.VIEW_BLOCKS:  # a very busy member or admin: Slack refuses a home over 100 blocks
        parts = parts[: blocks.VIEW_BLOCKS - 1] + [blocks.context(services.copy.render("home_more.j2"))]
    return blocks.home(parts)


def show(services: Services, slack: SlackPort, team_id: str, user_id: str) -> None:
    members.remember(services.db, team_id, user_id)
    slack.publish_home(user_id, view(services, slack, team_id, user_id))
