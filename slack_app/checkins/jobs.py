"""Scheduled check-in work, declared as `JOBS` for the workflow list (thin: each job calls a use case).

- `checkins.open_round`: one job per enabled circle on the circle's own cadence and time zone, so a
  Monday 10:00 Europe/Berlin circle opens at 10:00 Berlin time in winter and in summer.
- `checkins.open_due`: every minute, retries rounds waiting for their channel (bot invited, channel
  unarchived) and catches up on any opening whose time passed without its job running.
- `checkins.remind_due` / `checkins.close_due`: every minute, the reminders and closings that fell due.

Every use case is idempotent (round states are claimed with conditional updates, messages carry
dedupe keys), so two runs of the same occurrence do the work once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app.checkins import rounds
from slack_app.scheduling.cadence import Cadence
from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from slack_app.services import Services
from storage import checkins as repo

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SWEEP_EVERY = 60.0  # seconds


def _services(ctx: JobContext) -> Services:
    if ctx.services is None or ctx.ports is None:
        raise RuntimeError("check-in jobs run inside Hearth (hearth serve / run / worker)")
    return ctx.services


def open_round_job(ctx: JobContext) -> None:
    services = _services(ctx)
    rounds.open_scheduled(services, ctx.ports(ctx.team_id), int(ctx.params["circle_id"]))


def open_due_job(ctx: JobContext) -> int:
    return rounds.open_due(_services(ctx), ctx.ports)


def remind_due_job(ctx: JobContext) -> int:
    return rounds.remind_due(_services(ctx), ctx.ports)


def close_due_job(ctx: JobContext) -> int:
    return rounds.close_due(_services(ctx))


def circle_jobs(session: Session) -> list[JobSpec]:
    """One opening job per enabled circle, on the circle's cadence."""
    return [JobSpec(id=f"checkins.open_round:{c.team_id}:{c.id}", action="checkins.open_round",
                    params={"team_id": c.team_id, "circle_id": c.id},
                    cadence=Cadence(c.cadence, c.weekday, c.local_time, c.timezone, c.anchor_date))
            for c in repo.enabled_circles(session)]


SWEEPS = ("checkins.open_due", "checkins.remind_due", "checkins.close_due")
JOBS = Jobs(
    actions={"checkins.open_round": open_round_job, "checkins.open_due": open_due_job,
             "checkins.remind_due": remind_due_job, "checkins.close_due": close_due_job},
    always=[JobSpec(id=name, action=name, every=SWEEP_EVERY) for name in SWEEPS],
    sources={"checkins": circle_jobs},
)
