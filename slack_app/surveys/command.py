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

USAGE = "Usage: `/hearth survey NAME [5d] [min=5]` in the channel whose members it is for (admins only)."


def launch_here(services: Services, slack: SlackPort, team_id: str, user_id: str, channel_id: str | None,
                words: list[str]) -> str:
    """The private answer to the admin: what was launched, or why not."""
    try:
        if not admins.is_admin(services, slack, team_id, user_id, strict=True):
            return "Only Hearth admins can launch surveys."
    except SlackError:
        return "Slack is busy right now; please try again in a minute."
    if not words or not channel_id or channel_id[:1] not in ("C", "G"):
        return USAGE
    name, rest = words[0], words[1:]
    if name not in builtin_names():
        return f"There is no survey called `{name}`; shipped surveys: {', '.join(builtin_names())}. {USAGE}"
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
        return f"`{closes}` is not a duration from 1d to 30d (like 5d or 36h). {USAGE}"
    result = usecases.launch(services, slack, team_id, instrument, source, channel_id=channel_id, closes=length,
                             min_responses=k, launched_by=user_id)
    if result.status != "launched":
        return result.message[:1].upper() + result.message[1:]
    return (f"The survey *{instrument.title}* is open for this channel until "
            f"{(length.days and f'{length.days} days') or f'{length.seconds // 3600} hours'} from now: "
            f"{result.invited} invitations are on their way by DM. You will get the results by DM when it closes "
            f"(id `{result.run_id}` for `hearth surveys`).")
