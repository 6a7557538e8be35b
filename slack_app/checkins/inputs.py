"""What people asked for, as typed values: parsed from modals (`views`) or CLI options, validated by the rules."""

from __future__ import annotations

from dataclasses import dataclass

from slack_app.checkins.rules import Sharing


@dataclass(frozen=True)
class CheckinForm:
    """The check-in modal's answers, not yet validated (blank answers are None)."""

    gratitude: str | None = None
    challenge: str | None = None
    offer: str | None = None
    sharing: str | None = None


@dataclass(frozen=True)
class SettingsInput:
    """A circle's settings from the settings modal or `hearth checkins enable`, not yet validated."""

    cadence: str = "weekly"
    day: str = "mon"
    local_time: str = "10:00"
    tz: str | None = None  # the workspace's HEARTH_TIMEZONE when not given
    window: str = "48h"
    remind_before: str | None = None
    sharing: str = Sharing.NAMED.value
    rotate: bool = True
    enabled: bool = True
