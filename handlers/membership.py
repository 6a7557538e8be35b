"""Membership events: Hearth keeps the ids of members it has seen (never names)."""

from slack_bolt import App

from slack_app.services import Services
from storage import members


def register(app: App) -> None:
    @app.event("member_joined_channel")
    def on_member_joined(event: dict, services: Services, team_id: str) -> None:
        members.remember(services.db, team_id, event["user"])
