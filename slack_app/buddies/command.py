"""`/hearth buddies [2..8] [weekly|biweekly|fourweekly] [mon] [10:00] [Europe/Berlin] [opt-in] [#team | mix=title]
[window=12]` or `/hearth buddies off`,
typed by an admin in a channel: turn that channel's buddy introductions on (or change them) or off.

The listener acks first; this runs after the ack and answers privately, in words from `buddies_admin.j2`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import admins
from slack_app.buddies import rules, usecases
from slack_app.scheduling.cadence import WEEKDAYS
from slack_app.slack_port import SlackError, SlackPort

if TYPE_CHECKING:
    from slack_app.services import Services


def configure_here(services: Services, slack: SlackPort, team_id: str, user_id: str, channel_id: str | None,
                   words: list[str]) -> str:
    def answer(outcome: str, **ctx: object) -> str:
        return services.copy.render("buddies_admin.j2", outcome=outcome, channel_id=channel_id, **ctx)

    try:
        if not admins.is_admin(services, slack, team_id, user_id, strict=True):
            return answer("not_admin")
    except SlackError:
        return answer("slack_busy")
    if not channel_id or channel_id[:1] not in ("C", "G"):
        return answer("usage")
    if words[:1] == ["off"]:
        return answer("disabled" if usecases.disable(services, team_id, channel_id) else "none")
    current = usecases.program(services, team_id, channel_id)
    try:
        chosen = rules.read_words(words, usecases.settings_of(current) if current else None,
                                  services.settings.HEARTH_TIMEZONE)
    except rules.SettingsError as exc:
        return answer("bad_word" if exc.code == "unknown_word" else exc.code, word=exc.field)
    _, created = usecases.enable(services, team_id, channel_id, chosen)
    return answer("enabled", created=created, size=chosen.size, cadence=chosen.cadence,
                  day=WEEKDAYS[chosen.weekday], time=chosen.local_time, tz=chosen.timezone, opt_in=chosen.opt_in,
                  mix_channel=chosen.mix_channel, mix_field=chosen.mix_field, window=chosen.window)
