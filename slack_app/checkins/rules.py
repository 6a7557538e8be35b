"""Pure rules of check-ins: schedules, rotation, validation, audiences, counts and streaks.

Nothing here imports Slack or SQLAlchemy; every function takes and returns plain data, so the rules
are tested directly (tests/test_checkin_rules.py) and shared by the use cases, the CLI and the views.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_app.scheduling import cadence as calendar

# ---- settings -------------------------------------------------------------------------------------------

# The calendar is the shared one (slack_app.scheduling.cadence); check-ins only name its kinds.
Cadence = calendar.Kind
CADENCE_WEEKS = calendar.WEEKS
WEEKDAYS = calendar.WEEKDAYS


class Sharing(StrEnum):
    """How a member's answers are shared, from most open to most private."""

    NAMED = "named"  # in the round's thread under the member's name
    ANONYMOUS = "anonymous"  # in the round's thread without a name
    FACILITATOR = "facilitator"  # only the round's facilitator sees them, by DM


SHARING_ORDER = (Sharing.NAMED, Sharing.ANONYMOUS, Sharing.FACILITATOR)

DEFAULT_WINDOW = timedelta(hours=48)
DEFAULT_REMIND_BEFORE = timedelta(hours=24)
MIN_WINDOW = timedelta(hours=1)
DEFAULT_TIME = time(10, 0)


def allowed_sharing(circle_default: Sharing) -> list[Sharing]:
    """A member may always share more privately than the circle's setting, never more openly."""
    return list(SHARING_ORDER[SHARING_ORDER.index(Sharing(circle_default)):])


def cadence_period(cadence: Cadence) -> timedelta:
    """The shortest gap between two openings, which a round's window must fit in."""
    return calendar.period(calendar.Cadence(Cadence(cadence), 0, "00:00"))


_DURATION = re.compile(r"^\s*(\d{1,4})\s*([mhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta | None:
    """`48h`, `2d`, `90m`, `1w`, or a bare number of hours; None when it is none of those."""
    match = _DURATION.match(text or "")
    if not match:
        return None
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def format_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def parse_local_time(text: str) -> time | None:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text or "")
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def parse_weekday(text: str) -> int | None:
    key = (text or "").strip().lower()[:3]
    return WEEKDAYS.index(key) if key in WEEKDAYS else None


def is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return bool(name)


@dataclass(frozen=True)
class Schedule:
    """When a circle's rounds open and for how long; `anchor` is the week biweekly/fourweekly count from."""

    cadence: Cadence
    weekday: int  # 0 = Monday
    local_time: time
    tz: str
    window: timedelta = DEFAULT_WINDOW
    remind_before: timedelta = DEFAULT_REMIND_BEFORE
    anchor: date = calendar.DEFAULT_ANCHOR

    @property
    def recurrence(self) -> calendar.Cadence:
        """The schedule's cadence on the shared calendar."""
        return calendar.Cadence(Cadence(self.cadence), self.weekday, self.local_time.strftime("%H:%M"), self.tz,
                                self.anchor)


@dataclass(frozen=True)
class CircleSettings:
    schedule: Schedule
    sharing: Sharing = Sharing.NAMED
    rotate_facilitator: bool = True


def validate_settings(
    *, cadence: str, day: str, local_time: str, tz: str, window: str, remind_before: str | None,
    sharing: str, rotate_facilitator: bool, anchor: date,
) -> tuple[CircleSettings | None, dict[str, str]]:
    """Parse settings typed by an admin (CLI or modal); errors map a field name to an error code."""
    errors: dict[str, str] = {}
    if cadence not in set(Cadence):
        errors["cadence"] = "unknown_cadence"
    weekday = parse_weekday(day)
    if weekday is None:
        errors["day"] = "unknown_day"
    at = parse_local_time(local_time)
    if at is None:
        errors["time"] = "bad_time"
    if not is_time_zone(tz):
        errors["timezone"] = "unknown_timezone"
    span = parse_duration(window)
    if span is None:
        errors["window"] = "bad_duration"
    elif span < MIN_WINDOW or (cadence in set(Cadence) and span > cadence_period(Cadence(cadence))):
        errors["window"] = "window_out_of_range"  # a round must close before the next one opens
    if remind_before in (None, ""):
        remind = min(DEFAULT_REMIND_BEFORE, span / 2) if span else None
    else:
        remind = parse_duration(remind_before)
        if remind is None:
            errors["remind_before"] = "bad_duration"
        elif span is not None and not timedelta(0) < remind < span:
            errors["remind_before"] = "reminder_out_of_range"
    if sharing not in set(Sharing):
        errors["sharing"] = "unknown_sharing"
    elif Sharing(sharing) is Sharing.FACILITATOR and not rotate_facilitator:
        errors["sharing"] = "facilitator_needs_rotation"  # without a facilitator nobody would read them
    if errors:
        return None, errors
    schedule = Schedule(Cadence(cadence), weekday, at, tz, span, remind, anchor)  # type: ignore[arg-type]
    return CircleSettings(schedule, Sharing(sharing), rotate_facilitator), {}


# ---- round timing ---------------------------------------------------------------------------------------


