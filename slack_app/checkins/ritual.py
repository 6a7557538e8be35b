"""Check-ins as a ritual: each enabled circle opens a round on its cadence (see slack_app.scheduling.rituals).

The circle's `next_open_at` is the next occurrence not yet opened; claiming it (rounds.open_occurrence)
moves it on, so the circle's cadence job and the every-minute sweep cannot both open one occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from slack_app.checkins import rounds
from slack_app.scheduling import rituals
from slack_app.scheduling.cadence import Cadence
from slack_app.scheduling.rituals import Due
from storage import checkins as repo

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.services import Services
    from slack_app.slack_port import SlackPort


class CheckinRitual:
    name = "checkins"

    def cadences(self, session: Session) -> Iterable[tuple[str, str, Cadence]]:
        return [(str(c.id), c.team_id, rounds.schedule_of(c).recurrence) for c in repo.enabled_circles(session)]

    def due(self, session: Session, now: datetime, key: str | None = None) -> Iterable[Due]:
        only = int(key) if key is not None and key.isdigit() else None
        if key is not None and only is None:
            return []
        return [Due(str(circle_id), team_id, occurrence)
                for circle_id, (team_id, occurrence) in sorted(rounds.due_circles(session, now, only).items())]

    def open(self, services: Services, slack: SlackPort, due: Due, now: datetime) -> str:
        return rounds.open_occurrence(services, slack, int(due.key), due.occurrence, now=now).status


RITUAL = CheckinRitual()


def open_due(services: Services, slack_for: rounds.SlackFor, *, now: datetime | None = None,
             key: str | None = None) -> int:
    """Open every due circle (or only circle `key`): the shared path, for check-ins."""
    return rituals.open_due(RITUAL, services, slack_for, now=now, key=key)
