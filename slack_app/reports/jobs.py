"""Scheduled report work: every minute, cases still unacknowledged past their urgency's time are escalated
(a ping in the moderator channel, once per case; the card shows it); once a day, a digest of open cases by
age (counts and case numbers only) goes to the moderator channel."""

from __future__ import annotations

from slack_app.reports import usecases
from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from slack_app.scheduling.rituals import SWEEP_EVERY


def escalate_job(ctx: JobContext) -> int:
    if ctx.services is None:
        raise RuntimeError("report jobs run inside Hearth (hearth serve / run / worker)")
    return usecases.escalate_overdue(ctx.services)


def digest_job(ctx: JobContext) -> int:
    if ctx.services is None:
        raise RuntimeError("report jobs run inside Hearth (hearth serve / run / worker)")
    return usecases.digest(ctx.services)


DAY = 24 * 3600.0
JOBS = Jobs(actions={"reports.escalate": escalate_job, "reports.digest": digest_job},
            always=[JobSpec(id="reports.escalate", action="reports.escalate", every=SWEEP_EVERY),
                    JobSpec(id="reports.digest", action="reports.digest", every=DAY)])
