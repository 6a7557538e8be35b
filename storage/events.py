"""Events API idempotency: Slack retries an event (X-Slack-Retry-Num) until it sees a 200 in time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from storage.db import Database, insert_ignore
from storage.models import SlackEvent, utcnow


def first_sighting(db: Database, event_id: str, team_id: str | None) -> bool:
    """Record `event_id`; False when it was already recorded (a retry or a duplicate delivery)."""
    with db.session() as s:  # one statement, no ORM unit of work: every event passes here before its ack
        insert = insert_ignore(s, SlackEvent.__table__, unique=["event_id"], returning=SlackEvent.event_id)
        return s.execute(insert, {"event_id": event_id, "team_id": team_id}).first() is not None


def forget_before(db: Database, cutoff: datetime | None = None) -> int:
    """Drop ids older than Slack's retry horizon (retries stop within an hour)."""
    cutoff = cutoff or utcnow() - timedelta(days=1)
    with db.session() as s:
        return s.execute(delete(SlackEvent).where(SlackEvent.received_at < cutoff)).rowcount
