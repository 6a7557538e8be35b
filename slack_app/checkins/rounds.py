"""Rounds of check-ins: opening (on schedule or by hand), the one reminder, closing with a summary.

Opening asks Slack two things first, outside any transaction — can Hearth post in the channel, and who
is in it (from the roster cache when it is fresh, with no per-member lookups) — then opens the round,
invites and guides in one transaction (outbox rows), so the first invitation leaves at once. Members whose
profile Hearth does not know yet are invited too; the delivery worker resolves each as its turn comes. A round that cannot
be posted waits (`pending`) and admins are told the fix; the every-minute sweep opens it once fixed.
Round states move with conditional updates, so two openers or closers do the work once; a scheduled
opening is claimed first (`open_occurrence`), so two wakes of one occurrence open one round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from slack_app import roster as roster_service
from slack_app.checkins import audience, rules, views
from slack_app.delivery.worker import resolving
from slack_app.slack_port import SlackError, SlackPort
from storage import checkins as repo
from storage import members, outbox
from storage.checkins import CheckinCircle, CheckinRound, OfferStatus, RoundStatus
from storage.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.services import Services

log = logging.getLogger("hearth.checkins")

KIND = "checkin"
SlackFor = Callable[[str], SlackPort]  # team_id -> a Slack port for that workspace (scheduled work)


def round_key(round_id: int) -> str:
    """The dedupe key of a round's channel message: its thread holds the shares and the summary."""
    return outbox.key(KIND, round_id, "round")


def schedule_of(circle: CheckinCircle) -> rules.Schedule:
    return rules.Schedule(
        cadence=rules.Cadence(circle.cadence), weekday=circle.weekday,
        local_time=rules.parse_local_time(circle.local_time) or rules.DEFAULT_TIME, tz=circle.timezone,
        window=circle.window, remind_before=circle.remind_before, anchor=circle.anchor_date,
    )


# ---- opening a round ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenResult:
    status: str  # opened | already_open | blocked (admins told) | deferred (Slack busy) | no_circle | not_due
    round_id: int | None = None
    invited: int = 0
    facilitator: str | None = None
    problem: str | None = None


def open_round(services: Services, slack: SlackPort, team_id: str, channel_id: str, *,
               now: datetime | None = None) -> OpenResult:
    """Open the circle's next round now (`hearth checkins open`), or retry one waiting for its channel."""
    with services.db.session() as s:
        circle = repo.circle(s, team_id, channel_id)
        circle_id = circle.id if circle else None
    if circle_id is None:
        return OpenResult("no_circle")
    return _open(services, slack, circle_id, now or utcnow())


def _open(services: Services, slack: SlackPort, circle_id: int, now: datetime) -> OpenResult:
    _close_overdue(services, circle_id, now)
    round_id = _pending_round(services, circle_id, now)
    if round_id is None:
        with services.db.session() as s:
            current = repo.current_round(s, circle_id)
            return OpenResult("already_open", current.id if current else None)
    with services.db.session() as s:
        circle = s.get(CheckinCircle, circle_id)
        team_id, channel_id = circle.team_id, circle.channel_id
    # Slack first, outside any transaction: can Hearth post there, and who is in the circle?
    try:
        problem = audience.channel_problem(slack, channel_id)
        roster = roster_service.channel_roster(services, slack, team_id, channel_id, lookups=False) \
            if problem is None else None
    except SlackError as exc:
        if audience.is_transient(exc):  # the every-minute sweep tries the waiting round again
            log.info("checkins.open_deferred circle=%s round=%s error=%s", circle_id, round_id, exc.error)
            return OpenResult("deferred", round_id, problem=exc.error)
        problem, roster = audience.CHANNEL_PROBLEMS.get(exc.error, exc.error), None
    if problem is not None or roster is None:
        _report_problem(services, circle_id, round_id, problem or "unknown")
        return OpenResult("blocked", round_id, problem=problem)
    with services.db.session() as s:
        result = _start_round(services, s, circle_id, round_id, roster, now)
    if roster.unresolved and result.status == "opened":  # the invitations are on their way: now read profiles
        roster_service.warm(services, slack, team_id, roster.unresolved)
    return result


def _pending_round(services: Services, circle_id: int, now: datetime) -> int | None:
    """The round waiting to open (created here if there is none); None when one is already open."""
    for _ in range(2):  # a concurrent opener may create the same round number first
        try:
            with services.db.session() as s:
                current = repo.current_round(s, circle_id)
                if current is not None:
                    return current.id if current.status == RoundStatus.PENDING else None
                circle = s.get(CheckinCircle, circle_id)
                times = rules.round_times(now, circle.window, circle.remind_before)
                return repo.new_round(s, circle_id, opens_at=times.opens_at, remind_at=times.remind_at,
                                      closes_at=times.closes_at, facilitator_id=None).id
        except IntegrityError:
            continue
    return None


