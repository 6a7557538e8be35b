"""Cadences (pure, DST-correct), the action registry, and APScheduler's persistent jobs with the ledger."""

import pickle
import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slack_app.scheduling import jobs as jobfns
from slack_app.scheduling.cadence import Cadence
from slack_app.scheduling.registry import JobBook, JobContext, Jobs, JobSpec, UnknownAction
from slack_app.scheduling.scheduler import HearthScheduler, _JobStore, stored_jobs
from slack_app.scheduling.trigger import fire_times, trigger_for
from storage import jobruns

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")


def times(cadence, start, end):
    return fire_times(trigger_for(cadence), start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


# ---- cadences ---------------------------------------------------------------------------------------------

def test_weekly_monday_10_berlin_keeps_wall_clock_across_both_dst_changes():
    monday_10 = Cadence("weekly", 0, "10:00", "Europe/Berlin")
    spring = times(monday_10, datetime(2024, 3, 18), datetime(2024, 4, 2))  # DST starts Sun 31 March
    autumn = times(monday_10, datetime(2024, 10, 21), datetime(2024, 11, 5))  # DST ends Sun 27 October
    assert [t.astimezone(UTC).hour for t in spring] == [9, 9, 8]
    assert [t.astimezone(UTC).hour for t in autumn] == [8, 9, 9]
    for t in spring + autumn:
        local = t.astimezone(BERLIN)
        assert (local.weekday(), local.hour, local.minute) == (0, 10, 0)
    assert [t.date() for t in spring] == [date(2024, 3, 18), date(2024, 3, 25), date(2024, 4, 1)]


def test_every_two_and_four_weeks_count_from_the_anchor_week():
    biweekly = Cadence("biweekly", 2, "18:00", "UTC", anchor=date(2024, 1, 4))  # a Thursday: week of Jan 1
    assert [t.date() for t in times(biweekly, datetime(2024, 1, 1), datetime(2024, 2, 20))] == [
        date(2024, 1, 3), date(2024, 1, 17), date(2024, 1, 31), date(2024, 2, 14)]
    fourweekly = Cadence("fourweekly", 0, "10:00", "America/New_York", anchor=date(2024, 3, 4))
    fired = times(fourweekly, datetime(2024, 2, 1), datetime(2024, 6, 1))
    assert [t.date() for t in fired] == [date(2024, 2, 5), date(2024, 3, 4), date(2024, 4, 1), date(2024, 4, 29),
                                         date(2024, 5, 27)]
    assert {t.astimezone(ZoneInfo("America/New_York")).hour for t in fired} == {10}


def test_first_weekday_of_the_month():
    first_monday = Cadence("monthly", 0, "09:30", "Europe/Berlin")
    fired = times(first_monday, datetime(2024, 1, 1), datetime(2024, 7, 1))
    assert [t.date() for t in fired] == [date(2024, 1, 1), date(2024, 2, 5), date(2024, 3, 4), date(2024, 4, 1),
                                         date(2024, 5, 6), date(2024, 6, 3)]


def test_times_in_the_dst_gap_and_fold_fire_exactly_once():
    sunday_0230 = Cadence("weekly", 6, "02:30", "Europe/Berlin")
    spring = times(sunday_0230, datetime(2024, 3, 30), datetime(2024, 4, 1))
    autumn = times(sunday_0230, datetime(2024, 10, 26), datetime(2024, 10, 28))
    assert [t.astimezone(UTC) for t in spring] == [datetime(2024, 3, 31, 1, 30, tzinfo=UTC)]  # = 03:30 CEST
    assert [t.astimezone(UTC) for t in autumn] == [datetime(2024, 10, 27, 0, 30, tzinfo=UTC)]  # first 02:30


zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
                         "America/Sao_Paulo", "Pacific/Chatham"])


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["weekly", "biweekly", "fourweekly", "monthly"]), weekday=st.integers(0, 6),
       hour=st.integers(0, 23), minute=st.sampled_from([0, 15, 30, 45]), tz=zones,
       start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_fire_times_strictly_increase_on_the_right_local_day(kind, weekday, hour, minute, tz, start):
    cadence = Cadence(kind, weekday, f"{hour:02d}:{minute:02d}", tz, anchor=date(2024, 1, 1))
    fired = fire_times(trigger_for(cadence), start.replace(tzinfo=UTC), start.replace(tzinfo=UTC) + timedelta(days=120))
    assert len(fired) >= 3
    stamps = [t.timestamp() for t in fired]
    assert stamps == sorted(set(stamps))
    gaps = {round((b - a) / 86400) for a, b in zip(stamps, stamps[1:], strict=False)}
    expected = {"weekly": {7}, "biweekly": {14}, "fourweekly": {28}, "monthly": {28, 35}}[kind]
    assert gaps <= expected
    for t in fired:
        assert t.astimezone(ZoneInfo(tz)).date().weekday() == weekday


