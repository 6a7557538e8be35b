"""Hourly housekeeping, on the leader: forget event ids past Slack's retry horizon and old job-run records,
erase what undeliverable messages still hold once their retention period is over, and (SQLite) checkpoint
the WAL, finishing a survey close's erasure that a long reader had held up.

Event ids and job runs only guard against doing something twice; once nothing can repeat, their rows are
dead weight. A failed message keeps its encrypted words for HEARTH_FAILED_MESSAGE_RETENTION_DAYS (default 14)
so an admin can fix the cause and retry; after that they are erased (a sensitive one is deleted entirely).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from storage import events, jobruns, outbox

log = logging.getLogger("hearth.housekeeping")

ACTION = "housekeeping.prune"
EVERY = 3600.0  # seconds
DEFAULT_RETENTION_DAYS = 14


def prune(ctx: JobContext) -> dict[str, int]:
    forgotten = events.forget_before(ctx.db)  # Slack stops retrying an event within the hour; kept a day
    with ctx.db.session() as session:
        pruned = jobruns.prune(session)  # job runs older than 90 days: long past any misfire grace
    settings = getattr(ctx.services, "settings", None)
    days = getattr(settings, "HEARTH_FAILED_MESSAGE_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    with ctx.db.session() as session:
        expired = outbox.expire_failed(session, older_than=timedelta(days=days))
    # SQLite: empty the WAL, so what a survey close had to leave there (a reader held it) is erased now
    if not ctx.db.checkpoint_wal():
        log.warning("housekeeping.wal_busy: a reader holds the SQLite WAL; the next run checkpoints again")
    return {"event_ids": forgotten, "job_runs": pruned, "failed_messages_erased": expired}


JOBS = Jobs(actions={ACTION: prune}, always=[JobSpec(id=ACTION, action=ACTION, every=EVERY)])
