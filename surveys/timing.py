"""When a run closes and when its reminders fall due: pure calendar rules (no Slack, no database).

Reminders go only to people who have not taken part: the first `FIRST_REMINDER_AFTER` in, the final one
`FINAL_REMINDER_BEFORE` close. A reminder whose moment falls outside the run (a 2-day survey has no
"3 days in") is not sent; when both fall due together (Hearth was down), only the final one goes.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from surveys.model import CLOSES_AFTER_DAYS_RANGE

FIRST_REMINDER_AFTER = timedelta(days=3)
FINAL_REMINDER_BEFORE = timedelta(days=1)
_DURATION = re.compile(r"^\s*(\d{1,4})\s*([dh])\s*$")


def parse_closes(raw: str | None, default_days: int) -> timedelta | None:
    """`5d` or `36h` (default: the survey's own days) → how long a run stays open, or None when it is not a
    duration within 1 to 30 days."""
    if raw is None or not raw.strip():
        length = timedelta(days=default_days)
    else:
        match = _DURATION.match(raw.lower())
        if match is None:
            return None
        n = int(match.group(1))
        length = timedelta(days=n) if match.group(2) == "d" else timedelta(hours=n)
    low, high = CLOSES_AFTER_DAYS_RANGE
    return length if timedelta(days=low) <= length <= timedelta(days=high) else None


def first_reminder_at(opened_at: datetime, closes_at: datetime) -> datetime | None:
    at = opened_at + FIRST_REMINDER_AFTER
    return at if at < closes_at - FINAL_REMINDER_BEFORE else None


def final_reminder_at(opened_at: datetime, closes_at: datetime) -> datetime | None:
    at = closes_at - FINAL_REMINDER_BEFORE
    return at if at > opened_at else None


def reminder_due(opened_at: datetime, closes_at: datetime, now: datetime, *, first_done: bool,
                 final_done: bool) -> str | None:
    """"final", "first" or None: which reminder to send at `now` (never after close)."""
    if now >= closes_at:
        return None
    final = final_reminder_at(opened_at, closes_at)
    if final is not None and now >= final and not final_done:
        return "final"
    first = first_reminder_at(opened_at, closes_at)
    if first is not None and now >= first and not first_done and not final_done:
        return "first"
    return None
