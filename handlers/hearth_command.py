"""`/hearth`: the check-in settings modal for admins; help (and a polite note) for everyone else."""

from slack_bolt import App

from slack_app.checkins import usecases as checkins
from slack_app.ids import Command


def register(app: App) -> None:
    @app.command(Command.HEARTH.value)
    def on_hearth(ack, command, respond, context):  # noqa: ANN001
        services = context["services"]
        words = (command.get("text") or "").lower().split()
        if words[:1] == ["help"]:
            ack(response_type="ephemeral", text=services.copy.render("help.j2"))
            return
        ack()  # the modal opens right after, while the trigger_id is fresh
        if not checkins.open_settings(services, context["slack"], context["team_id"], command["user_id"],
                                      command.get("channel_id"), command["trigger_id"]):
            respond(response_type="ephemeral",
                    text=services.copy.render("checkin_not_admin.j2") + "\n\n" + services.copy.render("help.j2"))
