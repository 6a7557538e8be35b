"""`/hearth`: the check-in settings modal for admins; help (and a polite note) for everyone else."""

from slack_bolt import Ack, App, Respond

from slack_app import request_path
from slack_app.buddies.command import configure_here
from slack_app.checkins import usecases as checkins
from slack_app.ids import Command
from slack_app.lifecycle.usecases import forget_here
from slack_app.reports import usecases as reports
from slack_app.services import Services
from slack_app.slack_port import SlackError, SlackPort
from slack_app.surveys.command import survey_here


def register(app: App) -> None:
    @app.command(Command.HEARTH.value)
    def on_hearth(ack: Ack, command: dict, respond: Respond, services: Services, slack: SlackPort,
                  team_id: str) -> None:
        words = (command.get("text") or "").lower().split()
        if words[:1] == ["help"]:
            ack(response_type="ephemeral", text=services.copy.render("help.j2"))
            return
        if words[:1] == ["reports"]:  # an admin makes this (private) channel the moderator channel
            ack()
            respond(response_type="ephemeral",
                    text=reports.channel_from_slash(services, slack, team_id, command["user_id"],
                                                    command.get("channel_id")))
            return
        if words[:1] == ["buddies"]:  # `/hearth buddies [settings|off]`: an admin sets this channel's introductions
            ack()
            respond(response_type="ephemeral", text=configure_here(services, slack, team_id, command["user_id"],
                                                                   command.get("channel_id"),
                                                                   (command.get("text") or "").split()[1:]))
            return
        if words[:1] == ["forget"]:  # `/hearth forget @member`: an admin asks Hearth to forget a member
            ack()
            respond(response_type="ephemeral", text=forget_here(services, slack, team_id, command["user_id"],
                                                                (command.get("text") or "").split()[1:]))
            return
        if words[:1] == ["survey"]:  # `/hearth survey [schedule|unschedule] NAME …`: an admin, for this channel
            ack()
            respond(response_type="ephemeral", text=survey_here(services, slack, team_id, command["user_id"],
                                                                command.get("channel_id"),
                                                                (command.get("text") or "").split()[1:]))
            return
        ack()  # the modal opens right after, while the trigger_id is fresh
        try:
            opened = checkins.open_settings(services, slack, team_id, command["user_id"], command.get("channel_id"),
                                            command["trigger_id"])
        except SlackError as exc:  # Slack refused views.open or the admin look-up (expired trigger, 429): say so
            request_path.explain_failure(slack, services.copy, respond, command["user_id"], exc)
            return
        if not opened:
            respond(response_type="ephemeral",
                    text=services.copy.render("checkin_not_admin.j2") + "\n\n" + services.copy.render("help.j2"))
