"""The one pure calendar (slack_app.scheduling.cadence): properties over DST zones, and the DST rule by example.

The rule under test: one occurrence per matching local day; a wall-clock time skipped by a spring-forward
change occurs at wall time + the gap; a time repeated in autumn occurs once, at its first occurrence.
"""

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slack_app.scheduling import cadence as cal
from slack_app.scheduling.cadence import Cadence


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


ZONES = ["Australia/Sydney", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
         "Pacific/Chatham", "Asia/Kolkata", "UTC"]

cadences = st.builds(
    lambda kind, weekday, hour, minute, tz, anchor: Cadence(kind, weekday, f"{hour:02d}:{minute:02d}", tz, anchor),
    kind=st.sampled_from(cal.KINDS), weekday=st.integers(0, 6), hour=st.integers(0, 23),
    minute=st.sampled_from([0, 1, 15, 30, 45, 59]), tz=st.sampled_from(ZONES),
    anchor=st.one_of(st.none(), st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 1, 1))),
)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC))


def wall_gap(c: Cadence, fire: datetime) -> timedelta:
    """How far the local clock at an occurrence is past the configured time on that day."""
    local = fire.astimezone(ZoneInfo(c.tz))
    return local.replace(tzinfo=None) - datetime.combine(local.date(), c.local_time)


@settings(max_examples=300, deadline=None)
@given(c=cadences, start=instants)
def test_occurrences_strictly_increase_one_per_local_day_on_the_weekday_at_the_wall_time(c, start):
    fired = list(cal.occurrences(c, start, start + timedelta(days=150)))
    assert len(fired) >= 4
    assert all(a < b for a, b in zip(fired, fired[1:], strict=False))
    days = [f.astimezone(ZoneInfo(c.tz)).date() for f in fired]
    assert len(set(days)) == len(days)  # never two in one local day
    for fire, day in zip(fired, days, strict=True):
        assert fire.tzinfo is not None and fire.utcoffset() == timedelta(0)
        assert day.weekday() == c.weekday and cal.falls_on(c, day)
        # the configured time, or later by a skipped gap (at most an hour in these zones; 30 min on Lord Howe)
        assert timedelta(0) <= wall_gap(c, fire) <= timedelta(hours=1)
        if c.kind == "monthly":
            assert day.day <= 7
    expected = {"weekly": {7}, "biweekly": {14}, "fourweekly": {28}, "monthly": {28, 35}}[c.kind]
    assert {(b - a).days for a, b in zip(days, days[1:], strict=False)} <= expected
    assert min(b - a for a, b in zip(fired, fired[1:], strict=False)) >= cal.period(c) - timedelta(hours=1)


@settings(max_examples=300, deadline=None)
@given(c=cadences, t=instants)
def test_next_and_previous_bracket_an_instant_with_nothing_between(c, t):
    before, after = cal.previous_at_or_before(c, t), cal.next_after(c, t)
    assert before <= t < after
    assert cal.next_after(c, before) == after  # no occurrence strictly between them
    assert cal.previous_at_or_before(c, after) == after  # "at or before" includes the instant itself
    assert cal.previous_at_or_before(c, after - timedelta(microseconds=1)) == before
    assert list(cal.occurrences(c, before, after)) == [before, after]


@settings(max_examples=100, deadline=None)
@given(c=cadences, t=instants)
def test_the_answer_does_not_depend_on_the_zone_the_instant_is_written_in(c, t):
    elsewhere = t.astimezone(ZoneInfo("Pacific/Kiritimati"))
    assert cal.next_after(c, elsewhere) == cal.next_after(c, t)
    assert cal.previous_at_or_before(c, elsewhere) == cal.previous_at_or_before(c, t)


