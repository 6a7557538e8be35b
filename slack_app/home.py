"""App Home use case: the member's home tab, a welcome followed by each listed workflow's section."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from slack_app import admins, blocks, preferences
from slack_app.slack_port import SlackPort
from storage import members

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.blocks import Block
    from slack_app.services import Services

log = logging.getLogger("hearth.home")


@dataclass
class Viewer:
    """Whose App Home is being drawn. Whether they are an admin is asked of Slack at most once per drawing."""

    services: Services
    slack: SlackPort
    team_id: str
    user_id: str
    member: members.Known | None = None  # what their row says, when the caller has just read it
    session: Session | None = None  # the drawing's one unit of work, when the caller opened it (`show`)
    shared: preferences.Preferences | None = None  # their pause and snooze, when read with their row (`show`)

    @cached_property
    def is_admin(self) -> bool:
        return admins.is_admin(self.services, self.slack, self.team_id, self.user_id, known=self.member)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """Where a section reads: the drawing's transaction, or one of its own when there is none."""
        if self.session is not None:
            yield self.session
            return
        with self.services.db.session() as s:
            yield s


def view(services: Services, slack: SlackPort, team_id: str, user_id: str, member: members.Known | None = None,
         session: Session | None = None, shared: preferences.Preferences | None = None) -> dict:
    viewer = Viewer(services, slack, team_id, user_id, member, session, shared)
    parts = [blocks.section(services.copy.render("home_welcome.j2", user_id=user_id))]
    for workflow in services.workflows:
        if workflow.home is not None:
            parts += workflow.home(viewer)
    if len(parts) > blocks.VIEW_BLOCKS:  # a very busy member or admin: Slack refuses a home over 100 blocks
        parts = parts[: blocks.VIEW_BLOCKS - 1] + [blocks.context(services.copy.render("home_more.j2"))]
    return blocks.home(parts, private_metadata=fingerprint(parts))


def fingerprint(parts: Sequence[Block]) -> str:
    """What a Home shows, in 24 characters. It travels in the Home's private_metadata, and app_home_opened
    carries the Home Slack shows, so a new drawing can tell whether it would change anything."""
    drawn = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(drawn, digest_size=12).hexdigest()


def show(services: Services, slack: SlackPort, team_id: str, user_id: str, shown: str | None = None) -> None:
    """Draw the member's Home and publish it, unless it is the one Slack shows now (`shown`: that Home's
    fingerprint, from app_home_opened). Members open Home often, and each views.publish spends Slack's quota
    for it (about 100 a minute per workspace): on a busy Monday that quota, not Hearth, decides whose Home
    is current. It is compared in the drawing, never remembered here, so every instance agrees."""
    # The sections read in one unit of work, not one each: a Home is a quarter of a busy day's requests, and
    # each unit costs a pool checkout (and on SQLite a transaction). It only reads (on PostgreSQL without a
    # transaction: storage.db), so what a section writes in a unit of its own (an admin's profile refreshed)
    # never waits for it.
    with services.db.reader() as s:
        found = members.find(s, team_id, user_id)  # with their preferences: each section would read them
        drawn = view(services, slack, team_id, user_id, found, s, preferences.shared(found)) if found else None
    if drawn is None:  # their first Home: their row is written, and committed, before the reads begin
        member = members.remember(services.db, team_id, user_id)
        with services.db.reader() as s:
            drawn = view(services, slack, team_id, user_id, member, s)
    if drawn["private_metadata"] == shown:
        log.info("home.unchanged")
        return
    slack.publish_home(user_id, drawn)