def test_cadences_validate_serialise_and_pickle():
    c = Cadence("biweekly", 4, "07:05", "Asia/Tokyo", anchor=date(2025, 5, 2))
    assert Cadence.from_dict(c.to_dict()) == c
    t = pickle.loads(pickle.dumps(trigger_for(c)))
    assert t.cadence == c and str(t) == "every 2nd fri 07:05 Asia/Tokyo"
    for bad in [dict(kind="daily"), dict(weekday=7), dict(at="25:00"), dict(at="noon"), dict(tz="Mars/Base")]:
        with pytest.raises((ValueError, LookupError)):
            Cadence(**({"kind": "weekly", "weekday": 0, "at": "10:00", "tz": "UTC"} | bad))


def test_a_trigger_pickled_under_the_old_module_path_still_loads():
    # job stores written before the trigger moved beside the pure calendar name it by its old path
    from slack_app.scheduling import cadence

    old = pickle.dumps(trigger_for(Cadence("weekly", 0, "10:00"))).replace(
        b"slack_app.scheduling.trigger", b"slack_app.scheduling.cadence")
    assert b"slack_app.scheduling.cadence" in old and pickle.loads(old).cadence == Cadence("weekly", 0, "10:00")
    with pytest.raises(AttributeError):
        cadence.NoSuchThing  # noqa: B018


# ---- registry --------------------------------------------------------------------------------------------

def test_job_specs_are_validated_and_fingerprinted():
    c = Cadence("weekly", 0, "10:00")
    with pytest.raises(ValueError):
        JobSpec("x", "a")
    with pytest.raises(ValueError):
        JobSpec("x", "a", cadence=c, every=60)
    with pytest.raises(TypeError):
        JobSpec("x", "a", params={"when": datetime.now()}, every=60)
    a = JobSpec("x", "a", {"team_id": "T1"}, cadence=c)
    assert a.team_id == "T1"
    assert a.fingerprint() == JobSpec("x", "a", {"team_id": "T1"}, cadence=c).fingerprint()
    assert a.fingerprint() != JobSpec("x", "a", {"team_id": "T1"}, cadence=Cadence("weekly", 1, "10:00")).fingerprint()


def test_each_isolates_failures_and_logs_only_ids(caplog):
    ctx = JobContext(db=None, params={}, job_id="j1")
    seen = []

    def work(team):
        if team == "T2":
            raise RuntimeError("secret member text must not be logged")
        seen.append(team)

    result = ctx.each(["T1", "T2", "T3"], work)
    assert (result.ok, result.failed, result.failed_keys, seen) == (2, 1, ["T2"], ["T1", "T3"])
    assert "item=T2 error=RuntimeError" in caplog.text and "secret" not in caplog.text


def book(actions, always=(), sources=None) -> JobBook:
    return JobBook([Jobs(actions=actions, always=always, sources=sources or {})])


def test_unknown_actions_and_failing_sources(db):
    def broken(session):
        raise RuntimeError("db")

    jobs = book({"a": lambda ctx: None}, [JobSpec("s", "a", every=60)], {"broken": broken})
    with pytest.raises(UnknownAction):
        jobs.action("nope")
    specs, complete = jobs.desired_jobs(db)
    assert [s.id for s in specs] == ["s"] and not complete


def test_two_workflows_cannot_declare_one_action():
    with pytest.raises(ValueError, match="demo.open"):
        JobBook([Jobs(actions={"demo.open": print}), Jobs(actions={"demo.open": print})])


# ---- the scheduler with its persistent job store ---------------------------------------------------------

class Calls:
    def __init__(self):
        self.runs = []
        self.event = threading.Event()

    def __call__(self, ctx):
        self.runs.append((ctx.job_id, ctx.params, ctx.occurrence))
        self.event.set()

    def wait(self, n=1, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.runs) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.runs) >= n


def recent_cadence(minutes_ago=1):
    """A weekly cadence whose latest occurrence was `minutes_ago` minutes ago."""
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
    return Cadence("weekly", at.weekday(), at.strftime("%H:%M"), "UTC"), at


def make_past_due(db, job_id, when):
    """What the store looks like when a run fell due while no scheduler was running."""
    from apscheduler.schedulers.background import BackgroundScheduler

    store = _JobStore(engine=db.engine, tablename="apscheduler_jobs")
    store.start(BackgroundScheduler(timezone=UTC), "default")
    job = store.lookup_job(job_id)
    job._modify(next_run_time=when)
    store.update_job(job)


