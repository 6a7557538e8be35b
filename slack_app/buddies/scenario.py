"""Buddy introductions acted out for `hearth simulate`: a program in #general, the heads-up, a round,
"Did you meet?", a skip, a second round.

Rounds run through the use cases the scheduler calls; `/buddies` goes through signed requests; the outbox is
drained by a real delivery worker, so what is printed is what Slack saw.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from slack_app.buddies import rules, usecases, views
from slack_app.scheduling.cadence import next_after
from slack_app.simulator.driver import SlackDriver
from slack_app.simulator.server import SlackSimulator
from slack_app.simulator.story import Story
from storage.models import utcnow

if TYPE_CHECKING:
    from slack_app.app import Hearth

CHANNEL = "CGENERAL"


def scenario_buddies(driver: SlackDriver, simulator: SlackSimulator, hearth: Hearth) -> list[str]:
    services = hearth.services
    team_id = simulator.workspace.team_id
    story = Story(simulator, hearth)
    ports, step = story.ports, story.step

    prog, _ = usecases.enable(services, team_id, CHANNEL, rules.parse_settings(size=2, cadence="biweekly"))
    step("An admin turns on buddy introductions in #general (`hearth buddies enable --channel CGENERAL`)")
    upcoming = next_after(usecases.cadence_of(prog), utcnow())
    usecases.heads_up_due(services, ports, now=rules.heads_up_at(upcoming, prog.timezone) + timedelta(minutes=1))
    step("A business day before the round, each member gets a heads-up with \"Skip this round\"")
    first = usecases.plan_round(services, ports(team_id), team_id, CHANNEL)
    q = first.plan.quality if first.plan else None
    step(f"A round: {q.groups if q else 0} group DMs with a warm intro and a conversation starter "
         f"({q.repeats if q else 0} repeats, {q.left_out if q else 0} left out)")
    usecases.follow_up_due(services, now=utcnow() + timedelta(days=8))
    step("Halfway through the round, each group is asked \"Did you meet?\"")
    driver.as_member("UALICE").click(views.MET_ACTIONS_YES)
    step("Alice answers Yes for her group; admins see the meet count on App Home")
    driver.as_member("UBOB").command("/buddies", text="skip", channel=CHANNEL)
    step("Bob types `/buddies skip`: he sits out the next round (answered only to him)")
    second = usecases.plan_round(services, ports(team_id), team_id, CHANNEL)
    q = second.plan.quality if second.plan else None
    step(f"The next round: nobody meets the same person again ({q.repeats if q else 0} repeats), Bob is not in it")
    return story.lines