def _start_round(services: Services, s: Session, circle_id: int, round_id: int, roster: roster_service.Roster,
                 now: datetime) -> OpenResult:
    circle = s.get(CheckinCircle, circle_id)
    people = audience.people(s, circle.team_id, circle_id, roster.humans)
    invited = rules.invitees(people, now)
    known = [u for u in invited if u not in roster.unresolved]  # an unresolved one might turn out to be a bot
    facilitator = _choose_facilitator(s, circle, known or invited) if circle.rotate_facilitator else None
    times = rules.round_times(now, circle.window, circle.remind_before)
    claimed = s.execute(
        update(CheckinRound).where(CheckinRound.id == round_id, CheckinRound.status == RoundStatus.PENDING)
        .values(status=RoundStatus.OPEN, opens_at=times.opens_at, remind_at=times.remind_at,
                closes_at=times.closes_at, facilitator_id=facilitator),
        execution_options={"synchronize_session": False})
    if claimed.rowcount != 1:  # another opener got there first
        return OpenResult("already_open", round_id)
    round_ = s.get(CheckinRound, round_id)
    s.refresh(round_)
    for user_id in roster.humans:
        repo.add_participant(s, round_id, user_id, invited=user_id in invited)
    circle.problem = None
    circle.next_facilitator_id = None
    team_id, copy = circle.team_id, services.copy
    outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.round", target=circle.channel_id,
                   payload=views.round_message(copy, circle, round_), dedupe_key=round_key(round_id))
    messages = []
    unresolved = set(roster.unresolved)
    for user_id in invited:
        snooze = snooze_offer(now, roster.tz.get(user_id))
        payload = (views.facilitator_guide(copy, circle, round_, snooze) if user_id == facilitator
                   else views.invitation(copy, circle, round_, user_id, snooze))
        # the worker checks who an unresolved member is when the message's turn comes
        messages.append(dict(team_id=team_id, kind=f"{KIND}.invite", target=user_id,
                             payload=resolving(payload, user_id in unresolved),
                             dedupe_key=outbox.key(KIND, round_id, user_id, "invite")))
    outbox.enqueue_many(s, messages)
    log.info("checkins.round_opened circle=%s round=%s number=%s members=%s invited=%s facilitator=%s unresolved=%s",
             circle_id, round_id, round_.number, len(roster.humans), len(invited), facilitator is not None,
             len(unresolved))
    return OpenResult("opened", round_id, len(invited), facilitator)


def snooze_offer(now: datetime, tz: str | None) -> views.Snooze:
    """The "Snooze until …" of a DM: two weeks, to the member's local midnight."""
    zone = tz if tz and rules.is_time_zone(tz) else "UTC"
    return views.Snooze(rules.snooze_until(now, zone), zone)


def _choose_facilitator(s: Session, circle: CheckinCircle, candidates: list[str]) -> str | None:
    """The one chosen when the last round closed if they can still take it; otherwise fair rotation."""
    if circle.next_facilitator_id in candidates:
        return circle.next_facilitator_id
    return rules.next_facilitator(candidates, repo.facilitator_history(s, circle.id))


def _report_problem(services: Services, circle_id: int, round_id: int, problem: str) -> None:
    """Keep the round waiting and tell admins, once per round and problem, how to fix it."""
    with services.db.session() as s:
        circle = s.get(CheckinCircle, circle_id)
        circle.problem = problem
        admins = sorted({*services.settings.admins, *([circle.created_by] if circle.created_by else [])})
        payload = views.admin_problem(services.copy, circle, problem)
        outbox.enqueue_many(s, [
            dict(team_id=circle.team_id, kind=f"{KIND}.problem", target=admin, payload=payload,
                 dedupe_key=outbox.key(KIND, round_id, "problem", problem, admin))
            for admin in admins
        ])
    log.warning("checkins.round_blocked circle=%s round=%s problem=%s admins_told=%s",
                circle_id, round_id, problem, len(admins))


# ---- scheduled work -------------------------------------------------------------------------------------
# Scheduled openings go through `slack_app.scheduling.rituals.open_due` (see checkins/ritual.py): it decides
# which circles are due and calls `open_occurrence`, whoever woke it (the circle's cadence job or the sweep).

