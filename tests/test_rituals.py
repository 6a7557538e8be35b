"""One way a due ritual opens (slack_app.scheduling.rituals), proved with check-ins against the database.

Whoever wakes it — a circle's cadence job, the every-minute sweep, a leader starting after downtime, two
leaders at once — an occurrence opens one round, once.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from slack_app.checkins import ritual, rounds, usecases
from slack_app.checkins.ritual import RITUAL
from slack_app.fake_port import FakeSlackPort
from slack_app.scheduling import rituals
from slack_app.scheduling.registry import JobBook, JobContext, Jobs, JobSpec
from slack_app.scheduling.scheduler import HearthScheduler
from storage import checkins as repo
from storage.models import OutboxMessage

TEAM = "T0FAKE"
CIRCLE = "CCIRCLE"
NOW = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
MONDAY_10 = datetime(2024, 6, 10, 8, 0, tzinfo=UTC)  # the next opening after NOW
HUMANS = ["UANA", "UBEN", "UCAS", "UDIA"]


@pytest.fixture
def services(db):
    from slack_app.copy import Copy
    from slack_app.services import Services
    from slack_app.settings import load_settings
    from slack_app.workflows import WORKFLOWS
    from storage.crypto import Crypto, generate_key

    settings = load_settings(env_file=None, DATABASE_URL=db.url, HEARTH_ADMINS="UADMIN")
    return Services(settings=settings, db=db, crypto=Crypto([generate_key()]), copy=Copy(None), archive=None,
                    workflows=WORKFLOWS)


@pytest.fixture
def slack():
    fake = FakeSlackPort(team_id=TEAM)
    for user in HUMANS:
        fake.add_user(user, tz="Europe/Berlin")
    fake.add_user("UBOT", is_bot=True)
    fake.add_channel(CIRCLE, [*HUMANS, "UBOT"])
    return fake


def enable(services, now=NOW) -> int:
    result = usecases.enable_circle(services, TEAM, CIRCLE, usecases.SettingsInput(tz="Europe/Berlin"),
                                    by="UADMIN", now=now)
    assert result.errors == {} and result.next_open_at == MONDAY_10
    return result.circle_id


def rounds_of(services, circle_id):
    with services.db.session() as s:
        return [(r.number, r.status) for r in repo.rounds_of(s, circle_id)]


def invites(services):
    with services.db.session() as s:
        return sorted(s.scalars(select(OutboxMessage.target).where(OutboxMessage.kind == "checkin.invite")))


def next_open_at(services, circle_id):
    with services.db.session() as s:
        return s.get(repo.CheckinCircle, circle_id).next_open_at


# ---- the decision -----------------------------------------------------------------------------------------

def test_nothing_is_due_before_the_occurrence_and_one_round_opens_at_it(services, slack):
    circle_id = enable(services)
    assert ritual.open_due(services, lambda team: slack, now=MONDAY_10 - timedelta(seconds=1)) == 0
    assert rounds_of(services, circle_id) == []
    assert ritual.open_due(services, lambda team: slack, now=MONDAY_10) == 1
    assert rounds_of(services, circle_id) == [(1, "open")] and invites(services) == HUMANS
    assert next_open_at(services, circle_id) == MONDAY_10 + timedelta(weeks=1)
    assert ritual.open_due(services, lambda team: slack, now=MONDAY_10 + timedelta(minutes=1)) == 0  # a 2nd wake
    assert rounds_of(services, circle_id) == [(1, "open")] and invites(services) == HUMANS


def test_an_outage_over_several_occurrences_opens_one_round_and_moves_to_the_next_future_one(services, slack):
    circle_id = enable(services)
    back = MONDAY_10 + timedelta(weeks=3, days=2)  # three Mondays missed
    assert ritual.open_due(services, lambda team: slack, now=back) == 1
    assert rounds_of(services, circle_id) == [(1, "open")]
    assert next_open_at(services, circle_id) == MONDAY_10 + timedelta(weeks=4)
    with services.db.session() as s:
        assert repo.current_round(s, circle_id).closes_at == back + timedelta(hours=48)  # a full window from now


def test_two_wakes_that_both_saw_the_occurrence_due_open_it_once(services, slack):
    circle_id = enable(services)
    with services.db.session() as s:  # the cadence job and the sweep both decide before either opens
        first, second = list(RITUAL.due(s, MONDAY_10)), list(RITUAL.due(s, MONDAY_10, key=str(circle_id)))
    assert first == second == [rituals.Due(str(circle_id), TEAM, MONDAY_10)]
    assert RITUAL.open(services, slack, first[0], MONDAY_10) == "opened"
    assert RITUAL.open(services, slack, second[0], MONDAY_10 + timedelta(seconds=2)) == "not_due"
    assert rounds_of(services, circle_id) == [(1, "open")] and invites(services) == HUMANS


def test_a_late_duplicate_wake_after_the_round_closed_does_not_open_a_second_one(services, slack):
    circle_id = enable(services)
    usecases.enable_circle(services, TEAM, CIRCLE, usecases.SettingsInput(tz="Europe/Berlin", window="1h"),
                           by="UADMIN", now=NOW)
    with services.db.session() as s:
        [slow] = RITUAL.due(s, MONDAY_10)  # a wake that decided, then stalled
    assert ritual.open_due(services, lambda team: slack, now=MONDAY_10) == 1
    assert rounds.close_due(services, now=MONDAY_10 + timedelta(hours=1)) == 1
    assert RITUAL.open(services, slack, slow, MONDAY_10 + timedelta(hours=2)) == "not_due"
    assert rounds_of(services, circle_id) == [(1, "closed")] and invites(services) == HUMANS


def test_concurrent_wakes_in_threads_open_one_round(services, slack):
    circle_id = enable(services)
    all_decided = threading.Barrier(3, timeout=10)

    class Racing:  # the check-in ritual, holding each wake after it decided until every wake has
        name = RITUAL.name
        cadences = RITUAL.cadences
        due = RITUAL.due

        def open(self, services, slack, due, now):
            all_decided.wait()
            return RITUAL.open(services, slack, due, now)

    opened = []

    def wake(key):  # the sweep, the circle's cadence job, and a second leader's sweep
        opened.append(rituals.open_due(Racing(), services, lambda team: slack, now=MONDAY_10, key=key))

    threads = [threading.Thread(target=wake, args=(key,)) for key in (None, str(circle_id), None)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(opened) == [0, 0, 1]
    assert rounds_of(services, circle_id) == [(1, "open")] and invites(services) == HUMANS


def test_a_claimed_opening_that_slack_defers_waits_and_the_next_sweep_opens_that_round(services, slack):
    circle_id = enable(services)
    slack.fail_next("conversations.members", "ratelimited", status=429, retry_after=3)
    assert ritual.open_due(services, lambda team: slack, now=MONDAY_10) == 0
    assert rounds_of(services, circle_id) == [(1, "pending")]
    assert next_open_at(services, circle_id) == MONDAY_10 + timedelta(weeks=1)  # claimed: not opened twice
    with services.db.session() as s:
        assert list(RITUAL.due(s, MONDAY_10 + timedelta(minutes=1))) == [rituals.Due(str(circle_id), TEAM, None)]
    assert ritual.open_due(services, lambda team: slack, now=MONDAY_10 + timedelta(minutes=1)) == 1
    assert rounds_of(services, circle_id) == [(1, "open")] and invites(services) == HUMANS


def test_changed_settings_make_a_stale_occurrence_unclaimable(services, slack):
    circle_id = enable(services)
    with services.db.session() as s:
        [due] = RITUAL.due(s, MONDAY_10)
    usecases.enable_circle(services, TEAM, CIRCLE, usecases.SettingsInput(tz="Europe/Berlin", day="tue"),
                           by="UADMIN", now=MONDAY_10)  # moved to Tuesdays before the wake opened
    assert RITUAL.open(services, slack, due, MONDAY_10) == "not_due"
    assert rounds_of(services, circle_id) == []


def test_a_disabled_circle_is_never_due_and_bad_keys_find_nothing(services, slack):
    circle_id = enable(services)
    usecases.disable_circle(services, TEAM, CIRCLE)
    with services.db.session() as s:
        s.execute(update(repo.CheckinCircle).values(next_open_at=MONDAY_10))  # even with a stale next opening
        assert list(RITUAL.due(s, MONDAY_10)) == []
        assert list(RITUAL.due(s, MONDAY_10, key="not-a-number")) == []
    assert ritual.open_due(services, lambda team: slack, now=MONDAY_10, key=str(circle_id)) == 0


def test_one_failing_instance_does_not_stop_the_others(services, slack, caplog):
    class Flaky:
        name = "flaky"

        def cadences(self, session):
            return []

        def due(self, session, now, key=None):
            return [rituals.Due("1", TEAM, now), rituals.Due("2", TEAM, now)]

        def open(self, services, slack, due, now):
            if due.key == "1":
                raise RuntimeError("secret words a member wrote")
            return "opened"

    assert rituals.open_due(Flaky(), services, lambda team: slack, now=MONDAY_10) == 1
    assert "ritual=flaky key=1 error=RuntimeError" in caplog.text and "secret" not in caplog.text


def test_due_occurrence_for_rituals_that_record_the_last_one_they_opened():
    from slack_app.scheduling.cadence import Cadence

    weekly = Cadence("weekly", 0, "10:00", "Europe/Berlin")
    assert rituals.due_occurrence(weekly, None, MONDAY_10 - timedelta(seconds=1)) == MONDAY_10 - timedelta(weeks=1)
    assert rituals.due_occurrence(weekly, None, MONDAY_10 - timedelta(seconds=1), since=NOW + timedelta(hours=1)) is None
    assert rituals.due_occurrence(weekly, MONDAY_10, MONDAY_10 + timedelta(days=6)) is None  # opened already
    assert rituals.due_occurrence(weekly, MONDAY_10 - timedelta(weeks=1), MONDAY_10) == MONDAY_10
    later = MONDAY_10 + timedelta(weeks=3, hours=5)  # three missed while down: only the latest is due
    assert rituals.due_occurrence(weekly, MONDAY_10 - timedelta(weeks=1), later) == MONDAY_10 + timedelta(weeks=3)


# ---- the jobs that wake it --------------------------------------------------------------------------------

def test_ritual_jobs_declare_a_waking_job_per_instance_and_a_sweep_run_at_start(services, slack):
    circle_id = enable(services)
    jobs = rituals.ritual_jobs(RITUAL, wake="checkins.open_round", sweep="checkins.open_due")
    with services.db.session() as s:
        [spec] = jobs.sources["checkins"](s)
    assert (spec.id, spec.params) == (f"checkins.open_round:{TEAM}:{circle_id}", {"team_id": TEAM, "key": str(circle_id)})
    assert spec.cadence.describe() == "every mon 10:00 Europe/Berlin"
    [sweep] = jobs.always
    assert (sweep.id, sweep.every, sweep.at_start) == ("checkins.open_due", 60.0, True)
    assert JobBook([jobs]).at_start == ["checkins.open_due"]
    # a waking job stored by an older Hearth names the circle "circle_id"; it still wakes the one path
    with services.db.session() as s:
        s.execute(update(repo.CheckinCircle).values(next_open_at=datetime.now(UTC) - timedelta(minutes=1)))
    legacy = JobContext(db=services.db, params={"team_id": TEAM, "circle_id": circle_id}, services=services,
                        ports=lambda team: slack)
    assert jobs.actions["checkins.open_round"](legacy) == 1
    with pytest.raises(RuntimeError, match="inside Hearth"):
        jobs.actions["checkins.open_due"](JobContext(db=services.db, params={}))


def test_jobs_combine_without_clashes_and_only_interval_jobs_run_at_start():
    a = Jobs(actions={"x.a": print}, always=[JobSpec("x.a", "x.a", every=60)])
    assert set((a | Jobs(actions={"x.b": print})).actions) == {"x.a", "x.b"}
    with pytest.raises(ValueError, match="x.a"):
        a | Jobs(actions={"x.a": print})
    from slack_app.scheduling.cadence import Cadence

    with pytest.raises(ValueError, match="at start"):
        JobSpec("x", "x.a", cadence=Cadence("weekly", 0, "10:00"), at_start=True)
    assert JobSpec("x", "x.a", every=60, at_start=True).fingerprint() == JobSpec("x", "x.a", every=60).fingerprint()


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_an_opening_that_passed_while_hearth_was_down_opens_once_when_a_leader_starts(services, slack, caplog):
    caplog.set_level("INFO", logger="hearth.scheduler")

    def sweeps():
        return sum("job.ran job=checkins.open_due " in r.getMessage() for r in caplog.records)

    circle_id = enable(services)  # its next opening (June 2024) passed long ago: Hearth was down since
    book = JobBook(w.jobs for w in services.workflows)
    first = HearthScheduler(services.db, book, services=services, ports=lambda team: slack, owner="first")
    first.start()
    try:
        assert wait_for(lambda: rounds_of(services, circle_id) == [(1, "open")])
    finally:
        first.stop()
    assert invites(services) == HUMANS
    assert next_open_at(services, circle_id) > datetime.now(UTC)
    second = HearthScheduler(services.db, book, services=services, ports=lambda team: slack, owner="second")
    second.start()  # the sweep runs at once again: nothing is due, nothing repeats
    try:
        assert wait_for(lambda: sweeps() == 2)
    finally:
        second.stop()
    assert rounds_of(services, circle_id) == [(1, "open")] and invites(services) == HUMANS
