"""App Home: what a member sees when they open Hearth."""

from slack_bolt import App

from slack_app import home
from slack_app.request_path import AfterAck
from slack_app.services import Services
from slack_app.slack_port import SlackPort


def register(app: App) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict, services: Services, slack: SlackPort, team_id: str, after_ack: AfterAck) -> None:
        """Drawing the Home (database reads, users.info, views.publish) runs after the ack, on the bounded
        after-ack pool or (`hearth serve`/`run`) in the lower-priority Home process: a burst of Home opens never
        takes the threads or the CPU that ack commands. A Home that could not be published (queue full,
        Slack's 429) is drawn again at the member's next open. The event carries the Home Slack shows: an
        unchanged one is not published again (`home.show`)."""
        if event.get("tab") != "home":
            return
        shown = (event.get("view") or {}).get("private_metadata")
        after_ack.low_priority("home.publish", home.show, services, slack, team_id, event["user"], shown)
