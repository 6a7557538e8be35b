"""What App Home shows about check-ins, and the operators' status of each circle.

`section()` returns the check-in blocks of a member's App Home; `slack_app.home` places them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_app import home as app_home
from slack_app import preferences
from slack_app.checkins import rules, views
from slack_app.slack_port import SlackPort
from storage import checkins as repo
from storage.checkins import CheckinCircle, RoundStatus
from storage.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.services import Services

OFFERS_FROM_LAST = timedelta(weeks=8)
RECENT_ROUNDS = 6


@dataclass(frozen=True)
class CircleCard:
    circle_id: int
    channel_id: str
    opted_out: bool
    round_id: int | None  # the open round, if any
    closes_at: datetime | None
    checked_in: bool
    facilitating: bool
    streak: int


@dataclass(frozen=True)
class PastCheckin:
    channel_id: str
    opened_at: datetime
    text: repo.CheckinText


@dataclass(frozen=True)
class OfferCard:
    user_id: str
    channel_id: str
    offer: str


@dataclass(frozen=True)
class RoundStats:
    number: int
    members: int
    checked_in: int

    @property
    def rate(self) -> int:
        return rules.participation_rate(self.members, self.checked_in)


@dataclass(frozen=True)
class CircleStats:
    channel_id: str
    enabled: bool
    problem: str | None
    rounds: list[RoundStats]  # newest first


@dataclass(frozen=True)
class HomeData:
    user_id: str
    circles: list[CircleCard]
    past: list[PastCheckin]
    offers: list[OfferCard]
    paused: bool
    snoozed_until: datetime | None
    admin: list[CircleStats] | None  # only for admins


def home_data(services: Services, team_id: str, user_id: str, *, admin: bool,
              now: datetime | None = None) -> HomeData:
    with services.db.session() as s:
        return read_home_data(s, services, team_id, user_id, admin=admin, now=now)


def read_home_data(s: Session, services: Services, team_id: str, user_id: str, *, admin: bool,
                   now: datetime | None = None, pref: preferences.Preferences | None = None) -> HomeData:
    """`home_data`, in the caller's transaction (`pref`: their preferences, when the caller has read them)."""
    now = now or utcnow()
    every = repo.circles_of_member(s, team_id, user_id)  # with their own opt-outs, not the team's
    channel_of = {c.circle_id: c.channel_id for c in every}
    # Circles whose channel they are still in (a channel never listed counts as in): someone who left sees
    # neither the circle nor its offers (their own past check-ins stay theirs to read).
    circles = [c for c in every if c.listed is not False]
    pref = pref if pref is not None else preferences.of(s, team_id, user_id)
    cards = [_card(s, c, user_id, now) for c in circles]
    past = [PastCheckin(channel_of[c.circle_id], c.opens_at, repo.read_checkin(services.crypto, c))
            for c in repo.checkins_of_member(s, user_id, list(channel_of))]
    offers = [OfferCard(c.user_id, channel_of[c.circle_id], repo.read_checkin(services.crypto, c).offer or "")
              for c in repo.offers_in_circles(s, [c.circle_id for c in circles], since=now - OFFERS_FROM_LAST)
              if c.user_id != user_id and rules.offer_is_browsable(rules.Sharing(c.sharing))]
    stats = [_stats(s, c) for c in repo.circles(s, team_id)] if admin else None
    return HomeData(user_id, cards, past, offers, pref.paused, pref.snoozed_at(now), stats)


def _card(s: Session, circle: repo.CircleOf, user_id: str, now: datetime) -> CircleCard:
    history = repo.took_part(s, circle.circle_id, user_id)
    # A circle has at most one round open or pending: when their newest round is open, that is the one.
    newest = history[-1][0] if history else None
    current = newest if newest is not None and newest.status == RoundStatus.OPEN else repo.current_round(s, circle.circle_id)
    is_open = current is not None and current.status == RoundStatus.OPEN and current.closes_at > now
    closed = [flag for r, flag in history if r.status == RoundStatus.CLOSED]
    # A check-in makes its author a participant, so the open round's is in their history when they have one.
    checked_in = is_open and any(r.id == current.id and flag for r, flag in history)
    return CircleCard(
        circle_id=circle.circle_id, channel_id=circle.channel_id, opted_out=circle.opted_out,
        round_id=current.id if is_open else None, closes_at=current.closes_at if is_open else None,
        checked_in=checked_in, facilitating=is_open and current.facilitator_id == user_id,
        streak=rules.streak(closed, open_round_checked_in=checked_in),
    )


def _stats(s: Session, circle: CheckinCircle) -> CircleStats:
    rounds = []
    for r in repo.rounds_of(s, circle.id, limit=RECENT_ROUNDS):
        if r.status == RoundStatus.PENDING:
            continue
        members = sum(1 for p in repo.participants(s, r.id) if p.left_at is None)
        rounds.append(RoundStats(r.number, members, len(repo.checkins_of_round(s, r.id))))
    return CircleStats(circle.channel_id, circle.enabled, circle.problem, rounds)


def section(viewer: app_home.Viewer) -> list[dict]:
    """The check-in blocks of this member's App Home (admins also see participation per circle)."""
    with viewer.reading() as s:
        data = read_home_data(s, viewer.services, viewer.team_id, viewer.user_id, admin=viewer.is_admin,
                              pref=viewer.shared)
    return views.home_blocks(viewer.services.copy, data)


def publish(services: Services, slack: SlackPort, team_id: str, user_id: str) -> None:
    """Republish App Home after a check-in change."""
    app_home.show(services, slack, team_id, user_id)


# ---- operators ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CircleStatus:
    channel_id: str
    enabled: bool
    cadence: str
    weekday: int
    local_time: str
    timezone: str
    window: str
    sharing: str
    rotate: bool
    next_open_at: datetime | None
    problem: str | None
    round_number: int | None
    round_status: str | None
    closes_at: datetime | None
    participants: int
    checked_in: int


def circle_status(services: Services, team_id: str) -> list[CircleStatus]:
    out = []
    with services.db.session() as s:
        for c in repo.circles(s, team_id):
            current = repo.current_round(s, c.id)
            members = [p for p in repo.participants(s, current.id) if p.left_at is None] if current else []
            out.append(CircleStatus(
                c.channel_id, c.enabled, c.cadence, c.weekday, c.local_time, c.timezone,
                rules.format_duration(c.window), c.sharing, c.rotate_facilitator, c.next_open_at, c.problem,
                current.number if current else None, current.status if current else None,
                current.closes_at if current else None, len(members),
                len(repo.checkins_of_round(s, current.id)) if current else 0,
            ))
    return out
