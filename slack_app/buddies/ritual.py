"""Buddy rounds as a ritual (slack_app.scheduling.rituals): each enabled program runs a round on its cadence.

`last_occurrence` records the last scheduled round claimed; claiming is a conditional update, so the
program's cadence job and the every-minute sweep cannot both run one occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from slack_app.buddies import usecases
from slack_app.scheduling import rituals
from slack_app.scheduling.cadence import Cadence
from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from slack_app.scheduling.rituals import Due
from slack_app.slack_port import SlackError
from storage import buddies as repo

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.services import Services
    from slack_app.slack_port import SlackPort


class BuddyRitual:
    name = "buddies"

    def cadences(self, session: Session) -> Iterable[tuple[str, str, Cadence]]:
        return [(str(p.id), p.team_id, usecases.cadence_of(p)) for p in repo.programs(session)]

    def due(self, session: Session, now: datetime, key: str | None = None) -> Iterable[Due]:
        return rituals.due_since_last(((str(p.id), p.team_id, usecases.cadence_of(p), p.last_occurrence, p.enabled_at)
                                       for p in repo.programs(session)), now, key)

    def open(self, services: Services, slack: SlackPort, due: Due, now: datetime) -> str:
        if due.occurrence is None:
            return "nothing_due"
        with services.db.session() as s:
            prog = s.get(repo.BuddyProgram, int(due.key))
            channel_id = prog.channel_id if prog else None
            previous = prog.last_occurrence if prog else None
        if not usecases.claim_occurrence(services, int(due.key), due.occurrence):
            return "claimed_elsewhere"
        if channel_id is None:
            return "gone"
        try:
            result = usecases.plan_round(services, slack, due.team_id, channel_id, occurrence=due.occurrence,
                                         now=now)
        except SlackError:  # the roster could not be listed (Slack busy, channel gone): the next sweep retries
            usecases.release_occurrence(services, int(due.key), due.occurrence, previous)
            raise
        return rituals.OPENED if result.status == "opened" else result.status


RITUAL = BuddyRitual()
HEADS_UP = "buddies.heads_up"
HEADS_UP_EVERY = 300.0  # seconds


def _heads_up(ctx: JobContext) -> int:
    if ctx.services is None or ctx.ports is None:
        raise RuntimeError("buddy jobs run inside Hearth (hearth serve / run / worker)")
    return usecases.heads_up_due(ctx.services, ctx.ports)


FOLLOW_UP = "buddies.follow_up"


def _follow_up(ctx: JobContext) -> int:
    if ctx.services is None:
        raise RuntimeError("buddy jobs run inside Hearth (hearth serve / run / worker)")
    return usecases.follow_up_due(ctx.services)


JOBS = rituals.ritual_jobs(RITUAL) | Jobs(
    actions={HEADS_UP: _heads_up, FOLLOW_UP: _follow_up},
    always=[JobSpec(id=HEADS_UP, action=HEADS_UP, every=HEADS_UP_EVERY),
            JobSpec(id=FOLLOW_UP, action=FOLLOW_UP, every=HEADS_UP_EVERY)])
