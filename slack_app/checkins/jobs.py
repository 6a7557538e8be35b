"""Scheduled check-in work, declared as `JOBS` for the workflow list (thin: each job calls a use case).

- Opening is the check-in ritual's (checkins/ritual.py, through `scheduling.rituals.open_due`, the one
  path that opens): `checkins.open_round` wakes it for one circle on the circle's own cadence and time zone
  (a Monday 10:00 Europe/Berlin circle opens at 10:00 Berlin time in winter and in summer);
  `checkins.open_due` wakes it for every circle, every minute and when a leader starts: it opens what
  passed while Hearth was down and retries rounds waiting for their channel (bot invited, channel
  unarchived). A wake that finds nothing due does nothing.
- `checkins.remind_due` / `checkins.close_due`: every minute, the reminders and closings that fell due.

Every use case is idempotent (an occurrence is claimed and round states move with conditional updates,
messages carry dedupe keys), so two runs of the same occurrence do the work once.
"""

from __future__ import annotations

from slack_app.checkins import rounds
from slack_app.checkins.ritual import RITUAL
from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from slack_app.scheduling.rituals import SWEEP_EVERY, ritual_jobs
from slack_app.services import Services


def _services(ctx: JobContext) -> Services:
    if ctx.services is None or ctx.ports is None:
        raise RuntimeError("check-in jobs run inside Hearth (hearth serve / run / worker)")
    return ctx.services


def remind_due_job(ctx: JobContext) -> int:
    return rounds.remind_due(_services(ctx), ctx.ports)


def close_due_job(ctx: JobContext) -> int:
    return rounds.close_due(_services(ctx))


SWEEPS = ("checkins.remind_due", "checkins.close_due")
JOBS = ritual_jobs(RITUAL, wake="checkins.open_round", sweep="checkins.open_due") | Jobs(
    actions={"checkins.remind_due": remind_due_job, "checkins.close_due": close_due_job},
    always=[JobSpec(id=name, action=name, every=SWEEP_EVERY) for name in SWEEPS],
)
