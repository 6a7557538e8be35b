"""Named actions and the jobs that run them, collected from the explicit workflow list.

A workflow declares what it schedules as one `Jobs` value in `slack_app.workflows` (nothing registers itself
at import time):

    JOBS = ritual_jobs(RITUAL) | Jobs(   # a ritual's opening jobs (scheduling.rituals), plus its own sweeps
        actions={"checkins.remind_due": remind_due},
        always=[JobSpec(id="checkins.remind_due", action="checkins.remind_due", every=60)],
        sources={"demo": lambda session: [JobSpec(id=f"demo.tidy:{p.team_id}:{p.id}", ..., cadence=...)
                                          for p in programs(session)]},
    )

Actions are thin: they call a use case (`ctx.occurrence` is the scheduled time). A sweep isolates items with
`ctx.each` so one team's failure never stops the others. `JobBook` merges every workflow's `Jobs`; the leader
reads every source at start-up and every minute and brings APScheduler's persistent job store in line
(adding, changing and removing jobs), so a changed cadence takes effect within a minute, and a job whose
definition did not change keeps its stored next run time (a run that fell due while Hearth was down is not
lost by the sync).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_app.scheduling.cadence import Cadence

log = logging.getLogger("hearth.scheduler")


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: run `action` with `params` on a `cadence` (in its time zone) or `every` N seconds."""

    id: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)  # JSON-able; "team_id" names the workspace
    cadence: Cadence | None = None
    every: float | None = None
    at_start: bool = False  # an `every` job that also runs as soon as a leader starts (catch-up sweeps)

    def __post_init__(self) -> None:
        if (self.cadence is None) == (self.every is None):
            raise ValueError(f"job {self.id!r} needs exactly one of cadence or every")
        if self.at_start and self.every is None:
            raise ValueError(f"job {self.id!r}: only an `every` job runs at start")
        if not self.id or len(self.id) > 191:
            raise ValueError("a job id is 1 to 191 characters")
        json.dumps(self.params)  # raises for params a persistent job could not keep

    @property
    def team_id(self) -> str | None:
        return self.params.get("team_id")

    def fingerprint(self) -> str:
        # at_start only matters when a leader starts, so it leaves stored jobs (and their next runs) alone
        return json.dumps({"action": self.action, "params": self.params,
                           "cadence": self.cadence.to_dict() if self.cadence else None, "every": self.every},
                          sort_keys=True)


@dataclass
class EachResult:
    ok: int = 0
    failed: int = 0
    failed_keys: list[str] = field(default_factory=list)


@dataclass
class JobContext:
    """What an action gets: the database, Slack ports, the app's services, and what it was asked to do."""

    db: Any                                   # storage.db.Database
    params: dict[str, Any]
    services: Any = None                      # slack_app.app.Services, when running inside the app
    ports: Callable[[str], Any] | None = None  # team_id -> SlackPort (jobs mostly enqueue instead)
    job_id: str | None = None
    occurrence: datetime | None = None        # the scheduled time this run belongs to; None when run by hand

    @property
    def team_id(self) -> str | None:
        return self.params.get("team_id")

    def each(self, items: Iterable[Any], fn: Callable[[Any], Any], *, key: Callable[[Any], Any] = str,
             ) -> EachResult:
        """Run `fn` on every item; one item's failure is logged (by key and error type) and the rest go on."""
        result = EachResult()
        for item in items:
            try:
                fn(item)
                result.ok += 1
            except Exception as exc:  # isolate: one team's or program's failure never stops the others
                result.failed += 1
                result.failed_keys.append(str(key(item)))
                log.error("job.item_failed job=%s item=%s error=%s", self.job_id, key(item), type(exc).__name__,
                          exc_info=log.isEnabledFor(logging.DEBUG))
        return result


Action = Callable[[JobContext], Any]
Source = Callable[[Any], Iterable[JobSpec]]  # (SQLAlchemy session) -> the jobs that should exist now


class UnknownAction(KeyError):
    pass


@dataclass(frozen=True)
class Jobs:
    """What one workflow schedules: named actions, jobs that always exist, and sources of per-program jobs."""

    actions: Mapping[str, Action] = field(default_factory=dict)
    always: Sequence[JobSpec] = ()
    sources: Mapping[str, Source] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.actions:
            if not name or len(name) > 100:
                raise ValueError("an action name is 1 to 100 characters")

    def __or__(self, other: Jobs) -> Jobs:
        """Both parts of one workflow's jobs (e.g. its ritual's and its own sweeps)."""
        clash = (self.actions.keys() & other.actions.keys()) | (self.sources.keys() & other.sources.keys())
        if clash:
            raise ValueError(f"declared twice: {', '.join(sorted(clash))}")
        return Jobs(actions={**self.actions, **other.actions}, always=[*self.always, *other.always],
                    sources={**self.sources, **other.sources})


def _always(spec: JobSpec) -> Source:
    return lambda _session: [spec]


class JobBook:
    """Every workflow's actions and job sources, merged; what the scheduler and `hearth jobs` read."""

    def __init__(self, parts: Iterable[Jobs]) -> None:
        self._actions: dict[str, Action] = {}
        self._sources: dict[str, Source] = {}
        self.at_start: list[str] = []  # ids of the jobs a starting leader runs at once
        for jobs in parts:
            for name, fn in jobs.actions.items():
                if name in self._actions:
                    raise ValueError(f"two workflows declare the action {name!r}")
                self._actions[name] = fn
            for spec in jobs.always:
                self._sources[f"always:{spec.id}"] = _always(spec)
                if spec.at_start:
                    self.at_start.append(spec.id)
            self._sources.update(jobs.sources)

    def action(self, name: str) -> Action:
        try:
            return self._actions[name]
        except KeyError:
            raise UnknownAction(name) from None

    def action_names(self) -> list[str]:
        return sorted(self._actions)

    def desired_jobs(self, db: Any) -> tuple[list[JobSpec], bool]:
        """Every source's jobs, and whether every source answered (a failing source removes nothing)."""
        specs: dict[str, JobSpec] = {}
        complete = True
        for name, source in self._sources.items():
            try:
                with db.session() as session:
                    for spec in source(session):
                        specs[spec.id] = spec
            except Exception as exc:
                complete = False
                log.error("jobs.source_failed source=%s error=%s", name, type(exc).__name__)
        return list(specs.values()), complete
