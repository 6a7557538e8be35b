"""Scheduled survey launches: a survey launched to one audience on the shared cadence, as a ritual
(slack_app.scheduling.rituals).

A schedule keeps the survey's YAML from when it was made, the audience, the cadence, how long each run stays
open (shorter than the gap between launches, so one run closes before the next opens) and the run settings.
Each occurrence is claimed with a conditional update on `last_occurrence` (so the cadence job, the sweep and a
second leader launch it once) and then launched through `usecases.launch` — the same path as an admin's
launch, with the same refusals. A refused launch (audience below the minimum, a survey still open there) is
not retried: the admins are told kindly, once per occurrence, and `last_outcome` says why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from slack_app.scheduling import rituals
from slack_app.scheduling.cadence import KINDS, WEEKDAYS, Cadence, next_after, period
from slack_app.scheduling.rituals import Due
from slack_app.surveys import usecases
from storage import outbox
from storage import survey_schedules as repo
from storage.models import utcnow
from storage.surveys import audience_key
from surveys.loader import parse_instrument
from surveys.model import MIN_RESPONSES_RANGE, Instrument

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.services import Services
    from slack_app.slack_port import SlackPort

log = logging.getLogger("hearth.surveys")

# What admins type → the shared calendar's kinds (both spellings are accepted).
CADENCES = {"weekly": "weekly", "every-2-weeks": "biweekly", "biweekly": "biweekly",
            "every-4-weeks": "fourweekly", "fourweekly": "fourweekly", "monthly": "monthly"}
CADENCE_WORDS = {"weekly": "weekly", "biweekly": "every-2-weeks", "fourweekly": "every-4-weeks", "monthly": "monthly"}


class ScheduleError(ValueError):
    """A schedule that cannot work; the message is one line an admin can act on. `field` names the setting
    (cadence, day, time, timezone, closes, min-responses) and `value` what was given, for other wordings."""

    def __init__(self, message: str, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field, self.value = field, value


def cadence_from(words: str, day: str, at: str, tz: str, *, anchor: date) -> Cadence:
    """A cadence from what an admin typed (`every-2-weeks`, `mon`, `10:00`, `Europe/Berlin`)."""
    kind = CADENCES.get(words.lower())
    if kind is None or kind not in KINDS:
        raise ScheduleError(f"--cadence {words} is not one of weekly, every-2-weeks, every-4-weeks, monthly",
                            "cadence", words)
    weekday = day.lower()[:3]
    if weekday not in WEEKDAYS or len(day) < 3:
        raise ScheduleError(f"--day {day} is not a weekday (mon … sun)", "day", day)
    try:
        hour, minute = (int(x) for x in at.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        raise ScheduleError(f"--time {at} is not a time like 10:00", "time", at) from None
    try:
        return Cadence(kind, WEEKDAYS.index(weekday), f"{hour:02d}:{minute:02d}", tz, anchor)
    except (ValueError, KeyError):
        raise ScheduleError(f"--timezone {tz} is not a time zone like Europe/Berlin", "timezone", tz) from None


def cadence_of(row: repo.SurveySchedule) -> Cadence:
    return Cadence(row.cadence, row.weekday, row.local_time, row.timezone, row.anchor_date)


@dataclass(frozen=True)
class Scheduled:
    """A schedule as admins see it (`hearth surveys schedules`, App Home)."""

    survey: str
    channel_id: str | None
    when: str  # "every 2nd mon 10:00 Europe/Berlin"
    cadence: str  # as typed: weekly, every-2-weeks, …
    next_launch: datetime
    closes_hours: int
    min_responses: int | None
    breakdowns: tuple[str, ...]
    last_occurrence: datetime | None
    last_outcome: str | None


def _scheduled(row: repo.SurveySchedule, now: datetime) -> Scheduled:
    cadence = cadence_of(row)
    return Scheduled(row.survey, row.channel_id, cadence.describe(), CADENCE_WORDS[row.cadence],
                     next_after(cadence, max(now, row.enabled_at, row.last_occurrence or row.enabled_at)),
                     row.closes_hours, row.min_responses, tuple(d for d in row.breakdowns.split(",") if d),
                     row.last_occurrence, row.last_outcome)


def schedule(services: Services, team_id: str, instrument: Instrument, source: str, *, channel_id: str | None,
             cadence: Cadence, closes: timedelta, min_responses: int | None = None,
             breakdowns: tuple[str, ...] = (), created_by: str | None = None,
             now: datetime | None = None) -> tuple[Scheduled, bool]:
    """Schedule `instrument` for an audience (or change its schedule); (the schedule, whether it is new).
    Occurrences before now never launch (a new schedule starts with the next one)."""
    now = now or utcnow()
    low, high = MIN_RESPONSES_RANGE
    if min_responses is not None and not low <= min_responses <= high:
        raise ScheduleError(f"--min-responses must be between {low} and {high}", "min-responses", min_responses)
    gap = period(cadence)
    if closes >= gap:
        raise ScheduleError(f"--closes must be shorter than the {gap.days} days between launches, so each survey "
                            "closes before the next one opens", "closes", gap.days)
    with services.db.session() as s:
        row = repo.find(s, team_id, instrument.name, audience_key(channel_id))
        created = row is None
        if row is None:
            row = repo.SurveySchedule(team_id=team_id, survey=instrument.name, audience_key=audience_key(channel_id),
                                      channel_id=channel_id)
            s.add(row)
        row.source, row.cadence, row.weekday, row.local_time = source, cadence.kind, cadence.weekday, cadence.at
        row.timezone, row.anchor_date = cadence.tz, cadence.anchor or now.date()
        row.closes_hours = max(1, int(closes.total_seconds() // 3600))
        row.min_responses, row.breakdowns, row.created_by = min_responses, ",".join(breakdowns), created_by
        row.enabled_at = now
        s.flush()
        shown = _scheduled(row, now)
    log.info("surveys.scheduled created=%s", created)
    return shown, created


def unschedule(services: Services, team_id: str, survey: str, channel_id: str | None) -> bool:
    """Stop scheduled launches (runs already open stay open); whether there was such a schedule."""
    with services.db.session() as s:
        row = repo.find(s, team_id, survey, audience_key(channel_id))
        if row is None:
            return False
        s.delete(row)
    return True


def scheduled(services: Services, team_id: str, now: datetime | None = None) -> list[Scheduled]:
    now = now or utcnow()
    with services.db.session() as s:
        return [_scheduled(row, now) for row in repo.all_schedules(s, team_id)]


# ---- the ritual -------------------------------------------------------------------------------------------

class SurveyRitual:
    name = "surveys"

    def cadences(self, session: Session) -> Iterable[tuple[str, str, Cadence]]:
        return [(str(row.id), row.team_id, cadence_of(row)) for row in repo.all_schedules(session)]

    def due(self, session: Session, now: datetime, key: str | None = None) -> Iterable[Due]:
        return rituals.due_since_last(((str(r.id), r.team_id, cadence_of(r), r.last_occurrence, r.enabled_at)
                                       for r in repo.all_schedules(session)), now, key)

    def open(self, services: Services, slack: SlackPort, due: Due, now: datetime) -> str:
        if due.occurrence is None:
            return "nothing_due"
        schedule_id = int(due.key)
        with services.db.session() as s:
            row = s.get(repo.SurveySchedule, schedule_id)
            if row is None:
                return "gone"
            previous = row.last_occurrence
            if not repo.claim(s, schedule_id, due.occurrence):
                return "claimed_elsewhere"
            source, channel_id, hours = row.source, row.channel_id, row.closes_hours
            k, by, admin = row.min_responses, tuple(d for d in row.breakdowns.split(",") if d), row.created_by
        instrument = parse_instrument(source, "schedule.yml")
        result = usecases.launch(services, slack, due.team_id, instrument, source, channel_id=channel_id,
                                 closes=timedelta(hours=hours), min_responses=k, launched_by=admin,
                                 breakdowns=by, now=now)
        with services.db.session() as s:
            if result.status == "slack_busy":  # the audience could not be listed: the next sweep tries again
                repo.release(s, schedule_id, due.occurrence, previous)
                return "deferred"
            s.execute(update(repo.SurveySchedule).where(repo.SurveySchedule.id == schedule_id)
                      .values(last_outcome=result.reason or result.status))
            if result.status != "launched":
                _tell_admins(services, s, due, instrument, channel_id, admin, result)
        log.info("surveys.schedule_opened schedule=%s status=%s run=%s", schedule_id, result.status, result.run_id)
        return rituals.OPENED if result.status == "launched" else result.status


def _tell_admins(services: Services, s: Session, due: Due, instrument: Instrument, channel_id: str | None,
                 admin: str | None, result: usecases.LaunchResult) -> None:
    """Why a scheduled survey did not launch, once per occurrence, to the admin who scheduled it and Hearth's."""
    assert due.occurrence is not None
    admins = sorted({*services.settings.admins, *([admin] if admin else [])})
    text = services.copy.render("survey_schedule_note.j2", title=instrument.title, channel_id=channel_id,
                                day=f"{due.occurrence:%a %d %b}", why=result.message)
    for user_id in admins:
        outbox.enqueue(s, team_id=due.team_id, kind=f"{usecases.KIND}.schedule_note", target=user_id,
                       payload={"text": text},
                       dedupe_key=outbox.key(usecases.KIND, "schedule", due.key, due.occurrence.isoformat(), user_id))


RITUAL = SurveyRitual()
JOBS = rituals.ritual_jobs(RITUAL)
