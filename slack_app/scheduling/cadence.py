"""Cadences of rituals as APScheduler 3 triggers, in the program's own time zone: pure, no I/O.

    weekly       every <weekday> at <HH:MM>
    biweekly     every second <weekday>, counted from the week of `anchor`
    fourweekly   every fourth <weekday>, counted from the week of `anchor`
    monthly      the first <weekday> of each month

Times are wall-clock times in `tz` (an IANA zone): a Monday 10:00 Europe/Berlin cadence fires at 09:00
UTC in winter and 08:00 UTC in summer. A wall-clock time that does not exist on a spring-forward day
(02:30 in Europe/Berlin on the last Sunday of March) fires once, at the instant 02:30 would have been
before the clocks moved (03:30 CEST); one that exists twice in autumn fires once, at its first occurrence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

KINDS = ("weekly", "biweekly", "fourweekly", "monthly")
WEEKS = {"weekly": 1, "biweekly": 2, "fourweekly": 4}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday is 0 (Monday) to 6 (Sunday)")
        _parse_at(self.at)
        ZoneInfo(self.tz)  # raises for an unknown zone

    @property
    def hour(self) -> int:
        return _parse_at(self.at).hour

    @property
    def minute(self) -> int:
        return _parse_at(self.at).minute

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


def trigger_for(cadence: Cadence) -> CadenceTrigger:
    return CadenceTrigger(cadence)


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


_MICROSECOND = timedelta(microseconds=1)


class CadenceTrigger(BaseTrigger):
    """An APScheduler 3 trigger that walks the calendar of the cadence's time zone day by day.

    Written instead of wrapping CronTrigger because APScheduler 3.11's CronTrigger, with zoneinfo, fires
    twice for a wall-clock time in the autumn fold and then returns the same instant forever (which hangs
    the scheduler thread). Here each matching local day yields exactly one instant (`fold=0`: the first
    of two, and for a time that does not exist, the same instant as before the clocks moved), and fire
    times strictly increase.
    """

    def __init__(self, cadence: Cadence) -> None:
        self.cadence = cadence
        self._tz = ZoneInfo(cadence.tz)

    def matches(self, day: date) -> bool:
        c = self.cadence
        if day.weekday() != c.weekday:
            return False
        if c.kind == "monthly":
            return day.day <= 7
        weeks = WEEKS[c.kind]
        anchor = _monday(c.anchor or date(2024, 1, 1))
        return ((_monday(day) - anchor).days // 7) % weeks == 0

    def at(self, day: date) -> datetime:
        return datetime.combine(day, time(self.cadence.hour, self.cadence.minute), tzinfo=self._tz)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # APScheduler asks for the first fire time after the previous one (even if that is before `now`,
        # so it can see misfires), or the first at or after `now` for a new job.
        after = previous_fire_time + _MICROSECOND if previous_fire_time else now
        first = after.astimezone(self._tz).date() - timedelta(days=1)
        for offset in range(7 * 4 + 45):
            day = first + timedelta(days=offset)
            if self.matches(day):
                fire = self.at(day)
                if fire.timestamp() >= after.timestamp():
                    return fire
        return None  # pragma: no cover - every cadence has a day within eight weeks

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "cadence": self.cadence.to_dict()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("version", 1) > 1:
            raise ValueError(f"cannot restore CadenceTrigger version {state['version']}")
        self.__init__(Cadence.from_dict(state["cadence"]))  # type: ignore[misc]

    def __str__(self) -> str:
        return self.cadence.describe()

    def __repr__(self) -> str:
        return f"<CadenceTrigger {self.cadence.describe()}>"


def fire_times(trigger: BaseTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time of `trigger` in [start, end]."""
    out: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        out.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return out


def latest_fire_time(trigger: BaseTrigger, now: datetime, *, within: timedelta) -> datetime | None:
    """The most recent fire time in (now - within, now], i.e. the occurrence a late run belongs to."""
    times = fire_times(trigger, now - within, now)
    return times[-1] if times else None