# ---- DST by example -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("tz", "day", "at", "expected_utc", "local_clock"), [
    # spring forward: the skipped wall time occurs at wall + gap, once
    ("Europe/Berlin", date(2024, 3, 31), "02:30", utc(2024, 3, 31, 1, 30), time(3, 30)),
    ("America/New_York", date(2024, 3, 10), "02:15", utc(2024, 3, 10, 7, 15), time(3, 15)),
    ("Australia/Sydney", date(2024, 10, 6), "02:30", utc(2024, 10, 5, 16, 30), time(3, 30)),
    ("Australia/Lord_Howe", date(2024, 10, 6), "02:10", utc(2024, 10, 5, 15, 40), time(2, 40)),  # 30-min gap
    # fall back: the repeated wall time occurs once, at its first occurrence (still on summer time)
    ("Europe/Berlin", date(2024, 10, 27), "02:30", utc(2024, 10, 27, 0, 30), time(2, 30)),
    ("America/New_York", date(2024, 11, 3), "01:30", utc(2024, 11, 3, 5, 30), time(1, 30)),
    ("Australia/Sydney", date(2024, 4, 7), "02:30", utc(2024, 4, 6, 15, 30), time(2, 30)),
])
def test_dst_gap_and_fold_examples(tz, day, at, expected_utc, local_clock):
    c = Cadence("weekly", 6, at, tz)
    midnight = datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(tz))
    fired = list(cal.occurrences(c, midnight - timedelta(days=1), midnight + timedelta(days=2)))
    assert fired == [expected_utc]
    assert fired[0].astimezone(ZoneInfo(tz)).time() == local_clock
    assert cal.previous_at_or_before(c, midnight + timedelta(days=1, hours=12)) == expected_utc


def test_weekly_keeps_the_wall_clock_in_sydney_whose_summer_is_our_winter():
    c = Cadence("weekly", 0, "09:00", "Australia/Sydney")  # Mondays 09:00; AEDT ends Sun 7 April 2024
    fired = list(cal.occurrences(c, utc(2024, 3, 30), utc(2024, 4, 10)))
    assert fired == [utc(2024, 3, 31, 22, 0), utc(2024, 4, 7, 23, 0)]  # UTC+11, then UTC+10


def test_every_n_weeks_counts_from_the_anchor_week_in_both_directions():
    c = Cadence("fourweekly", 2, "12:00", "UTC", anchor=date(2024, 6, 7))  # a Friday: its week's Wednesday counts
    assert cal.next_after(c, utc(2024, 6, 1)) == utc(2024, 6, 5, 12)
    assert cal.previous_at_or_before(c, utc(2024, 6, 1)) == utc(2024, 5, 8, 12)  # weeks before the anchor too
    assert cal.period(c) == timedelta(weeks=4) and cal.period(Cadence("monthly", 0, "09:00")) == timedelta(weeks=4)


def test_first_weekday_of_the_month_across_a_year_end():
    c = Cadence("monthly", 4, "18:00", "America/New_York")
    assert list(cal.occurrences(c, utc(2024, 12, 1), utc(2025, 2, 28))) == [
        utc(2024, 12, 6, 23), utc(2025, 1, 3, 23), utc(2025, 2, 7, 23)]


def test_bad_cadences_and_naive_instants_are_refused():
    for bad in [dict(kind="daily"), dict(weekday=-1), dict(at="24:00"), dict(at="9"), dict(tz="Nowhere/Land")]:
        with pytest.raises((ValueError, LookupError)):
            Cadence(**({"kind": "weekly", "weekday": 0, "at": "10:00", "tz": "UTC"} | bad))
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.next_after(Cadence("weekly", 0, "10:00"), datetime(2024, 1, 1))
    assert Cadence(cal.Kind.BIWEEKLY, 0, "10:00").to_dict()["kind"] == "biweekly"


def test_the_calendar_and_the_check_in_rules_import_no_scheduler_slack_or_database():
    code = ("import sys, slack_app.scheduling.cadence, slack_app.checkins.rules; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "{'apscheduler', 'slack_sdk', 'slack_bolt', 'sqlalchemy', 'boto3'}]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
