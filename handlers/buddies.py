"""`/buddies` until buddy introductions are built: an honest private note, whatever the sub-command."""

from slack_bolt import Ack, App

from slack_app.ids import Command
from slack_app.services import Services


def register(app: App) -> None:
    @app.command(Command.BUDDIES.value)
    def on_buddies(ack: Ack, services: Services) -> None:
        ack(response_type="ephemeral", text=services.copy.render("buddies_setting_up.j2"))
