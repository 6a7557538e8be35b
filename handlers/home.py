"""App Home: what a member sees when they open Hearth."""

from slack_bolt import App

from slack_app import home
from slack_app.services import Services
from slack_app.slack_port import SlackPort


def register(app: App) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict, services: Services, slack: SlackPort, team_id: str) -> None:
        if event.get("tab") != "home":
            return
        home.show(services, slack, team_id, event["user"])
