"""The ledger of scheduled occurrences: (job id, occurrence) runs once; one cut short is run again.

APScheduler persists a job's next run time around the moment it hands the job to its thread pool, so on
its own a leader dying at the wrong instant could run an occurrence twice (died before persisting) or
never (died while the job ran). The ledger closes both gaps: a run first inserts its (job, occurrence)
row — a second attempt at the same occurrence finds it and stops — and marks it done at the end; a new
leader re-runs the rows a dead leader left `running`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import JobRun, utcnow

RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass(frozen=True)
class Run:
    job_id: str
    occurrence: datetime
    action: str
    params: dict[str, Any]
    status: str
    owner: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _run(r: JobRun) -> Run:
    return Run(r.job_id, _utc(r.occurrence), r.action, dict(r.params or {}), r.status, r.owner, r.error,
               _utc(r.started_at), _utc(r.finished_at))


def start(session: Session, *, job_id: str, occurrence: datetime, action: str, params: dict, owner: str) -> bool:
    """Claim an occurrence; False if it already ran or is running."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    result = session.execute(
        insert(JobRun.__table__)
        .values(job_id=job_id, occurrence=_utc(occurrence), action=action, params=params, status=RUNNING,
                owner=owner, started_at=utcnow())
        .on_conflict_do_nothing(index_elements=["job_id", "occurrence"])
        .returning(JobRun.__table__.c.job_id)
    )
    return result.first() is not None


def finish(session: Session, *, job_id: str, occurrence: datetime, owner: str, error: str | None = None) -> None:
    session.execute(
        update(JobRun)
        .where(JobRun.job_id == job_id, JobRun.occurrence == _utc(occurrence), JobRun.owner == owner)
        .values(status=FAILED if error else DONE, error=error, finished_at=utcnow()),
        execution_options={"synchronize_session": False},
    )


def adopt_orphans(session: Session, *, owner: str) -> list[Run]:
    """Runs left `running` by other (dead) leaders, now owned by `owner` to be run again."""
    rows = session.scalars(select(JobRun).where(JobRun.status == RUNNING, JobRun.owner != owner)).all()
    adopted = []
    for r in rows:
        result = session.execute(
            update(JobRun).where(JobRun.job_id == r.job_id, JobRun.occurrence == r.occurrence,
                                 JobRun.status == RUNNING, JobRun.owner == r.owner)
            .values(owner=owner, started_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount == 1:
            adopted.append(_run(r))
    return adopted


def last_runs(session: Session) -> dict[str, Run]:
    """The latest run of every job (for `hearth jobs list`)."""
    latest = select(JobRun.job_id, func.max(JobRun.occurrence).label("occ")).group_by(JobRun.job_id).subquery()
    rows = session.scalars(select(JobRun).join(
        latest, (JobRun.job_id == latest.c.job_id) & (JobRun.occurrence == latest.c.occ))).all()
    return {r.job_id: _run(r) for r in rows}


def runs(session: Session, job_id: str | None = None) -> list[Run]:
    stmt = select(JobRun).order_by(JobRun.started_at)
    if job_id:
        stmt = stmt.where(JobRun.job_id == job_id)
    return [_run(r) for r in session.scalars(stmt)]


def prune(session: Session, *, older_than: timedelta = timedelta(days=90)) -> int:
    result = session.execute(delete(JobRun).where(JobRun.status != RUNNING,
                                                  JobRun.occurrence < utcnow() - older_than),
                             execution_options={"synchronize_session": False})
    return result.rowcount or 0
