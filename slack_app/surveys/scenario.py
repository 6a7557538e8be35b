"""The survey chapter of `hearth simulate`: launch to #general, answers through the modal, close, results;
then a schedule that launches on its cadence (and one refused for a too-small channel).

Every step goes through the real app (signed requests from the driver) or the use cases the scheduler and
the CLI call; the outbox is drained by a real delivery worker, so what is printed is what Slack saw.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from slack_app.scheduling import rituals
from slack_app.scheduling.cadence import WEEKDAYS, Cadence
from slack_app.simulator.driver import SlackDriver, wait_for
from slack_app.simulator.server import SlackSimulator
from slack_app.simulator.story import Story
from slack_app.surveys import schedules, usecases
from slack_app.surveys.ids import SurveyAction, SurveyView, question_block
from storage.models import utcnow

if TYPE_CHECKING:
    from slack_app.app import Hearth

GENERAL = "CGENERAL"
CIRCLE = "CCIRCLE"
ANSWERS = {"UALICE": 4, "UBOB": 5, "UCARMEN": 3, "UDEV": 4, "UFINN": 2}


def scenario_surveys(driver: SlackDriver, simulator: SlackSimulator, hearth: Hearth) -> list[str]:
    services = hearth.services
    team_id = simulator.workspace.team_id
    story = Story(simulator, hearth)
    ports, step = story.ports, story.step

    instrument, source = usecases.load_survey("belonging")
    started = usecases.launch(services, ports(team_id), team_id, instrument, source, channel_id=GENERAL,
                              closes=timedelta(days=7), min_responses=5, launched_by="UFINN")
    step(f"Finn (an admin) runs `hearth surveys launch belonging --channel {GENERAL} --by UFINN`: "
         f"{started.invited} invitations by DM")
    if started.run_id is None:
        return story.lines
    for user, value in ANSWERS.items():
        member = driver.as_member(user)
        member.click(SurveyAction.OPEN_MODAL)
        # the modal opens after the click's ack: wait for it (a view left open by an earlier chapter is not it)
        wait_for(lambda u=user: (simulator.latest_view(u) or {}).get("callback_id") == SurveyView.SUBMIT)
        member.submit({question_block(q.id): str(value) for q in instrument.counted})
    step(f"{len(ANSWERS)} members answer in the modal; each ack says what is stored, and nothing is sent")

    usecases.close(services, team_id, started.run_id, ports(team_id))
    step("The survey closes: answers are shuffled into anonymous rows, and Finn gets the results and the chart")

    # A schedule on the shared cadence: its occurrence is a minute ago, so the ritual's sweep launches it now,
    # once — as it would at 10:00 on a Monday. #gratitude-circle (4 people) is below the minimum of 5: not
    # launched, and Finn is told why.
    now = utcnow()
    cadence = Cadence("weekly", (now - timedelta(minutes=1)).weekday(), f"{now - timedelta(minutes=1):%H:%M}")
    for channel in (GENERAL, CIRCLE):
        schedules.schedule(services, team_id, instrument, source, channel_id=channel, cadence=cadence,
                           closes=timedelta(days=5), min_responses=5, created_by="UFINN",
                           now=now - timedelta(minutes=2))
    launched = rituals.open_due(schedules.RITUAL, services, ports, now=now)
    step(f"Finn runs `hearth surveys schedule belonging --channel {GENERAL} --cadence weekly --day "
         f"{WEEKDAYS[cadence.weekday]} --time {cadence.at} --timezone UTC --by UFINN` (and the same for {CIRCLE}): "
         f"at {cadence.at} {launched} survey launches and invitations go out; the circle is too small, so Finn "
         "gets a note instead")
    return story.lines