def open_occurrence(services: Services, slack: SlackPort, circle_id: int, occurrence: datetime | None, *,
                    now: datetime | None = None) -> OpenResult:
    """Open the round of a scheduled occurrence, once; None retries a round already claimed and waiting.

    The claim moves `next_open_at` from `occurrence` to the next opening with a conditional update in the
    same transaction that creates the (pending) round: of two wakes only one claims it, and a crash after
    the claim leaves a pending round the sweep retries rather than a lost opening.
    """
    now = now or utcnow()
    if occurrence is not None:
        _close_overdue(services, circle_id, now)
        if not _claim(services, circle_id, occurrence, now):
            return OpenResult("not_due")
    return _open(services, slack, circle_id, now)


def _close_overdue(services: Services, circle_id: int, now: datetime) -> None:
    with services.db.session() as s:
        current = repo.current_round(s, circle_id)
        overdue = current.id if current and current.status == RoundStatus.OPEN and current.closes_at <= now else None
    if overdue is not None:  # a round as long as the cadence closes just as the next one opens
        _close(services, overdue, now)


def _claim(services: Services, circle_id: int, occurrence: datetime, now: datetime) -> bool:
    try:
        with services.db.session() as s:
            circle = s.get(CheckinCircle, circle_id)
            if circle is None or not circle.enabled:
                return False
            following = rules.next_open(schedule_of(circle), now)  # after a long outage: one round, not many
            moved = s.execute(
                update(CheckinCircle).where(CheckinCircle.id == circle_id, CheckinCircle.enabled.is_(True),
                                            CheckinCircle.next_open_at == occurrence)
                .values(next_open_at=following), execution_options={"synchronize_session": False})
            if moved.rowcount != 1:  # another wake claimed it, or the settings changed since
                return False
            if repo.current_round(s, circle_id) is None:
                times = rules.round_times(now, circle.window, circle.remind_before)
                repo.new_round(s, circle_id, opens_at=times.opens_at, remind_at=times.remind_at,
                               closes_at=times.closes_at, facilitator_id=None)
            return True
    except IntegrityError:  # a round opened by hand took the number: nothing was claimed; the sweep retries
        return False


def due_circles(s: Session, now: datetime, circle_id: int | None = None) -> dict[int, tuple[str, datetime | None]]:
    """Circles to open: id -> (team, the occurrence to claim, or None to retry a waiting round)."""
    work: dict[int, tuple[str, datetime | None]] = {}
    for round_ in repo.pending_rounds(s):
        circle = s.get(CheckinCircle, round_.circle_id)
        if circle.enabled:
            work[circle.id] = (circle.team_id, None)
    for circle in repo.circles_due(s, now):
        work[circle.id] = (circle.team_id, circle.next_open_at)
    return {k: v for k, v in work.items() if circle_id is None or k == circle_id}


def remind_due(services: Services, slack_for: SlackFor, now: datetime | None = None) -> int:
    now = now or utcnow()
    with services.db.session() as s:
        due = [(r.id, s.get(CheckinCircle, r.circle_id).team_id) for r in repo.rounds_to_remind(s, now)]
    sent = 0
    for round_id, team_id in due:
        try:
            sent += remind_round(services, slack_for(team_id), round_id, now=now)
        except Exception:
            log.exception("checkins.remind_failed round=%s", round_id)
    return sent


def close_due(services: Services, now: datetime | None = None) -> int:
    now = now or utcnow()
    with services.db.session() as s:
        due = [r.id for r in repo.rounds_to_close(s, now)]
    closed = 0
    for round_id in due:
        try:
            closed += _close(services, round_id, now) is not None
        except Exception:
            log.exception("checkins.close_failed round=%s", round_id)
    return closed


# ---- membership changes during a round ------------------------------------------------------------------

def sync_members(services: Services, slack: SlackPort, round_id: int, now: datetime) -> None:
    """Mark who left the channel since the round opened and add who joined (best effort)."""
    with services.db.session() as s:
        round_ = s.get(CheckinRound, round_id)
        circle = s.get(CheckinCircle, round_.circle_id)
        team_id, channel_id = circle.team_id, circle.channel_id
    try:
        roster = roster_service.channel_roster(services, slack, team_id, channel_id)
    except SlackError as exc:
        log.info("checkins.sync_skipped round=%s error=%s", round_id, exc.error)
        return
    current = set(roster.humans)
    with services.db.session() as s:
        for p in repo.participants(s, round_id):
            if p.user_id not in current and p.left_at is None:
                p.left_at = now
        for user_id in current:
            repo.add_participant(s, round_id, user_id, invited=False)


def member_left(services: Services, team_id: str, channel_id: str, user_id: str) -> None:
    """Someone left a circle's channel mid-round: no reminder, and they no longer count as missing."""
    with services.db.session() as s:
        circle = repo.circle(s, team_id, channel_id)
        current = repo.current_round(s, circle.id) if circle else None
        row = repo.participant(s, current.id, user_id) if current else None
        if row is not None and row.left_at is None:
            row.left_at = utcnow()


