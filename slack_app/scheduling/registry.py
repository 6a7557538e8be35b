"""Named actions and the jobs that run them: where workflows plug into the scheduler.

A workflow package registers, at import time of its `slack_app/<workflow>/jobs.py` module (imported by
`discover()`):

    from slack_app.scheduling.cadence import Cadence
    from slack_app.scheduling.registry import JobSpec, register_action, register_job, register_job_source

    def open_round(ctx):                       # thin: call the use case; ctx.occurrence is the scheduled time
        usecases.open_scheduled(ctx.services, ctx.ports(ctx.team_id), ctx.params["circle_id"])

    def remind_due(ctx):                       # a sweep: one team's failure must not stop the others
        ctx.each(teams(ctx.db), lambda team: usecases.remind(ctx.services, team), key=lambda team: team)

    register_action("checkins.open_round", open_round)
    register_action("checkins.remind_due", remind_due)
    register_job_source("checkins", lambda session: [
        JobSpec(id=f"checkins.open_round:{c.team_id}:{c.id}", action="checkins.open_round",
                params={"team_id": c.team_id, "circle_id": c.id},
                cadence=Cadence(c.cadence, c.weekday, c.local_time, c.timezone, c.anchor_date))
        for c in enabled_circles(session)])
    register_job(JobSpec(id="checkins.remind_due", action="checkins.remind_due", every=60))

The leader reads every source at start-up and every minute and brings APScheduler's persistent job store
in line (adding, changing and removing jobs), so a changed cadence takes effect within a minute, and a job
whose definition did not change keeps its stored next run time (a run that fell due while Hearth was down
is not lost by the sync).
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
from collections.abc import Callable, Iterable
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

    def __post_init__(self) -> None:
        if (self.cadence is None) == (self.every is None):
            raise ValueError(f"job {self.id!r} needs exactly one of cadence or every")
        if not self.id or len(self.id) > 191:
            raise ValueError("a job id is 1 to 191 characters")
        json.dumps(self.params)  # raises for params a persistent job could not keep

    @property
    def team_id(self) -> str | None:
        return self.params.get("team_id")

    def fingerprint(self) -> str:
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
Source = Callable[[Any], Iterable[JobSpec]]  # (SQLAlchemy session) -> specs

_actions: dict[str, Action] = {}
_sources: dict[str, Source] = {}


class UnknownAction(KeyError):
    pass


def register_action(name: str, fn: Action) -> None:
    """Make `fn(ctx)` runnable by name from jobs and from `hearth jobs run NAME`."""
    if not name or len(name) > 100:
        raise ValueError("an action name is 1 to 100 characters")
    _actions[name] = fn


def register_job_source(name: str, source: Source) -> None:
    """`source(session)` returns the jobs that should exist now (e.g. one per enabled program)."""
    _sources[name] = source


def register_job(spec: JobSpec) -> None:
    """A job that always exists (e.g. a nightly sweep)."""
    register_job_source(f"static:{spec.id}", lambda _session, spec=spec: [spec])


def get_action(name: str) -> Action:
    try:
        return _actions[name]
    except KeyError:
        raise UnknownAction(name) from None


def action_names() -> list[str]:
    return sorted(_actions)


def desired_jobs(db: Any) -> tuple[list[JobSpec], bool]:
    """Every source's jobs, and whether every source answered (a failing source removes nothing)."""
    specs: dict[str, JobSpec] = {}
    complete = True
    for name, source in list(_sources.items()):
        try:
            with db.session() as session:
                for spec in source(session):
                    specs[spec.id] = spec
        except Exception as exc:
            complete = False
            log.error("jobs.source_failed source=%s error=%s", name, type(exc).__name__)
    return list(specs.values()), complete


def discover(package: str = "slack_app") -> list[str]:
    """Import every `<package>.<workflow>.jobs` module, so its actions and job sources are registered."""
    loaded = []
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.ispkg:
            continue
        name = f"{package}.{info.name}.jobs"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # this package schedules nothing
            log.error("jobs.module_failed module=%s error=%s", name, type(exc).__name__)
            continue
        except Exception as exc:  # one broken workflow must not stop the others' jobs (or delivery)
            log.error("jobs.module_failed module=%s error=%s", name, type(exc).__name__)
            continue
        loaded.append(name)
    return loaded


def _reset_for_tests() -> tuple[dict, dict]:
    """Empty the registry, returning what was there (tests restore it)."""
    saved = (dict(_actions), dict(_sources))
    _actions.clear()
    _sources.clear()
    return saved


def _restore_for_tests(saved: tuple[dict, dict]) -> None:
    _actions.clear()
    _sources.clear()
    _actions.update(saved[0])
    _sources.update(saved[1])
