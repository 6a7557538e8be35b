"""Scheduled report work, every minute: cases whose routing (just after the ack) was dropped or lost are
brought to the moderators, at once too when a leader starts; cases still unacknowledged past their urgency's
time are escalated (a ping in the moderator channel, once per case; the card shows it). Once a day, a digest
of open cases by age (counts and case numbers only) goes to the moderator channel."""

from __future__ import annotations

from slack_app.reports import usecases
from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from slack_app.scheduling.rituals import SWEEP_EVERY


def escalate_job(ctx: JobContext) -> int:
    if ctx.services is None:
        raise RuntimeError("report jobs run inside Hearth (hearth serve / run / worker)")
    return usecases.escalate_overdue(ctx.services)


def route_missed_job(ctx: JobContext) -> int:
    if ctx.services is None or ctx.ports is None:
        raise RuntimeError("report jobs run inside Hearth (hearth serve / run / worker)")
    return usecases.route_missed(ctx.services, ctx.ports)


def digest_job(ctx: JobContext) -> int:
    if ctx.services is None:
        raise RuntimeError("report jobs run inside Hearth (hearth serve / run / worker)")
    return usecases.digest(ctx.services)


DAY = 24 * 3600.0
JOBS = Jobs(actions={"reports.route_missed": route_missed_job, "reports.escalate": escalate_job,
                     "reports.digest": digest_job},
            always=[JobSpec(id="reports.route_missed", action="reports.route_missed", every=SWEEP_EVERY,
                            at_start=True),
                    JobSpec(id="reports.escalate", action="reports.escalate", every=SWEEP_EVERY),
                    JobSpec(id="reports.digest", action="reports.digest", every=DAY)])
