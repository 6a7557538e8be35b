"""Hourly housekeeping, on the leader: forget event ids past Slack's retry horizon and old job-run records.

Both tables only guard against doing something twice; once nothing can repeat, their rows are dead weight.
"""

from __future__ import annotations

from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from storage import events, jobruns

ACTION = "housekeeping.prune"
EVERY = 3600.0  # seconds


def prune(ctx: JobContext) -> dict[str, int]:
    forgotten = events.forget_before(ctx.db)  # Slack stops retrying an event within the hour; kept a day
    with ctx.db.session() as session:
        pruned = jobruns.prune(session)  # job runs older than 90 days: long past any misfire grace
    return {"event_ids": forgotten, "job_runs": pruned}


JOBS = Jobs(actions={ACTION: prune}, always=[JobSpec(id=ACTION, action=ACTION, every=EVERY)])