def local_instant(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of a wall-clock time. A time skipped by a spring-forward change lands later on the
    clock by the length of the gap; a time repeated by a fall-back change means its first occurrence."""
    return calendar.local_instant(day, at, tz)


def is_round_day(schedule: Schedule, day: date) -> bool:
    return calendar.falls_on(schedule.recurrence, day)


def next_open(schedule: Schedule, after: datetime) -> datetime:
    """The first opening strictly after `after` (UTC)."""
    return calendar.next_after(schedule.recurrence, after)


@dataclass(frozen=True)
class RoundTimes:
    opens_at: datetime
    remind_at: datetime
    closes_at: datetime


def round_times(opens_at: datetime, window: timedelta, remind_before: timedelta) -> RoundTimes:
    closes_at = opens_at + window
    return RoundTimes(opens_at, max(opens_at, closes_at - remind_before), closes_at)


def snooze_until(now: datetime, tz: str, days: int = 14) -> datetime:
    """Snoozing lasts until the member's local midnight `days` days from now."""
    zone = tz if is_time_zone(tz) else "UTC"
    return local_instant(now.astimezone(ZoneInfo(zone)).date() + timedelta(days=days), time(0, 0), zone)


# ---- rotation -------------------------------------------------------------------------------------------


def next_facilitator(candidates: Iterable[str], history: Sequence[str]) -> str | None:
    """Fair rotation: whoever facilitated least recently (never = first), ties broken by id.

    With a stable membership of n people, any n consecutive picks name each of them once, so nobody
    facilitates twice before everyone has once; a newcomer is picked before anyone facilitates again.
    """
    last = {user: index for index, user in enumerate(history)}
    return min(set(candidates), key=lambda user: (last.get(user, -1), user), default=None)


# ---- audiences ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """What decides whether Hearth may write to someone about check-ins."""

    user_id: str
    is_human: bool = True
    opted_out: bool = False
    paused: bool = False
    snoozed_until: datetime | None = None

    def reachable(self, now: datetime) -> bool:
        snoozed = self.snoozed_until is not None and self.snoozed_until > now
        return self.is_human and not (self.opted_out or self.paused or snoozed)


def invitees(people: Iterable[Person], now: datetime) -> list[str]:
    return sorted({p.user_id for p in people if p.reachable(now)})


@dataclass(frozen=True)
class Participant:
    person: Person
    checked_in: bool = False
    left: bool = False
    reminded: bool = False


def reminder_targets(participants: Iterable[Participant], now: datetime) -> list[str]:
    """One gentle reminder, only to reachable members still in the circle who have not checked in."""
    return sorted(
        p.person.user_id for p in participants
        if p.person.reachable(now) and not (p.checked_in or p.left or p.reminded)
    )


# ---- check-in input -------------------------------------------------------------------------------------

LIMITS = {"gratitude": 1000, "challenge": 1000, "offer": 300}
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad]")


def clean_text(text: str | None) -> str:
    """Trim, and treat zero-width characters as nothing: a check-in of only those is empty."""
    return _INVISIBLE.sub("", text or "").strip()


@dataclass(frozen=True)
class CheckinAnswers:
    gratitude: str
    challenge: str | None
    offer: str | None
    sharing: Sharing


def validate_checkin(
    gratitude: str | None, challenge: str | None, offer: str | None, sharing: str | None,
    allowed: Sequence[Sharing],
) -> tuple[CheckinAnswers | None, dict[str, str]]:
    """Clean the answers; errors map a field name to `required`, `too_long` or `not_allowed`."""
    values = {"gratitude": clean_text(gratitude), "challenge": clean_text(challenge), "offer": clean_text(offer)}
    errors: dict[str, str] = {}
    if not values["gratitude"]:
        errors["gratitude"] = "required"
    for field, text in values.items():
        if len(text) > LIMITS[field]:
            errors[field] = "too_long"
    chosen = sharing or (allowed[0].value if allowed else None)
    if chosen is None or chosen not in {s.value for s in allowed}:
        errors["sharing"] = "not_allowed"
    if errors or chosen is None:
        return None, errors
    return CheckinAnswers(values["gratitude"], values["challenge"] or None, values["offer"] or None,
                          Sharing(chosen)), {}


def is_shared_in_thread(sharing: Sharing) -> bool:
    return Sharing(sharing) in (Sharing.NAMED, Sharing.ANONYMOUS)


def offer_is_browsable(sharing: Sharing) -> bool:
    """Offers are listed on App Home with a name, so only check-ins shared under a name list theirs."""
    return Sharing(sharing) is Sharing.NAMED


# ---- counts and streaks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    checked_in: int
    challenges_shared: int
    help_offered: int
    help_accepted: int


def summarize(has_challenge: Iterable[bool], offer_accepted: Iterable[bool]) -> Summary:
    """Counts only: one flag per check-in (does it share a challenge) and per help offer (accepted)."""
    checkins = list(has_challenge)
    offers = list(offer_accepted)
    return Summary(len(checkins), sum(checkins), len(offers), sum(offers))


def streak(took_part: Sequence[bool], open_round_checked_in: bool = False) -> int:
    """Rounds in a row a member checked in, newest first, over the closed rounds they were invited to.

    A round still open does not break a streak yet; checking in to it adds one.
    """
    count = 1 if open_round_checked_in else 0
    for flag in reversed(took_part):
        if not flag:
            break
        count += 1
    return count


def participation_rate(invited: int, checked_in: int) -> int:
    """Whole percent of invited members who checked in (0 when nobody was invited)."""
    return round(100 * checked_in / invited) if invited else 0
