"""The APScheduler 3 adapter of `slack_app.scheduling.cadence`: a trigger that fires on a cadence's occurrences.

Written instead of wrapping CronTrigger because APScheduler 3.11's CronTrigger, with zoneinfo, fires twice for
a wall-clock time in the autumn fold and then returns the same instant forever (which hangs the scheduler
thread). This trigger asks the pure calendar, so it fires exactly at the cadence's occurrences (one per
matching local day, strictly increasing) and nowhere else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from slack_app.scheduling import cadence as calendar
from slack_app.scheduling.cadence import Cadence

_MICROSECOND = timedelta(microseconds=1)


class CadenceTrigger(BaseTrigger):
    def __init__(self, cadence: Cadence) -> None:
        self.cadence = cadence
        self._tz = ZoneInfo(cadence.tz)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # APScheduler asks for the first fire time after the previous one (even if that is before `now`,
        # so it can see misfires), or the first at or after `now` for a new job.
        after = previous_fire_time if previous_fire_time else now - _MICROSECOND
        return calendar.next_after(self.cadence, after).astimezone(self._tz)

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


def trigger_for(cadence: Cadence) -> CadenceTrigger:
    return CadenceTrigger(cadence)


def fire_times(trigger: BaseTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time of `trigger` in [start, end], asked the way APScheduler asks."""
    out: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        out.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + _MICROSECOND)
    return out
