"""The pure rules of check-ins: rotation fairness, schedules across daylight-saving changes, validation,
audiences, counts and streaks."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slack_app.checkins import rules
from slack_app.checkins.rules import Cadence, Participant, Person, Schedule, Sharing

UTC = UTC
PEOPLE = [f"U{i:02d}" for i in range(12)]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---- rotation fairness ----------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(
    members=st.sets(st.sampled_from(PEOPLE), min_size=1, max_size=8),
    earlier=st.lists(st.sampled_from(PEOPLE), max_size=20),
    rounds=st.integers(min_value=1, max_value=30),
)
def test_with_a_stable_membership_any_n_consecutive_facilitators_are_all_different(members, earlier, rounds):
    history = list(earlier)  # whatever happened before, with people who may since have left
    picks = []
    for _ in range(rounds):
        pick = rules.next_facilitator(members, history)
        assert pick in members
        picks.append(pick)
        history.append(pick)
    n = len(members)
    for start in range(len(picks)):
        window = picks[start:start + n]
        assert len(set(window)) == len(window), "someone facilitated twice before everyone once"
    if rounds >= n:
        assert set(picks[:n]) == members


membership_change = st.tuples(
    st.sets(st.sampled_from(PEOPLE), max_size=2),  # who joins before this round
    st.sets(st.sampled_from(PEOPLE), max_size=2),  # who leaves before this round
)


@settings(max_examples=200, deadline=None)
@given(start=st.sets(st.sampled_from(PEOPLE), min_size=1, max_size=6),
       changes=st.lists(membership_change, min_size=1, max_size=30))
def test_with_joiners_and_leavers_nobody_facilitates_again_before_every_current_member_has(start, changes):
    members = set(start)
    history: list[str] = []
    for joined, left in changes:
        members = (members | joined) - left
        pick = rules.next_facilitator(members, history)
        if not members:
            assert pick is None
            continue
        assert pick in members
        if pick in history:
            previous = len(history) - 1 - history[::-1].index(pick)
            since = set(history[previous + 1:])
            assert members - {pick} <= since, "a current member was skipped while someone went twice"
        history.append(pick)


def test_a_newcomer_facilitates_before_anyone_goes_twice():
    history = ["UA", "UB", "UC"]
    assert rules.next_facilitator({"UA", "UB", "UC", "UNEW"}, history) == "UNEW"


def test_a_circle_of_one_is_always_facilitated_by_that_member_and_an_empty_one_by_nobody():
    assert rules.next_facilitator({"UA"}, ["UA", "UA"]) == "UA"
    assert rules.next_facilitator(set(), ["UA"]) is None


# ---- schedules ------------------------------------------------------------------------------------------

BERLIN_MONDAY_10 = Schedule(Cadence.WEEKLY, 0, time(10, 0), "Europe/Berlin")


def test_weekly_opening_keeps_local_time_across_spring_forward():
    # Berlin moves from UTC+1 to UTC+2 on Sunday 2024-03-31.
    before = rules.next_open(BERLIN_MONDAY_10, utc(2024, 3, 20))
    after = rules.next_open(BERLIN_MONDAY_10, before)
    assert before == utc(2024, 3, 25, 9, 0)
    assert after == utc(2024, 4, 1, 8, 0)
    assert after - before == timedelta(days=7, hours=-1)


def test_weekly_opening_keeps_local_time_across_fall_back():
    # Berlin returns to UTC+1 on Sunday 2024-10-27.
    first = rules.next_open(BERLIN_MONDAY_10, utc(2024, 10, 15))
    assert first == utc(2024, 10, 21, 8, 0)
    assert rules.next_open(BERLIN_MONDAY_10, first) == utc(2024, 10, 28, 9, 0)


def test_new_york_changes_on_a_different_weekend_than_berlin():
    schedule = Schedule(Cadence.WEEKLY, 4, time(9, 30), "America/New_York")  # Fridays 09:30
    first = rules.next_open(schedule, utc(2024, 3, 5))
    assert first == utc(2024, 3, 8, 14, 30)  # EST, UTC-5
    assert rules.next_open(schedule, first) == utc(2024, 3, 15, 13, 30)  # EDT, UTC-4


def test_a_time_skipped_by_spring_forward_opens_an_hour_later_on_the_clock():
    schedule = Schedule(Cadence.WEEKLY, 6, time(2, 30), "Europe/Berlin")  # Sundays 02:30
    opening = rules.next_open(schedule, utc(2024, 3, 30))
    assert opening == utc(2024, 3, 31, 1, 30)
    assert opening.astimezone(ZoneInfo("Europe/Berlin")).time() == time(3, 30)


def test_a_time_repeated_by_fall_back_opens_once_at_its_first_occurrence():
    schedule = Schedule(Cadence.WEEKLY, 6, time(2, 30), "Europe/Berlin")
    opening = rules.next_open(schedule, utc(2024, 10, 26))
    assert opening == utc(2024, 10, 27, 0, 30)
    assert rules.next_open(schedule, opening) == utc(2024, 11, 3, 1, 30)


def test_a_window_is_measured_in_real_hours_across_a_change():
    opens = utc(2024, 10, 26, 8, 0)  # Saturday 10:00 in Berlin, the day before fall back
    times = rules.round_times(opens, timedelta(hours=48), timedelta(hours=6))
    assert times.closes_at == utc(2024, 10, 28, 8, 0)
    assert times.remind_at == utc(2024, 10, 28, 2, 0)


def test_a_reminder_never_comes_before_the_round_opens():
    times = rules.round_times(utc(2024, 1, 1), timedelta(hours=2), timedelta(hours=5))
    assert times.remind_at == times.opens_at


def test_every_two_weeks_counts_from_the_anchor_week():
    schedule = Schedule(Cadence.BIWEEKLY, 2, time(18, 0), "UTC", anchor=date(2024, 1, 3))
    first = rules.next_open(schedule, utc(2024, 1, 1))
    second = rules.next_open(schedule, first)
    assert first == utc(2024, 1, 3, 18)
    assert second == utc(2024, 1, 17, 18)


def test_every_four_weeks_skips_three_weeks():
    schedule = Schedule(Cadence.FOURWEEKLY, 0, time(10, 0), "UTC", anchor=date(2024, 1, 1))
    first = rules.next_open(schedule, utc(2024, 1, 2))
    assert first == utc(2024, 1, 29, 10)


def test_monthly_opens_on_the_first_weekday_of_each_month():
    schedule = Schedule(Cadence.MONTHLY, 0, time(10, 0), "Europe/Berlin")
    first = rules.next_open(schedule, utc(2024, 2, 10))
    assert first == utc(2024, 3, 4, 9, 0)
    assert rules.next_open(schedule, first) == utc(2024, 4, 1, 8, 0)  # after spring forward


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC", "America/Santiago"]


@settings(max_examples=200, deadline=None)
@given(
    cadence=st.sampled_from(list(Cadence)),
    weekday=st.integers(0, 6),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    zone=st.sampled_from(ZONES),
    after=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
)
def test_openings_fall_on_the_weekday_at_the_local_time_and_keep_moving_forward(
    cadence, weekday, hour, minute, zone, after,
):
    schedule = Schedule(cadence, weekday, time(hour, minute), zone, anchor=date(2024, 1, 1))
    after = after.replace(tzinfo=UTC)
    first = rules.next_open(schedule, after)
    second = rules.next_open(schedule, first)
    assert after < first < second
    for opening in (first, second):
        local = opening.astimezone(ZoneInfo(zone))
        wall = datetime.combine(local.date(), time(hour, minute))
        # equal to the configured time, or later by the length of a skipped (spring-forward) gap
        assert timedelta(0) <= local.replace(tzinfo=None) - wall <= timedelta(hours=1)
        assert rules.is_round_day(schedule, local.date())
    gap_days = (second.astimezone(ZoneInfo(zone)).date() - first.astimezone(ZoneInfo(zone)).date()).days
    assert gap_days in ({7 * rules.CADENCE_WEEKS[cadence]} if cadence in rules.CADENCE_WEEKS else {28, 35})


def test_snooze_lasts_until_local_midnight():
    until = rules.snooze_until(utc(2024, 5, 1, 12), "Asia/Tokyo", days=14)
    assert until == utc(2024, 5, 14, 15, 0)  # 2024-05-15 00:00 in Tokyo
    assert rules.snooze_until(utc(2024, 5, 1, 12), "Not/AZone", days=1) == utc(2024, 5, 2)


# ---- settings -------------------------------------------------------------------------------------------

def _settings(**overrides):
    values = dict(cadence="weekly", day="mon", local_time="10:00", tz="Europe/Berlin", window="48h",
                  remind_before=None, sharing="named", rotate_facilitator=True, anchor=date(2024, 1, 1))
    return rules.validate_settings(**{**values, **overrides})


def test_default_settings_parse_with_a_reminder_a_day_before_closing():
    parsed, errors = _settings()
    assert errors == {}
    assert parsed.schedule.window == timedelta(hours=48)
    assert parsed.schedule.remind_before == timedelta(hours=24)
    assert parsed.schedule.weekday == 0 and parsed.schedule.local_time == time(10)


def test_a_short_window_gets_a_reminder_halfway():
    parsed, _ = _settings(window="6h")
    assert parsed.schedule.remind_before == timedelta(hours=3)


@pytest.mark.parametrize(("overrides", "field", "code"), [
    ({"cadence": "daily"}, "cadence", "unknown_cadence"),
    ({"day": "someday"}, "day", "unknown_day"),
    ({"local_time": "25:00"}, "time", "bad_time"),
    ({"local_time": "ten"}, "time", "bad_time"),
    ({"tz": "Mars/Olympus"}, "timezone", "unknown_timezone"),
    ({"window": "forever"}, "window", "bad_duration"),
    ({"window": "8d"}, "window", "window_out_of_range"),
    ({"window": "30m"}, "window", "window_out_of_range"),
    ({"remind_before": "48h"}, "remind_before", "reminder_out_of_range"),
    ({"remind_before": "soon"}, "remind_before", "bad_duration"),
    ({"sharing": "billboard"}, "sharing", "unknown_sharing"),
    ({"sharing": "facilitator", "rotate_facilitator": False}, "sharing", "facilitator_needs_rotation"),
])
def test_bad_settings_name_the_field_and_the_problem(overrides, field, code):
    parsed, errors = _settings(**overrides)
    assert parsed is None
    assert errors[field] == code


def test_durations_and_days_are_read_leniently():
    assert rules.parse_duration("48h") == timedelta(hours=48)
    assert rules.parse_duration("2d") == timedelta(days=2)
    assert rules.parse_duration("90m") == timedelta(minutes=90)
    assert rules.parse_duration("12") == timedelta(hours=12)
    assert rules.parse_duration("1.5h") is None
    assert rules.format_duration(timedelta(hours=48)) == "2d"
    assert rules.format_duration(timedelta(hours=36)) == "36h"
    assert rules.parse_weekday("Monday") == 0 and rules.parse_weekday("sun") == 6


# ---- check-in input -------------------------------------------------------------------------------------

ALL_MODES = rules.allowed_sharing(Sharing.NAMED)


def test_a_valid_check_in_is_trimmed_and_empty_optionals_become_none():
    answers, errors = rules.validate_checkin("  my neighbours \n", "   ", "\u200b", "anonymous", ALL_MODES)
    assert errors == {}
    assert answers.gratitude == "my neighbours"
    assert answers.challenge is None and answers.offer is None
    assert answers.sharing is Sharing.ANONYMOUS


@pytest.mark.parametrize("gratitude", [None, "", "   ", "\u200b\u200b", "\n\t"])
def test_gratitude_is_required_even_when_only_whitespace_was_typed(gratitude):
    answers, errors = rules.validate_checkin(gratitude, "a challenge", None, "named", ALL_MODES)
    assert answers is None and errors == {"gratitude": "required"}


def test_too_long_answers_are_refused_per_field():
    _, errors = rules.validate_checkin("g" * 1001, "c" * 1001, "o" * 301, "named", ALL_MODES)
    assert errors == {"gratitude": "too_long", "challenge": "too_long", "offer": "too_long"}
    answers, errors = rules.validate_checkin("g" * 1000, "c" * 1000, "o" * 300, "named", ALL_MODES)
    assert errors == {} and answers is not None


def test_members_may_share_more_privately_than_the_circle_but_not_more_openly():
    assert rules.allowed_sharing(Sharing.ANONYMOUS) == [Sharing.ANONYMOUS, Sharing.FACILITATOR]
    _, errors = rules.validate_checkin("thanks", None, None, "named", rules.allowed_sharing(Sharing.ANONYMOUS))
    assert errors == {"sharing": "not_allowed"}
    answers, _ = rules.validate_checkin("thanks", None, None, None, rules.allowed_sharing(Sharing.ANONYMOUS))
    assert answers.sharing is Sharing.ANONYMOUS  # no choice means the circle's setting


def test_only_named_offers_are_browsable_and_only_thread_modes_post_in_the_thread():
    assert rules.offer_is_browsable(Sharing.NAMED)
    assert not rules.offer_is_browsable(Sharing.ANONYMOUS)
    assert rules.is_shared_in_thread(Sharing.ANONYMOUS)
    assert not rules.is_shared_in_thread(Sharing.FACILITATOR)


# ---- audiences ------------------------------------------------------------------------------------------

NOW = utc(2024, 6, 3, 10)


def test_invitees_are_reachable_humans_only():
    people = [
        Person("UA"), Person("UBOT", is_human=False), Person("UOUT", opted_out=True), Person("UPAUSE", paused=True),
        Person("USNOOZE", snoozed_until=NOW + timedelta(days=1)), Person("UWOKE", snoozed_until=NOW - timedelta(1)),
    ]
    assert rules.invitees(people, NOW) == ["UA", "UWOKE"]


def test_one_reminder_only_to_members_still_here_who_have_not_checked_in():
    participants = [
        Participant(Person("UA")), Participant(Person("UDONE"), checked_in=True),
        Participant(Person("ULEFT"), left=True), Participant(Person("UAGAIN"), reminded=True),
        Participant(Person("UOUT", opted_out=True)),
    ]
    assert rules.reminder_targets(participants, NOW) == ["UA"]


# ---- counts and streaks ---------------------------------------------------------------------------------

def test_summary_counts_only():
    summary = rules.summarize([True, False, True], [True, False])
    assert summary == rules.Summary(checked_in=3, challenges_shared=2, help_offered=2, help_accepted=1)
    assert rules.summarize([], []) == rules.Summary(0, 0, 0, 0)


def test_streak_counts_back_from_the_newest_round_and_an_open_round_does_not_break_it():
    assert rules.streak([True, False, True, True]) == 2
    assert rules.streak([True, True], open_round_checked_in=True) == 3
    assert rules.streak([True, False]) == 0
    assert rules.streak([]) == 0


def test_participation_rate():
    assert rules.participation_rate(4, 3) == 75
    assert rules.participation_rate(0, 0) == 0
