"""The one calendar of Hearth's rituals: when a cadence recurs, in its own time zone. Pure: no I/O, no APScheduler.

    weekly       every <weekday> at <HH:MM>
    biweekly     every second <weekday>, counted from the week of `anchor`
    fourweekly   every fourth <weekday>, counted from the week of `anchor`
    monthly      the first <weekday> of each month

Times are wall-clock times in `tz` (an IANA zone): a Monday 10:00 Europe/Berlin cadence recurs at 09:00 UTC
in winter and 08:00 UTC in summer. Each matching local day has exactly one occurrence:

- a wall-clock time that does not exist (skipped by a spring-forward change: 02:30 in Europe/Berlin on the
  last Sunday of March) occurs at wall time + the gap, i.e. the instant 02:30 would have been on the old
  offset (03:30 CEST; 02:30 + 30 min on Australia/Lord_Howe's half-hour change);
- a wall-clock time that exists twice (autumn) occurs once, at its first occurrence.

API: `next_after(cadence, instant)` (strictly after), `previous_at_or_before(cadence, instant)`,
`occurrences(cadence, start, end)`, `period(cadence)` (the shortest gap between two occurrences) and
`local_instant(day, at, tz)`. Every instant returned is timezone-aware UTC. The APScheduler trigger that
wakes jobs on a cadence is an adapter beside this module (`slack_app.scheduling.trigger`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class Kind(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"  # every two weeks, counted from the anchor's week
    FOURWEEKLY = "fourweekly"  # every four weeks, counted from the anchor's week
    MONTHLY = "monthly"  # the first <weekday> of each month


KINDS = tuple(k.value for k in Kind)
WEEKS: dict[str, int] = {Kind.WEEKLY.value: 1, Kind.BIWEEKLY.value: 2, Kind.FOURWEEKLY.value: 4}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_ANCHOR = date(2024, 1, 1)  # a Monday; the week every-N-weeks cadences count from when none is given


@dataclass(frozen=True)
class Cadence:
    """When a ritual recurs. `weekday` is 0 = Monday … 6 = Sunday; `at` is "HH:MM" on the clock of `tz`."""

    kind: str
    weekday: int
    at: str
    tz: str = "UTC"
    anchor: date | None = None  # a day in the first week that counts, for biweekly / fourweekly

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown cadence {self.kind!r}; use one of {', '.join(KINDS)}")
        object.__setattr__(self, "kind", str(Kind(self.kind).value))  # a plain str, whatever was given
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday is 0 (Monday) to 6 (Sunday)")
        _parse_at(self.at)
        ZoneInfo(self.tz)  # raises for an unknown zone

    @property
    def local_time(self) -> time:
        return _parse_at(self.at)

    @property
    def hour(self) -> int:
        return self.local_time.hour

    @property
    def minute(self) -> int:
        return self.local_time.minute

    @property
    def weeks(self) -> int | None:
        """Every how many weeks (None for monthly)."""
        return WEEKS.get(self.kind)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["anchor"] = self.anchor.isoformat() if self.anchor else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Cadence:
        anchor = d.get("anchor")
        return cls(d["kind"], int(d["weekday"]), d["at"], d.get("tz") or "UTC",
                   date.fromisoformat(anchor) if isinstance(anchor, str) else anchor)

    def describe(self) -> str:
        day = WEEKDAYS[self.weekday]
        what = {"weekly": f"every {day}", "biweekly": f"every 2nd {day}", "fourweekly": f"every 4th {day}",
                "monthly": f"first {day} of the month"}[self.kind]
        return f"{what} {self.at} {self.tz}"


def _parse_at(at: str) -> time:
    try:
        hour, minute = at.split(":")
        return time(int(hour), int(minute))
    except (ValueError, AttributeError):
        raise ValueError(f"time {at!r} is not HH:MM") from None


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def local_instant(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of a wall-clock time on a local day (see the module's DST rule: `fold=0`)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def falls_on(cadence: Cadence, day: date) -> bool:
    """Whether the cadence occurs on this local day."""
    if day.weekday() != cadence.weekday:
        return False
    if cadence.weeks is None:  # monthly: the first such weekday
        return day.day <= 7
    return ((_monday(day) - _monday(cadence.anchor or DEFAULT_ANCHOR)).days // 7) % cadence.weeks == 0


def occurrence_on(cadence: Cadence, day: date) -> datetime | None:
    """The one occurrence of a local day, or None when the cadence does not fall on it."""
    return local_instant(day, cadence.local_time, cadence.tz) if falls_on(cadence, day) else None


def period(cadence: Cadence) -> timedelta:
    """The shortest gap between two occurrences (a round's window must fit in it)."""
    return timedelta(weeks=cadence.weeks or 4)


def _span_days(cadence: Cadence) -> int:
    """More local days than the longest gap between two occurrences, plus a day either side for offsets."""
    return 7 * (cadence.weeks or 5) + 2


def _local_day(cadence: Cadence, instant: datetime) -> date:
    if instant.tzinfo is None:
        raise ValueError("instants are timezone-aware")
    return instant.astimezone(ZoneInfo(cadence.tz)).date()


def next_after(cadence: Cadence, instant: datetime) -> datetime:
    """The first occurrence strictly after `instant`."""
    day = _local_day(cadence, instant) - timedelta(days=1)
    for offset in range(_span_days(cadence) + 1):
        fire = occurrence_on(cadence, day + timedelta(days=offset))
        if fire is not None and fire > instant:
            return fire
    raise AssertionError("every cadence occurs within its span")  # pragma: no cover


def previous_at_or_before(cadence: Cadence, instant: datetime) -> datetime:
    """The latest occurrence at or before `instant` (the occurrence a late run belongs to)."""
    day = _local_day(cadence, instant) + timedelta(days=1)
    for offset in range(_span_days(cadence) + 1):
        fire = occurrence_on(cadence, day - timedelta(days=offset))
        if fire is not None and fire <= instant:
            return fire
    raise AssertionError("every cadence occurs within its span")  # pragma: no cover


def occurrences(cadence: Cadence, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every occurrence in [start, end], in order."""
    fire = next_after(cadence, start - timedelta(microseconds=1))
    while fire <= end:
        yield fire
        fire = next_after(cadence, fire)


def __getattr__(name: str) -> Any:
    # Job stores pickled before the trigger moved to its own module name it `slack_app.scheduling.cadence`;
    # importing it lazily keeps them loadable while this module stays free of APScheduler.
    if name == "CadenceTrigger":
        from slack_app.scheduling.trigger import CadenceTrigger

        return CadenceTrigger
    raise AttributeError(name)
