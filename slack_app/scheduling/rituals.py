"""Rituals: what opens when, and the one path by which a due ritual opens.

A ritual is a workflow's recurring opening — a check-in circle's rounds today, a survey's waves or a buddy
round later. Each instance has a key (a circle id), a cadence (the shared calendar, `scheduling.cadence`) and
a record of which occurrence it opened last (check-ins keep the next one not yet opened, `next_open_at`).
A workflow describes its instances with one `Ritual`:

    cadences(session)            every enabled instance: (key, team_id, cadence), so it can be woken on time
    due(session, now, key=None)  the instances whose occurrence came and was not opened yet (`due_occurrence`
                                 names it from the last one opened), and those whose opening is claimed
                                 but waits (channel not ready, Slack busy) to be retried
    open(services, slack, due, now) -> status
                                 claim the occurrence with a conditional update on the record (so it opens
                                 once, whoever wakes it) and open it

`open_due` is the only function that decides and opens. The scheduler only wakes it: `ritual_jobs` declares
one cadence job per instance (on time, in the instance's own zone) and a sweep every minute that also runs
as soon as a leader starts (an occurrence that passed while Hearth was down opens once, then; a waiting one
is retried). Two wakes of one occurrence — the cadence job and the sweep, or two leaders — open it once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from slack_app.scheduling.cadence import Cadence, previous_at_or_before
from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from storage.models import utcnow

log = logging.getLogger("hearth.scheduler")

OPENED = "opened"
SWEEP_EVERY = 60.0  # seconds


@dataclass(frozen=True)
class Due:
    """An instance to open: `occurrence` is the scheduled time to claim, or None for an opening already
    claimed that waits to be retried."""

    key: str
    team_id: str
    occurrence: datetime | None


class Ritual(Protocol):
    name: str  # the workflow's name, the prefix of its job ids

    def cadences(self, session: Any) -> Iterable[tuple[str, str, Cadence]]: ...

    def due(self, session: Any, now: datetime, key: str | None = None) -> Iterable[Due]: ...

    def open(self, services: Any, slack: Any, due: Due, now: datetime) -> str: ...


def due_occurrence(cadence: Cadence, last_opened: datetime | None, now: datetime, *,
                   since: datetime | None = None) -> datetime | None:
    """The occurrence to open now, for a ritual that records the last occurrence it opened: the latest one at
    or before `now` if it is newer than `last_opened` (and not before `since`, e.g. when it was enabled);
    None when nothing is due. After downtime this names one occurrence, not every one that was missed."""
    latest = previous_at_or_before(cadence, now)
    if last_opened is not None and latest <= last_opened:
        return None
    if since is not None and latest < since:
        return None
    return latest


def due_since_last(instances: Iterable[tuple[str, str, Cadence, datetime | None, datetime]], now: datetime,
                   key: str | None = None) -> list[Due]:
    """`Ritual.due` for rituals that record the last occurrence they claimed: from (key, team_id, cadence,
    last claimed, enabled since) of each instance (or only `key`), those with an occurrence due."""
    out = []
    for instance_key, team_id, cadence, last, since in instances:
        if key is not None and instance_key != key:
            continue
        occurrence = due_occurrence(cadence, last, now, since=since)
        if occurrence is not None:
            out.append(Due(instance_key, team_id, occurrence))
    return out


def open_due(ritual: Ritual, services: Any, ports: Callable[[str], Any], *, now: datetime | None = None,
             key: str | None = None) -> int:
    """Open every due instance of `ritual` (or only `key`); how many opened. One failure never stops the rest."""
    now = now or utcnow()
    with services.db.session() as session:
        work = list(ritual.due(session, now, key))
    opened = 0
    for due in work:
        try:
            opened += ritual.open(services, ports(due.team_id), due, now) == OPENED
        except Exception as exc:  # logged by type only: an error's text may quote what members wrote
            log.error("ritual.open_failed ritual=%s key=%s error=%s", ritual.name, due.key, type(exc).__name__,
                      exc_info=log.isEnabledFor(logging.DEBUG))
    return opened


def ritual_jobs(ritual: Ritual, *, wake: str | None = None, sweep: str | None = None,
                every: float = SWEEP_EVERY) -> Jobs:
    """The jobs that wake `open_due`: one per instance on its cadence, and the sweep (also run at start)."""
    wake = wake or f"{ritual.name}.open"
    sweep = sweep or f"{ritual.name}.open_due"

    def _ports(ctx: JobContext) -> tuple[Any, Callable[[str], Any]]:
        if ctx.services is None or ctx.ports is None:
            raise RuntimeError(f"{ritual.name} jobs run inside Hearth (hearth serve / run / worker)")
        return ctx.services, ctx.ports

    def wake_one(ctx: JobContext) -> int:
        services, ports = _ports(ctx)
        key = ctx.params.get("key", ctx.params.get("circle_id"))  # "circle_id": jobs stored by older Hearths
        return open_due(ritual, services, ports, key=str(key))

    def sweep_all(ctx: JobContext) -> int:
        services, ports = _ports(ctx)
        return open_due(ritual, services, ports)

    def per_instance(session: Any) -> list[JobSpec]:
        return [JobSpec(id=f"{wake}:{team_id}:{key}", action=wake, params={"team_id": team_id, "key": key},
                        cadence=cadence)
                for key, team_id, cadence in ritual.cadences(session)]

    return Jobs(actions={wake: wake_one, sweep: sweep_all},
                always=[JobSpec(id=sweep, action=sweep, every=every, at_start=True)],
                sources={ritual.name: per_instance})
