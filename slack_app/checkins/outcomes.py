"""What the check-in use cases answer, as domain values: the views turn them into Block Kit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from slack_app.checkins.rules import Sharing

if TYPE_CHECKING:
    from storage.checkins import CheckinText


@dataclass(frozen=True)
class Draft:
    """The check-in form of one open round, with what the member wrote before (if anything)."""

    round_id: int
    channel_id: str
    closes_at: datetime
    existing: CheckinText | None
    existing_sharing: str | None
    allowed: list[Sharing]


@dataclass(frozen=True)
class Refused:
    """No form: `reason` is round_missing, round_closed or not_in_circle."""

    reason: str


@dataclass(frozen=True)
class NothingOpen:
    """No open round for this member (`paused`: because they paused check-ins)."""

    paused: bool


@dataclass(frozen=True)
class Choice:
    """Several rounds are open for this member: (round id, channel id) of each."""

    rounds: list[tuple[int, str]]


Start = Draft | Refused | NothingOpen | Choice
