"""The survey chapter of `hearth simulate`: launch to #general, answers through the modal, close, results.

Every step goes through the real app (signed requests from the driver) or the use cases the scheduler and
the CLI call; the outbox is drained by a real delivery worker, so what is printed is what Slack saw.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from slack_app.simulator.driver import SlackDriver, wait_for
from slack_app.simulator.server import SlackSimulator
from slack_app.simulator.story import Story
from slack_app.surveys import usecases
from slack_app.surveys.ids import SurveyAction, SurveyView, question_block

if TYPE_CHECKING:
    from slack_app.app import Hearth

GENERAL = "CGENERAL"
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
    return story.lines
