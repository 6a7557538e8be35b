"""The functions APScheduler's persistent jobs point at (by textual reference): thin, logged, isolated.

A stored job holds only names and JSON (`run_scheduled` with the action name, its params and cadence);
the live things an action needs (database, Slack ports, services) come from the environment the
scheduler bound when it started.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_app.scheduling.cadence import Cadence, previous_at_or_before
from slack_app.scheduling.registry import JobBook, JobContext
from storage import jobruns
from storage.models import utcnow

log = logging.getLogger("hearth.scheduler")

RUN_SCHEDULED = "slack_app.scheduling.jobs:run_scheduled"
SYNC = "slack_app.scheduling.jobs:sync_now"


@dataclass
class JobEnv:
    db: Any
    book: JobBook                               # every workflow's actions and job sources
    services: Any = None
    ports: Any = None
    owner: str = "hearth"                       # this scheduler instance, in the ledger
    misfire_grace: float = 6 * 3600.0           # seconds; a run later than this is skipped
    scheduler: Any = None                       # the HearthScheduler, for the periodic sync


_env: JobEnv | None = None


def bind(env: JobEnv | None) -> None:
    global _env
    _env = env


def current_env() -> JobEnv | None:
    return _env


def execute(env: JobEnv, action: str, params: dict, *, job_id: str | None = None,
            occurrence: datetime | None = None) -> Any:
    """Run one action now (raises what the action raises)."""
    fn = env.book.action(action)
    ctx = JobContext(db=env.db, params=dict(params), services=env.services, ports=env.ports, job_id=job_id,
                     occurrence=occurrence)
    started = time.perf_counter()
    try:
        return fn(ctx)
    finally:
        log.info("job.ran job=%s action=%s team=%s ms=%.0f", job_id, action, params.get("team_id"),
                 (time.perf_counter() - started) * 1000)


def run_scheduled(job_id: str, action: str, params: dict, cadence: dict | None = None, **_ignored: Any) -> None:
    """What every scheduled job calls. Cadence jobs go through the ledger: each occurrence runs once."""
    env = _env
    if env is None:
        log.error("job.no_environment job=%s", job_id)
        return
    occurrence = None
    if cadence is not None:
        now = utcnow()
        occurrence = previous_at_or_before(Cadence.from_dict(cadence), now)
        if occurrence < now - timedelta(seconds=env.misfire_grace + 60):
            log.warning("job.no_occurrence job=%s", job_id)
            return
        with env.db.session() as session:
            if not jobruns.start(session, job_id=job_id, occurrence=occurrence, action=action, params=params,
                                 owner=env.owner):
                log.info("job.already_ran job=%s occurrence=%s", job_id, occurrence.isoformat())
                return
    _run_and_record(env, job_id, action, params, occurrence)


def _run_and_record(env: JobEnv, job_id: str, action: str, params: dict, occurrence: datetime | None) -> None:
    error = None
    try:
        execute(env, action, params, job_id=job_id, occurrence=occurrence)
    except Exception as exc:  # a job's failure is logged by type and recorded; the scheduler goes on
        error = type(exc).__name__
        log.error("job.failed job=%s action=%s error=%s", job_id, action, error,
                  exc_info=log.isEnabledFor(logging.DEBUG))
    if occurrence is not None:
        with env.db.session() as session:
            jobruns.finish(session, job_id=job_id, occurrence=occurrence, owner=env.owner, error=error)


def rerun_orphans(env: JobEnv) -> int:
    """Run again the occurrences a dead leader left unfinished (actions are idempotent per occurrence)."""
    with env.db.session() as session:
        orphans = jobruns.adopt_orphans(session, owner=env.owner)
    for run in orphans:
        log.warning("job.rerun_orphan job=%s occurrence=%s", run.job_id, run.occurrence.isoformat())
        _run_and_record(env, run.job_id, run.action, run.params, run.occurrence)
    return len(orphans)


def sync_now() -> None:
    """The leader's periodic job: bring the job store in line with the job sources."""
    env = _env
    if env is not None and env.scheduler is not None:
        env.scheduler.sync()
