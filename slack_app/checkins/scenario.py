"""A short check-in round acted out for `hearth simulate`: set up, open, check in, help, remind, close.

Every step goes through the real app (signed requests from the driver) or the use cases the scheduler
would call, and the outbox is drained by a real delivery worker, so what is printed is what Slack saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from slack_app.checkins import rounds
from slack_app.checkins.ids import CheckinAction, CheckinBlock
from slack_app.simulator.driver import SlackDriver, wait_for
from slack_app.simulator.server import SlackSimulator
from slack_app.simulator.story import Story
from storage import checkins as repo
from storage.models import OutboxMessage

if TYPE_CHECKING:
    from slack_app.app import Hearth
    from slack_app.services import Services

CIRCLE = "CCIRCLE"


def scenario_checkins(driver: SlackDriver, simulator: SlackSimulator, hearth: Hearth) -> list[str]:
    services = hearth.services
    team_id = simulator.workspace.team_id
    story = Story(simulator, hearth)
    ports, step = story.ports, story.step

    def wait_for_view(user: str) -> dict:
        return driver.as_member(user).latest_view()

    alice, bob, dev, emi = (driver.as_member(u) for u in ("UALICE", "UBOB", "UDEV", "UEMI"))

    alice.command("/hearth", channel=CIRCLE)
    wait_for_view("UALICE")
    alice.submit({CheckinBlock.SETTINGS_TIMEZONE: "Europe/Berlin"})
    wait_for(lambda: _queued(services, "checkin.settings"))  # the confirmation is queued just after the ack
    step("Alice (an admin) turns on weekly check-ins for #gratitude-circle with /hearth")

    opened = rounds.open_round(services, ports(team_id), team_id, CIRCLE)
    step(f"A round opens: the prompt in the channel, {opened.invited} invitations by DM, a guide for the facilitator")

    bob.click(CheckinAction.OPEN_MODAL)
    bob.submit({CheckinBlock.GRATITUDE: "my sister's visit", CheckinBlock.CHALLENGE: "finding a quieter flat",
                CheckinBlock.OFFER: "Spanish conversation practice", CheckinBlock.SHARING: "named"})
    step("Bob checks in from his invitation and shares in the thread under his name")

    emi.command("/checkin", channel="CGENERAL")
    wait_for_view("UEMI")
    emi.submit({CheckinBlock.GRATITUDE: "the first warm evening", CheckinBlock.SHARING: "anonymous"})
    step("Emi checks in with /checkin, without her name")

    dev.click(CheckinAction.OFFER_HELP)
    step("Dev offers help under Bob's challenge; Bob is asked privately")

    bob.click(CheckinAction.ACCEPT_HELP)
    step("Bob accepts; Hearth opens a group DM introducing the two")

    with services.db.session() as s:
        round_ = s.get(repo.CheckinRound, opened.round_id)
        remind_at, closes_at = round_.remind_at, round_.closes_at
    rounds.remind_due(services, ports, now=remind_at)
    step("A day before closing, one gentle reminder to those who have not checked in")

    rounds.close_due(services, now=closes_at)
    step("The round closes: counts only in the thread, and the next facilitator is named")
    return story.lines


def _queued(services: Services, kind: str) -> bool:
    with services.db.session() as s:
        return s.scalar(select(OutboxMessage.id).where(OutboxMessage.kind == kind).limit(1)) is not None
