"""`/buddies [skip|pause|resume|leave|join (rejoin)|never …|help]`: a member's own choices, answered privately."""

import re

from slack_bolt import Ack, App, Respond

from slack_app import home as app_home
from slack_app.buddies import rules, usecases, views
from slack_app.ids import Command
from slack_app.request_path import AfterAck
from slack_app.services import Services
from slack_app.slack_port import SlackPort
from storage.models import utcnow

ACTIONS = ("skip", "pause", "resume", "leave", "join")
ALIASES = {"rejoin": "join"}  # the word for coming back after `leave`


def register(app: App) -> None:
    @app.command(Command.BUDDIES.value)
    def on_buddies(ack: Ack, command: dict, services: Services, team_id: str) -> None:
        words = (command.get("text") or "").strip().lower().split()
        action = ALIASES.get(words[0], words[0]) if words else "help"
        channel_id = command.get("channel_id")
        outcome = "help"
        if action == "never":
            outcome, names = usecases.never_pair(services, team_id, command["user_id"], " ".join(words[1:]),
                                                 command.get("text") or "")
            ack(response_type="ephemeral", text=views.command_answer(services.copy, outcome, channel_id, names))
            return
        until = None
        if action == "pause" and len(words) > 1:  # `/buddies pause until 2026-12-24` or `pause 2w`
            until = rules.pause_end(words[1:], utcnow())
            if until is None:
                ack(response_type="ephemeral", text=views.command_answer(services.copy, "pause_help", channel_id))
                return
            outcome = usecases.pause_until(services, team_id, command["user_id"], until)
        elif action in ACTIONS:
            outcome = usecases.choose(services, team_id, channel_id, command["user_id"], action)
        ack(response_type="ephemeral", text=views.command_answer(services.copy, outcome, channel_id, until=until))

    @app.action(views.SKIP_ACTION)
    @app.action(views.JOIN_ACTION)
    def on_program_button(ack: Ack, body: dict, action: dict, respond: Respond, services: Services,
                          team_id: str) -> None:
        ack()
        choice = "join" if action["action_id"] == views.JOIN_ACTION else "skip"
        outcome, channel_id = usecases.choose_from_button(services, team_id, body["user"]["id"],
                                                          str(action.get("value") or ""), choice)
        respond(response_type="ephemeral", replace_original=False,
                text=views.command_answer(services.copy, outcome if channel_id else "gone", channel_id))

    @app.action(re.compile("^buddies[.]met_"))
    def on_met(ack: Ack, body: dict, action: dict, respond: Respond, services: Services) -> None:
        ack()
        answer = views.MET_ACTIONS.get(action["action_id"])
        if answer and usecases.answer_follow_up(services, body["user"]["id"], str(action.get("value") or ""), answer):
            respond(replace_original=True, **views.answered(services.copy, answer))

    @app.action(views.RESUME_ACTION)
    def on_resume(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, team_id: str) -> None:
        ack()
        usecases.resume(services, team_id, body["user"]["id"], str(action.get("value") or ""))
        respond(response_type="ephemeral", replace_original=False,
                text=views.command_answer(services.copy, "resumed", None))

    @app.action(views.VOLUNTEER_ACTION)
    def on_volunteer(ack: Ack, body: dict, action: dict, services: Services, slack: SlackPort, team_id: str,
                     after_ack: AfterAck) -> None:
        """From App Home (no response_url there): the republished home shows the new state on its button."""
        ack()
        usecases.volunteer(services, team_id, body["user"]["id"], str(action.get("value") or ""))
        after_ack.low_priority("buddies.home_refresh", app_home.show, services, slack, team_id, body["user"]["id"])
