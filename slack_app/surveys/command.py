"""`/hearth survey NAME [5d] [min=K]` typed by an admin in a channel: launch a shipped survey for that channel.

The listener acks first; this runs after the ack (it lists the channel) and answers privately. Results go to
the admin who typed it, by DM, when the survey closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import admins
from slack_app.slack_port import SlackError, SlackPort
from slack_app.surveys import usecases
from surveys import timing
from surveys.loader import builtin_names

if TYPE_CHECKING:
    from slack_app.services import Services

def _reply(services: Services, reply: str, **ctx: object) -> str:
    return services.copy.render("survey_command.j2", reply=reply, **ctx)


def launch_here(services: Services, slack: SlackPort, team_id: str, user_id: str, channel_id: str | None,
                words: list[str]) -> str:
    """The private answer to the admin: what was launched, or why not."""
    try:
        if not admins.is_admin(services, slack, team_id, user_id, strict=True):
            return _reply(services, "not_admin")
    except SlackError:
        return _reply(services, "slack_busy")
    if not words or not channel_id or channel_id[:1] not in ("C", "G"):
        return _reply(services, "usage")
    name, rest = words[0], words[1:]
    if name not in builtin_names():
        return _reply(services, "unknown_survey", survey=name, shipped=builtin_names())
    closes: str | None = None
    k: int | None = None
    for word in rest:
        if word.startswith("min="):
            k = int(word[4:]) if word[4:].isdigit() else -1
        else:
            closes = word
    instrument, source = usecases.load_survey(name)
    length = timing.parse_closes(closes, instrument.settings.closes_after_days)
    if length is None:
        return _reply(services, "bad_duration", closes=closes)
    result = usecases.launch(services, slack, team_id, instrument, source, channel_id=channel_id, closes=length,
                             min_responses=k, launched_by=user_id)
    if result.status != "launched":
        return result.message[:1].upper() + result.message[1:]
    return _reply(services, "launched", title=instrument.title, days=length.days, hours=length.seconds // 3600,
                  invited=result.invited, run_id=result.run_id)