def test_sync_adds_keeps_changes_and_removes_jobs(db):
    programs = {"1": Cadence("weekly", 0, "10:00", "Europe/Berlin"), "2": Cadence("monthly", 2, "09:00", "UTC")}
    jobs = book({"demo.open": Calls()}, sources={"demo": lambda session: [
        JobSpec(f"demo.open:T1:{pid}", "demo.open", {"team_id": "T1", "program": pid}, cadence=c)
        for pid, c in programs.items()]})
    sched = HearthScheduler(db, jobs, owner="test", sync_every=3600)
    sched.start()
    try:
        listed = {j.id: j for j in stored_jobs(db)}
        assert set(listed) == {"demo.open:T1:1", "demo.open:T1:2"}
        assert listed["demo.open:T1:1"].schedule == "every mon 10:00 Europe/Berlin"
        assert listed["demo.open:T1:1"].team_id == "T1" and listed["demo.open:T1:1"].action == "demo.open"
        first_next = listed["demo.open:T1:1"].next_run
        assert first_next.astimezone(BERLIN).hour == 10
        assert sched.sync() == (sched.sync().__class__)(0, 0, 0)
        programs["2"] = Cadence("monthly", 3, "09:00", "UTC")
        del programs["1"]
        programs["3"] = Cadence("biweekly", 1, "12:00", "UTC")
        result = sched.sync()
        assert (result.added, result.changed, result.removed) == (1, 1, 1)
        assert {j.id for j in stored_jobs(db)} == {"demo.open:T1:2", "demo.open:T1:3"}
    finally:
        sched.stop()


def test_a_restart_across_a_due_run_runs_it_exactly_once(db):
    calls = Calls()
    cadence, occurrence = recent_cadence()
    jobs = book({"demo.open": calls}, [JobSpec("demo.open:T1:1", "demo.open", {"team_id": "T1"}, cadence=cadence)])
    sched = HearthScheduler(db, jobs, owner="first")
    sched.start()
    sched.stop()
    assert calls.runs == []  # its next run is next week
    make_past_due(db, "demo.open:T1:1", occurrence)  # ... but it fell due while Hearth was down

    second = HearthScheduler(db, jobs, owner="second")
    second.start()
    try:
        assert calls.wait(1)
    finally:
        second.stop()
    third = HearthScheduler(db, jobs, owner="third")
    third.start()  # another restart: nothing is repeated
    third.stop()
    make_past_due(db, "demo.open:T1:1", occurrence)  # even if APScheduler had not persisted the next run
    fourth = HearthScheduler(db, jobs, owner="fourth")
    fourth.start()
    time.sleep(0.3)
    fourth.stop()
    assert calls.runs == [("demo.open:T1:1", {"team_id": "T1"}, occurrence)]
    with db.session() as s:
        (run,) = jobruns.runs(s)
    assert (run.status, run.owner, run.occurrence) == ("done", "second", occurrence)
    (job,) = stored_jobs(db)
    assert job.next_run > datetime.now(UTC) + timedelta(days=6) and job.last_status == "done"


def test_a_run_missed_by_more_than_the_grace_period_is_skipped(db):
    calls = Calls()
    cadence, occurrence = recent_cadence(minutes_ago=5)
    jobs = book({"demo.open": calls}, [JobSpec("demo.open:T1:1", "demo.open", {"team_id": "T1"}, cadence=cadence)])
    sched = HearthScheduler(db, jobs, owner="a", misfire_grace=60)
    sched.start()
    sched.stop()
    make_past_due(db, "demo.open:T1:1", occurrence)
    sched = HearthScheduler(db, jobs, owner="b", misfire_grace=60)
    sched.start()
    time.sleep(0.3)
    sched.stop()
    assert calls.runs == []
    (job,) = stored_jobs(db)
    assert job.next_run > datetime.now(UTC)


def test_an_occurrence_cut_short_by_a_dying_leader_is_run_again_by_the_next(db):
    calls = Calls()
    jobs = book({"demo.open": calls})
    occurrence = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with db.session() as s:
        assert jobruns.start(s, job_id="demo.open:T1:1", occurrence=occurrence, action="demo.open",
                             params={"team_id": "T1"}, owner="dead-leader")
    sched = HearthScheduler(db, jobs, owner="new-leader")
    sched.start()
    sched.stop()
    assert calls.runs == [("demo.open:T1:1", {"team_id": "T1"}, occurrence)]
    with db.session() as s:
        (run,) = jobruns.runs(s)
    assert (run.status, run.owner) == ("done", "new-leader")


def test_the_ledger_runs_each_occurrence_once_and_records_failures(db):
    calls = Calls()
    jobs = book({"demo.open": calls, "demo.broken": lambda ctx: 1 / 0})
    cadence, occurrence = recent_cadence()
    jobfns.bind(jobfns.JobEnv(db=db, book=jobs, owner="me"))
    try:
        for _ in range(2):
            jobfns.run_scheduled("j", "demo.open", {"team_id": "T1"}, cadence.to_dict())
        jobfns.run_scheduled("k", "demo.broken", {}, cadence.to_dict())
        jobfns.run_scheduled("sweep", "demo.open", {}, None)  # interval jobs skip the ledger
    finally:
        jobfns.bind(None)
    assert [r[0] for r in calls.runs] == ["j", "sweep"]
    with db.session() as s:
        runs = {r.job_id: r for r in jobruns.runs(s)}
    assert runs["j"].status == "done" and runs["j"].occurrence == occurrence
    assert (runs["k"].status, runs["k"].error) == ("failed", "ZeroDivisionError")
