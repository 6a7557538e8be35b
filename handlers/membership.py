"""Membership and profile events: they keep the roster (`slack_app.roster`) current without asking Slack.

`user_change` / `team_join` carry a whole user object, so a profile (time zone, bot, deactivated, admin) is
fresh the moment it changes; `member_joined_channel` / `member_left_channel` keep channel listings current,
so a person removed from a circle's channel stops seeing it at once. Ids only: names are never stored.
"""

from slack_bolt import App

from slack_app import roster
from slack_app.buddies import usecases as buddies
from slack_app.checkins import rounds
from slack_app.request_path import AfterAck
from slack_app.services import Services
from slack_app.slack_port import SlackPort


def register(app: App) -> None:
    @app.event("user_change")
    @app.event("team_join")
    def on_profile(event: dict, services: Services, team_id: str) -> None:
        roster.profile_changed(services, team_id, event.get("user") or {})

    @app.event("member_joined_channel")
    def on_member_joined(event: dict, services: Services, slack: SlackPort, team_id: str,
                         after_ack: AfterAck) -> None:
        roster.member_joined(services, team_id, event["channel"], event["user"])
        # Bolt runs one listener per event: a buddy program's channel introduces newcomers to a welcomer.
        after_ack.submit("buddies.welcome", buddies.member_joined, services, slack, team_id, event["channel"],
                         event["user"])

    @app.event("member_left_channel")
    def on_member_left(event: dict, services: Services, team_id: str) -> None:
        # Bolt runs one listener per event, so the workflows that follow departures are told from here.
        roster.member_left(services, team_id, event["channel"], event["user"])
        rounds.member_left(services, team_id, event["channel"], event["user"])
