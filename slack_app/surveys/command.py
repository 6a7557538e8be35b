"""`/hearth survey …` typed by an admin in a channel, for that channel's members:

    /hearth survey NAME [5d] [min=K] [workspace]          launch a shipped survey now (`workspace`: for everyone)
    /hearth survey schedule NAME [every-4-weeks] [mon] [10:00] [Europe/Berlin] [5d] [min=K]
                                                          launch it on the shared cadence (words in any order)
    /hearth survey unschedule NAME                        stop that

The listener acks first; this runs after the ack (it lists the channel) and answers privately. Results go to
the admin who typed it, by DM, when the survey closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import admins
from slack_app.scheduling.cadence import WEEKDAYS
from slack_app.slack_port import SlackError, SlackPort
from slack_app.surveys import schedules, usecases
from storage.models import utcnow
from surveys import timing
from surveys.loader import builtin_names

if TYPE_CHECKING:
    from slack_app.services import Services

WORKSPACE = "workspace"  # the word that makes the audience everyone in the workspace, wherever it is typed


def _reply(services: Services, reply: str, **ctx: object) -> str:
    return services.copy.render("survey_command.j2", reply=reply, **ctx)


def survey_here(services: Services, slack: SlackPort, team_id: str, user_id: str, channel_id: str | None,
                words: list[str]) -> str:
    """The private answer to the admin: what was launched or scheduled, or why not. `words` as typed (a time
    zone's case matters)."""
    try:
        if not admins.is_admin(services, slack, team_id, user_id, strict=True):
            return _reply(services, "not_admin")
    except SlackError:
        return _reply(services, "slack_busy")
    lowered = [w.lower() for w in words]
    for_workspace = bool(lowered) and lowered[0] not in ("schedule", "unschedule") and WORKSPACE in lowered[1:]
    in_a_channel = (channel_id or "")[:1] in ("C", "G")
    if not words or not (in_a_channel or for_workspace):
        return _reply(services, "usage")
    if lowered[0] in ("schedule", "unschedule"):
        return _schedule_here(services, team_id, user_id, channel_id or "", lowered[0], words[1:])
    return _launch_here(services, slack, team_id, user_id, None if for_workspace else channel_id,
                        [w for w in lowered if w != WORKSPACE])


def _launch_here(services: Services, slack: SlackPort, team_id: str, user_id: str, channel_id: str | None,
                 words: list[str]) -> str:
    """Launch for `channel_id`'s members, or everyone in the workspace (`channel_id` None)."""
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
                  invited=result.invited, run_id=result.run_id, workspace=channel_id is None)


def _schedule_here(services: Services, team_id: str, user_id: str, channel_id: str, verb: str,
                   words: list[str]) -> str:
    if not words or words[0].lower() not in builtin_names():
        return _reply(services, "unknown_survey", survey=words[0] if words else "", shipped=builtin_names())
    name, rest = words[0].lower(), words[1:]
    if verb == "unschedule":
        done = schedules.unschedule(services, team_id, name, channel_id)
        return _reply(services, "unscheduled" if done else "not_scheduled", survey=name)
    settings: dict[str, str] = {"cadence": "every-4-weeks", "day": "mon", "time": "10:00",
                                "timezone": services.settings.HEARTH_TIMEZONE}
    closes: str | None = None
    k: int | None = None
    for word in rest:
        low = word.lower()
        if low in schedules.CADENCES:
            settings["cadence"] = low
        elif low[:3] in WEEKDAYS and low.isalpha() and len(low) >= 3:
            settings["day"] = low
        elif ":" in low:
            settings["time"] = low
        elif low.startswith("min="):
            k = int(low[4:]) if low[4:].isdigit() else -1
        elif low[:-1].isdigit() and low[-1:] in ("d", "h"):
            closes = low
        elif "/" in word or word.upper() == "UTC":
            settings["timezone"] = word
        else:
            return _reply(services, "bad_word", word=word)
    instrument, source = usecases.load_survey(name)
    length = timing.parse_closes(closes, instrument.settings.closes_after_days)
    if length is None:
        return _reply(services, "bad_duration", closes=closes)
    try:
        cadence = schedules.cadence_from(settings["cadence"], settings["day"], settings["time"],
                                         settings["timezone"], anchor=utcnow().date())
        shown, _ = schedules.schedule(services, team_id, instrument, source, channel_id=channel_id, cadence=cadence,
                                      closes=length, min_responses=k, created_by=user_id)
    except schedules.ScheduleError as exc:
        return _reply(services, "bad_schedule", field=exc.field, value=exc.value)
    return _reply(services, "scheduled", title=instrument.title, when=shown.when,
                  next=f"{shown.next_launch:%a %d %b %H:%M}", days=length.days, hours=length.seconds // 3600)
