"""APScheduler 3 with its job store in Hearth's database, run only by the leader.

Misfire policy: every job has `coalesce=True` and `misfire_grace_time` (default 6 hours). A run that fell
due while no leader was running runs once when a leader starts, if it is at most the grace period late;
several missed runs of one job collapse into that one run; a run later than the grace period is skipped
(logged) and the job waits for its next regular time. Cadence jobs additionally go through the
`job_run` ledger (`storage.jobruns`), so an occurrence never runs twice and one cut short by a dying
leader is run again by the next. Jobs declared `at_start` (the rituals' catch-up sweeps, which open any
occurrence that passed while Hearth was down, however late) run as soon as a leader starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from slack_app.scheduling import jobs as jobfns
from slack_app.scheduling.registry import JobBook, JobSpec
from slack_app.scheduling.trigger import trigger_for
from storage import jobruns
from storage.db import Database

if TYPE_CHECKING:
    from slack_app.services import Services
    from slack_app.slack_port import SlackPort

log = logging.getLogger("hearth.scheduler")

DEFAULT_MISFIRE_GRACE = 6 * 3600
SYNC_JOB_ID = "hearth.sync_jobs"
TABLE = "apscheduler_jobs"


class _JobStore(SQLAlchemyJobStore):
    """APScheduler's store on Hearth's engine; the engine is Hearth's to dispose of, not the store's."""

    def shutdown(self) -> None:
        pass


@dataclass(frozen=True)
class SyncResult:
    added: int = 0
    changed: int = 0
    removed: int = 0


@dataclass(frozen=True)
class JobInfo:
    id: str
    action: str | None
    team_id: str | None
    schedule: str
    next_run: datetime | None
    last_status: str | None = None
    last_occurrence: datetime | None = None


class HearthScheduler:
    def __init__(self, db: Database, book: JobBook, *, services: Services | None = None,
                 ports: Callable[[str], SlackPort] | None = None, owner: str = "hearth",
                 misfire_grace: int = DEFAULT_MISFIRE_GRACE, sync_every: float = 60.0, threads: int = 4) -> None:
        self.db = db
        self.book = book
        self.misfire_grace = misfire_grace
        self.sync_every = sync_every
        self.env = jobfns.JobEnv(db=db, book=book, services=services, ports=ports, owner=owner,
                                 misfire_grace=float(misfire_grace), scheduler=self)
        self._threads = threads
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.RLock()

    # ---- life cycle ----------------------------------------------------------------------------------

    def _build(self) -> BackgroundScheduler:
        return BackgroundScheduler(
            jobstores={"default": _JobStore(engine=self.db.engine, tablename=TABLE)},
            executors={"default": {"type": "threadpool", "max_workers": self._threads}},
            job_defaults={"coalesce": True, "misfire_grace_time": self.misfire_grace, "max_instances": 1},
            timezone=UTC,
        )

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        """Become the active scheduler: re-run orphaned occurrences, sync jobs, then run what is due."""
        with self._lock:
            if self._scheduler is not None:
                return
            jobfns.bind(self.env)
            scheduler = self._build()
            scheduler.start(paused=True)
            self._scheduler = scheduler
            try:
                jobfns.rerun_orphans(self.env)
                self.sync()
                scheduler.add_job(jobfns.SYNC, IntervalTrigger(seconds=self.sync_every), id=SYNC_JOB_ID,
                                  name=SYNC_JOB_ID, replace_existing=True)
            except Exception:
                self.stop(wait=False)
                raise
            now = datetime.now(UTC)
            for job_id in self.book.at_start:  # catch-up sweeps run at once, not an interval from now
                if scheduler.get_job(job_id) is not None:
                    scheduler.modify_job(job_id, next_run_time=now)
            scheduler.resume()  # now the runs that fell due while no leader ran (within the grace period)
            log.info("scheduler.started owner=%s jobs=%d", self.env.owner, len(scheduler.get_jobs()))

    def stop(self, *, wait: bool = True) -> None:
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=wait)
            if jobfns.current_env() is self.env:
                jobfns.bind(None)
            log.info("scheduler.stopped owner=%s", self.env.owner)

    # ---- jobs ----------------------------------------------------------------------------------------

    def sync(self) -> SyncResult:
        """Make the job store hold exactly the jobs the sources describe (keeping unchanged jobs' next run)."""
        with self._lock:
            scheduler = self._scheduler
            if scheduler is None:
                return SyncResult()
            specs, complete = self.book.desired_jobs(self.db)
            existing = {job.id: job for job in scheduler.get_jobs() if job.id != SYNC_JOB_ID}
            added = changed = removed = 0
            for spec in specs:
                job = existing.pop(spec.id, None)
                if job is not None and job.kwargs.get("fingerprint") == spec.fingerprint():
                    continue
                self._add(scheduler, spec)
                added, changed = (added + 1, changed) if job is None else (added, changed + 1)
            if complete:
                known = set(self.book.action_names())
                for job_id, job in existing.items():
                    if job.kwargs.get("action") not in known:
                        continue  # its workflow is not loaded here (failed to import?): not ours to judge
                    scheduler.remove_job(job_id)
                    removed += 1
            result = SyncResult(added, changed, removed)
            if added or changed or removed:
                log.info("scheduler.synced added=%d changed=%d removed=%d", added, changed, removed)
            return result

    @staticmethod
    def _add(scheduler: BackgroundScheduler, spec: JobSpec) -> Job:
        trigger = trigger_for(spec.cadence) if spec.cadence else IntervalTrigger(seconds=spec.every)
        return scheduler.add_job(
            jobfns.RUN_SCHEDULED, trigger, id=spec.id, name=spec.id, replace_existing=True,
            kwargs={"job_id": spec.id, "action": spec.action, "params": spec.params,
                    "cadence": spec.cadence.to_dict() if spec.cadence else None,
                    "fingerprint": spec.fingerprint()},
        )

    def wakeup(self) -> None:
        if self._scheduler is not None:
            self._scheduler.wakeup()


def stored_jobs(db: Database) -> list[JobInfo]:
    """The jobs in the job store with their next run, read without starting a scheduler."""
    store = _JobStore(engine=db.engine, tablename=TABLE)
    store.start(BackgroundScheduler(timezone=UTC), "default")
    with db.session() as session:
        last = jobruns.last_runs(session)
    out = []
    for job in store.get_all_jobs():
        if job.id == SYNC_JOB_ID:
            continue
        params = job.kwargs.get("params") or {}
        run = last.get(job.id)
        out.append(JobInfo(
            id=job.id, action=job.kwargs.get("action"), team_id=params.get("team_id"), schedule=str(job.trigger),
            next_run=job.next_run_time, last_status=run.status if run else None,
            last_occurrence=run.occurrence if run else None,
        ))
    return out
