"""Survey schedules: a survey launched to one audience on the shared cadence (slack_app.surveys.schedules).

One schedule per (survey, audience). `last_occurrence` is the last scheduled launch claimed (a conditional
update, so a cadence job, the sweep and a second leader launch it once); `last_outcome` says how it went
(launched, or why not) for `hearth surveys schedules` and App Home. Functions take the caller's session.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String, Text, UniqueConstraint, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.checkins import UTCDateTime
from storage.models import Base, utcnow


class SurveySchedule(Base):
    __tablename__ = "survey_schedule"
    __table_args__ = (UniqueConstraint("team_id", "survey", "audience_key", name="uq_survey_schedule_audience"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    survey: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)  # the instrument's YAML when scheduled: later launches ask the same
    audience_key: Mapped[str] = mapped_column(String(40))  # storage.surveys.audience_key
    channel_id: Mapped[str | None] = mapped_column(String(32))
    cadence: Mapped[str] = mapped_column(String(16))
    weekday: Mapped[int]
    local_time: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    anchor_date: Mapped[date]
    closes_hours: Mapped[int]
    min_responses: Mapped[int | None]
    breakdowns: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str | None] = mapped_column(String(32))  # gets the results and any refusal
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_occurrence: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(32))


def all_schedules(s: Session, team_id: str | None = None) -> list[SurveySchedule]:
    q = select(SurveySchedule).order_by(SurveySchedule.id)
    if team_id is not None:
        q = q.where(SurveySchedule.team_id == team_id)
    return list(s.scalars(q))


def find(s: Session, team_id: str, survey: str, audience_key: str) -> SurveySchedule | None:
    return s.scalars(select(SurveySchedule).where(SurveySchedule.team_id == team_id, SurveySchedule.survey == survey,
                                                  SurveySchedule.audience_key == audience_key)).first()


def claim(s: Session, schedule_id: int, occurrence: datetime) -> bool:
    """Claim one scheduled launch, once whoever wakes it."""
    done = s.execute(update(SurveySchedule).where(
        SurveySchedule.id == schedule_id,
        or_(SurveySchedule.last_occurrence.is_(None), SurveySchedule.last_occurrence < occurrence),
    ).values(last_occurrence=occurrence))
    return bool(done.rowcount)


def release(s: Session, schedule_id: int, occurrence: datetime, previous: datetime | None) -> None:
    """Give a claimed launch back (Slack could not list the audience): the next sweep tries again."""
    s.execute(update(SurveySchedule).where(SurveySchedule.id == schedule_id,
                                           SurveySchedule.last_occurrence == occurrence)
              .values(last_occurrence=previous))
