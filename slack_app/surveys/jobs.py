"""Scheduled survey work, declared as `JOBS` for the workflow list: scheduled launches on their cadence
(`schedules`), and every minute, close the runs whose time has come (sealing their answers, results to the
launching admin) and send the reminders that fell due."""

from __future__ import annotations

from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from slack_app.scheduling.rituals import SWEEP_EVERY
from slack_app.services import Services
from slack_app.surveys import schedules, usecases


def _services(ctx: JobContext) -> Services:
    if ctx.services is None:
        raise RuntimeError("survey jobs run inside Hearth (hearth serve / run / worker)")
    return ctx.services


def close_due_job(ctx: JobContext) -> int:
    return usecases.close_due(_services(ctx), ctx.ports)


def remind_due_job(ctx: JobContext) -> int:
    return usecases.remind_due(_services(ctx), ctx.ports)


SWEEPS = ("surveys.close_due", "surveys.remind_due")
JOBS = schedules.JOBS | Jobs(  # scheduled launches (the ritual's jobs), then the sweeps
    actions={"surveys.close_due": close_due_job, "surveys.remind_due": remind_due_job},
    always=[JobSpec(id=name, action=name, every=SWEEP_EVERY, at_start=True) for name in SWEEPS],
)
