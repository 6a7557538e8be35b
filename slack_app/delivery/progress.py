"""How fast Hearth sends to each workspace now, and how long the messages waiting still need.

Read by operators (`hearth outbox status`) and admins (App Home): the rate per method — the learned one
where Slack's 429s taught a lower rate than configured (`storage.adaptive`) — and, for a running fan-out,
its unfinished rows at the current chat.postMessage rate. Counts and rates only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from slack_app.delivery.pacing import SlackLimits
from storage import adaptive, outbox, ratelimit

POST = "chat.postMessage"


@dataclass(frozen=True)
class MethodPace:
    method: str
    per_minute: float
    configured_per_minute: float

    @property
    def learned(self) -> bool:
        return self.per_minute < self.configured_per_minute


@dataclass(frozen=True)
class TeamPace:
    team_id: str
    methods: list[MethodPace]   # chat.postMessage first, then every method with a learned rate
    unfinished: int             # messages still to send
    seconds_left: float         # at the current chat.postMessage rate

    @property
    def posting(self) -> MethodPace:
        return self.methods[0]


def pace(session: Session, limits: SlackLimits, team_id: str | None = None) -> list[TeamPace]:
    """One entry per workspace with messages to send or a learned rate (or `team_id` alone)."""
    learned: dict[str, dict[str, float]] = {}
    for key, rate in ratelimit.learned_rates(session, f"{team_id}:" if team_id else "").items():
        team, method = key.split(":", 1)
        if ":" not in method:  # workspace-wide keys only
            learned.setdefault(team, {})[method] = rate
    waiting = outbox.unfinished_by_team(session, team_id)
    teams = sorted(set(learned) | set(waiting) | ({team_id} if team_id else set()))
    return [_team(team, learned.get(team, {}), waiting.get(team, 0), limits) for team in teams]


def _team(team_id: str, learned: dict[str, float], unfinished: int, limits: SlackLimits) -> TeamPace:
    methods = []
    for method in [POST, *sorted(m for m in learned if m != POST)]:
        ceiling = limits.for_method(method).per_second
        now = adaptive.current(adaptive.Learned(rate=learned.get(method)), ceiling)
        methods.append(MethodPace(method, now * 60, ceiling * 60))
    left = adaptive.seconds_for(unfinished, methods[0].per_minute / 60)
    return TeamPace(team_id, methods, unfinished, left)
