"""Scheduled check-in work, plugged into the scheduler's registry (thin: each job calls a use case).

- `checkins.open_round`: one job per enabled circle on the circle's own cadence and time zone, so a
  Monday 10:00 Europe/Berlin circle opens at 10:00 Berlin time in winter and in summer.
- `checkins.open_due`: every minute, retries rounds waiting for their channel (bot invited, channel
  unarchived) and catches up on any opening whose time passed without its job running.
- `checkins.remind_due` / `checkins.close_due`: every minute, the reminders and closings that fell due.

Every use case is idempotent (round states are claimed with conditional updates, messages carry
dedupe keys), so two runs of the same occurrence do the work once.
"""

from __future__ import annotations

from slack_app.checkins import rounds
from slack_app.scheduling.cadence import Cadence
from slack_app.scheduling.registry import JobContext, JobSpec, register_action, register_job, register_job_source
from storage import checkins as repo

SWEEP_EVERY = 60.0  # seconds


def _services(ctx: JobContext):  # noqa: ANN202 - slack_app.app.Services
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


def circle_jobs(session) -> list[JobSpec]:  # noqa: ANN001 - a SQLAlchemy session
    """One opening job per enabled circle, on the circle's cadence."""
    return [JobSpec(id=f"checkins.open_round:{c.team_id}:{c.id}", action="checkins.open_round",
                    params={"team_id": c.team_id, "circle_id": c.id},
                    cadence=Cadence(c.cadence, c.weekday, c.local_time, c.timezone, c.anchor_date))
            for c in repo.enabled_circles(session)]


register_action("checkins.open_round", open_round_job)
register_action("checkins.open_due", open_due_job)
register_action("checkins.remind_due", remind_due_job)
register_action("checkins.close_due", close_due_job)
register_job_source("checkins", circle_jobs)
for _name in ("checkins.open_due", "checkins.remind_due", "checkins.close_due"):
    register_job(JobSpec(id=_name, action=_name, every=SWEEP_EVERY))
