"""Membership events: Hearth keeps the ids of members it has seen (never names)."""

from slack_bolt import App

from storage import members


def register(app: App) -> None:
    @app.event("member_joined_channel")
    def on_member_joined(event, context):  # noqa: ANN001
        members.remember(context["services"].db, context["team_id"], event["user"])