# ---- reminders ------------------------------------------------------------------------------------------

def remind_round(services: Services, slack: SlackPort, round_id: int, *, now: datetime | None = None) -> int:
    """The one gentle reminder of a round, to members still here who have not checked in."""
    now = now or utcnow()
    sync_members(services, slack, round_id, now)
    with services.db.session() as s:
        round_ = s.get(CheckinRound, round_id)
        if round_.status != RoundStatus.OPEN or round_.reminded_at is not None:
            return 0
        circle = s.get(CheckinCircle, round_.circle_id)
        rows = repo.participants(s, round_id)
        done = {c.user_id for c in repo.checkins_of_round(s, round_id)}
        facts = {p.user_id: p for p in audience.people(s, circle.team_id, circle.id, [r.user_id for r in rows])}
        targets = rules.reminder_targets(
            [rules.Participant(facts[r.user_id], checked_in=r.user_id in done, left=r.left_at is not None,
                               reminded=r.reminded_at is not None) for r in rows], now)
        records = members.by_id(s, circle.team_id, targets)
        messages = []
        for row in rows:
            if row.user_id in targets:
                row.reminded_at = now
                record = records.get(row.user_id)
                messages.append(dict(
                    team_id=circle.team_id, kind=f"{KIND}.reminder", target=row.user_id,
                    payload=views.reminder(services.copy, circle, round_, row.user_id,
                                           snooze_offer(now, record.tz if record else None)),
                    dedupe_key=outbox.key(KIND, round_id, row.user_id, "reminder")))
        outbox.enqueue_many(s, messages)
        round_.reminded_at = now
    log.info("checkins.reminded round=%s reminders=%s", round_id, len(targets))
    return len(targets)


# ---- closing --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CloseResult:
    status: str  # closed | not_open | no_circle
    round_id: int | None = None
    summary: rules.Summary | None = None
    next_facilitator: str | None = None


def close_round(services: Services, team_id: str, channel_id: str, *, now: datetime | None = None) -> CloseResult:
    with services.db.session() as s:
        circle = repo.circle(s, team_id, channel_id)
        if circle is None:
            return CloseResult("no_circle")
        current = repo.current_round(s, circle.id)
        if current is None:
            return CloseResult("not_open")
        round_id = current.id
    return _close(services, round_id, now or utcnow()) or CloseResult("not_open", round_id)


def _close(services: Services, round_id: int, now: datetime) -> CloseResult | None:
    with services.db.session() as s:
        was = s.get(CheckinRound, round_id).status
        claimed = s.execute(
            update(CheckinRound).where(CheckinRound.id == round_id,
                                       CheckinRound.status.in_((RoundStatus.OPEN, RoundStatus.PENDING)))
            .values(status=RoundStatus.CLOSED, closed_at=now), execution_options={"synchronize_session": False})
        if claimed.rowcount != 1:
            return None
        round_ = s.get(CheckinRound, round_id)
        s.refresh(round_)
        circle = s.get(CheckinCircle, round_.circle_id)
        if was == RoundStatus.PENDING:  # never reached the channel: nothing to summarise
            log.info("checkins.round_dropped circle=%s round=%s", circle.id, round_id)
            return CloseResult("closed", round_id, rules.summarize([], []))
        summary = rules.summarize([c.has_challenge for c in repo.checkins_of_round(s, round_id)],
                                  [o.status == OfferStatus.ACCEPTED for o in repo.help_offers_of_round(s, round_id)])
        following = None
        if circle.rotate_facilitator:
            stayed = [p.user_id for p in repo.participants(s, round_id) if p.left_at is None]
            reachable = rules.invitees(audience.people(s, circle.team_id, circle.id, stayed), now)
            following = rules.next_facilitator(reachable, repo.facilitator_history(s, circle.id))
        circle.next_facilitator_id = following
        copy = services.copy
        outbox.enqueue(s, team_id=circle.team_id, kind=f"{KIND}.summary", target=circle.channel_id,
                       payload={**views.summary(copy, round_, summary, following), "thread_of": round_key(round_id)},
                       dedupe_key=outbox.key(KIND, round_id, "summary"))
        outbox.enqueue(s, team_id=circle.team_id, kind=f"{KIND}.round", target=circle.channel_id,
                       payload={**views.round_closed_message(copy, circle, round_), "update_of": round_key(round_id)},
                       dedupe_key=outbox.key(KIND, round_id, "round", "closed"))
    log.info("checkins.round_closed round=%s checked_in=%s asks_shared=%s help_offers=%s help_accepted=%s",
             round_id, summary.checked_in, summary.challenges_shared, summary.help_offered, summary.help_accepted)
    return CloseResult("closed", round_id, summary, following)
