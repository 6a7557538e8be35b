"""App Home: what a member sees when they open Hearth."""

from slack_bolt import App

from slack_app import home


def register(app: App) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event, context):  # noqa: ANN001
        if event.get("tab") != "home":
            return
        home.show(context["services"], context["slack"], context["team_id"], event["user"])
