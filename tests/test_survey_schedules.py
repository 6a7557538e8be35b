"""Scheduled survey launches (slack_app/surveys/schedules.py) on the shared cadence, through the CLI, the ritual
path and a real scheduler, against the Slack simulator and the test database; and one open survey per audience,
enforced by the database itself.

The demo workspace's #gratitude-circle (CCIRCLE) holds Alice (admin), Bob, Dev, Emi and the bot.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from slack_app.scheduling import rituals
from slack_app.scheduling.cadence import Cadence
from slack_app.scheduling.registry import JobBook
from slack_app.scheduling.scheduler import HearthScheduler
from slack_app.simulator import wait_for
from slack_app.surveys import schedules, usecases
from storage import surveys as repo
from storage.models import OutboxMessage
from storage.survey_schedules import SurveySchedule
from tests.test_survey_cli import cli  # noqa: F401  (fixture)

TEAM = "T0HEARTH"
CIRCLE = "CCIRCLE"
GENERAL = "CGENERAL"
MONDAY_10 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # Monday 5 January 2026, 10:00 in Berlin
QUESTIONS = [q.id for q in usecases.load_survey("belonging")[0].counted]
WEEKLY = Cadence("weekly", 0, "10:00", "Europe/Berlin")


def plan(hearth, channel=CIRCLE, *, k=3, now=MONDAY_10 - timedelta(days=3), by="UALICE", cadence=WEEKLY,
         breakdowns=()):
    instrument, source = usecases.load_survey("belonging")
    return schedules.schedule(hearth.services, TEAM, instrument, source, channel_id=channel, cadence=cadence,
                              closes=timedelta(days=3), min_responses=k, created_by=by, now=now,
                              breakdowns=breakdowns)


def open_due(hearth, slack, now):
    return rituals.open_due(schedules.RITUAL, hearth.services, lambda team: slack, now=now)


def runs(hearth):
    with hearth.services.db.session() as s:
        return [(r.channel_id, r.status, r.launched_by, r.opened_at) for r in
                s.scalars(select(repo.SurveyRun).order_by(repo.SurveyRun.id))]


def test_the_cli_schedules_lists_and_unschedules_with_one_line_errors(cli, hearth):
    bad = cli("schedule", "belonging", "--channel", CIRCLE, "--cadence", "daily")
    assert bad.exit_code == 2 and "every-2-weeks" in bad.output and "Traceback" not in bad.output
    assert "--day someday" in cli("schedule", "belonging", "--channel", CIRCLE, "--day", "someday").output
    assert "--time 25:00" in cli("schedule", "belonging", "--channel", CIRCLE, "--time", "25:00").output
    assert "--timezone Mars/Base" in cli("schedule", "belonging", "--channel", CIRCLE, "--timezone", "Mars/Base").output
    long = cli("schedule", "belonging", "--channel", CIRCLE, "--cadence", "weekly", "--closes", "8d")
    assert long.exit_code == 2 and "shorter than the 7 days between launches" in long.output
    assert "workspace survey" in cli("schedule", "belonging", "--channel", CIRCLE, "--breakdown", "channel").output
    assert "between 3 and 10" in cli("schedule", "belonging", "--channel", CIRCLE, "--min-responses", "12").output
    assert cli("schedules").output.strip() == "No surveys are scheduled."

    made = cli("schedule", "belonging", "--channel", CIRCLE, "--cadence", "every-2-weeks", "--day", "tue",
               "--time", "9:30", "--timezone", "Europe/Berlin", "--closes", "5d", "--min-responses", "3",
               "--by", "UALICE")
    assert made.exit_code == 0, made.output
    assert "scheduled for #CCIRCLE: every 2nd tue 09:30 Europe/Berlin" in made.output
    assert "nobody gets the results" not in made.output
    again = cli("schedule", "belonging", "--channel", CIRCLE, "--cadence", "monthly", "--closes", "5d")
    assert "rescheduled" in again.output and "first mon of the month 10:00 UTC" in again.output
    assert "No --by and no HEARTH_ADMINS: nobody gets the results by DM at close" in again.output  # said, not silent
    cli("schedule", "belonging", "--workspace", "--breakdown", "channel", "--closes", "3d")
    listed = cli("schedules").output.splitlines()
    assert len(listed) == 2 and "belonging for CCIRCLE: monthly" in listed[0] and "not launched yet" in listed[0]
    assert "belonging for the workspace" in listed[1] and "breakdowns channel" in listed[1]

    assert cli("unschedule", "belonging", "--channel", CIRCLE).exit_code == 0
    gone = cli("unschedule", "belonging", "--channel", CIRCLE)
    assert gone.exit_code == 2 and "is not scheduled for CCIRCLE" in gone.output
    assert len(cli("schedules").output.splitlines()) == 1


def test_each_occurrence_launches_once_on_the_cadence(hearth, slack, deliver, simulator):
    shown, created = plan(hearth, breakdowns=("field:tz",))
    assert created and shown.next_launch == MONDAY_10
    assert open_due(hearth, slack, MONDAY_10 - timedelta(minutes=1)) == 0  # not yet
    assert open_due(hearth, slack, MONDAY_10) == 1
    assert open_due(hearth, slack, MONDAY_10 + timedelta(minutes=1)) == 0  # the sweep after the cadence job
    assert runs(hearth) == [(CIRCLE, "open", "UALICE", MONDAY_10)]
    deliver()
    for user in ("UALICE", "UBOB", "UDEV", "UEMI"):
        assert "anonymous survey" in simulator.messages(simulator.dm_channel(user))[0]["text"]
    with hearth.services.db.session() as s:
        [run] = s.scalars(select(repo.SurveyRun))
        assert run.closes_at - run.opened_at == timedelta(days=3) and run.min_responses == 3
        assert run.dimensions == ("field:tz",)
        assert s.scalar(select(SurveySchedule.last_outcome)) == "launched"
    # it closes on its own before the next week's launch, which then opens a new run
    assert usecases.close_due(hearth.services, lambda team: slack, now=MONDAY_10 + timedelta(days=3)) == 1
    assert open_due(hearth, slack, MONDAY_10 + timedelta(days=7)) == 1
    assert [r[1] for r in runs(hearth)] == ["closed", "open"]


def test_a_run_scheduled_without_by_sends_its_results_to_hearths_admins(hearth, slack, deliver, simulator):
    plan(hearth, by=None)
    assert open_due(hearth, slack, MONDAY_10) == 1
    [(_, _, launched_by, _)] = runs(hearth)
    assert launched_by is None
    with hearth.services.db.session() as s:
        run_id = s.scalar(select(repo.SurveyRun.public_id))
    for user in ("UALICE", "UBOB", "UDEV"):
        usecases.submit(hearth.services, TEAM, user, run_id, {q: "5" for q in QUESTIONS}, now=MONDAY_10)
    settings = hearth.services.settings.model_copy(update={"HEARTH_ADMINS": "UCARMEN"})
    services = dataclasses.replace(hearth.services, settings=settings)
    assert usecases.close_due(services, lambda team: slack, now=MONDAY_10 + timedelta(days=3)) == 1
    deliver()
    dm = simulator.dm_channel("UCARMEN")
    assert any("3 responses" in m["text"] for m in simulator.messages(dm)) and simulator.files(dm)


def test_an_audience_below_the_minimum_does_not_launch_and_admins_are_told_once(hearth, slack, deliver, simulator):
    plan(hearth, k=5)  # #circle has 4 people
    assert open_due(hearth, slack, MONDAY_10) == 0
    assert open_due(hearth, slack, MONDAY_10 + timedelta(minutes=1)) == 0  # claimed: no second note
    assert runs(hearth) == []
    deliver()
    [note] = simulator.messages(simulator.dm_channel("UALICE"))
    assert "did not start on Mon 05 Jan" in note["text"] and "4 people" in note["text"]
    assert simulator.dm_channel("UBOB") is None  # members are not bothered
    with hearth.services.db.session() as s:
        assert s.scalar(select(SurveySchedule.last_outcome)) == "too_small"
    # the schedule is kept: the next occurrence tries again (and is told again)
    assert open_due(hearth, slack, MONDAY_10 + timedelta(days=7)) == 0
    deliver()
    assert len(simulator.messages(simulator.dm_channel("UALICE"))) == 2


def test_a_survey_still_open_for_the_audience_means_the_scheduled_one_does_not_start(hearth, slack):
    instrument, source = usecases.load_survey("belonging")
    usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id=CIRCLE, closes=timedelta(days=10),
                    min_responses=3, now=MONDAY_10 - timedelta(days=1))
    plan(hearth)
    assert open_due(hearth, slack, MONDAY_10) == 0
    with hearth.services.db.session() as s:
        assert s.scalar(select(SurveySchedule.last_outcome)) == "already_open"
        assert s.scalar(select(OutboxMessage.kind).where(OutboxMessage.kind == "survey.schedule_note"))


def test_a_channel_slack_cannot_list_does_not_launch_and_admins_are_told_what_to_fix(hearth, slack, deliver,
                                                                                       simulator):
    plan(hearth, channel="CGONE")  # a channel deleted since it was scheduled
    assert open_due(hearth, slack, MONDAY_10) == 0
    assert open_due(hearth, slack, MONDAY_10 + timedelta(minutes=1)) == 0  # not retried every minute
    deliver()
    [note] = simulator.messages(simulator.dm_channel("UALICE"))
    assert "cannot list the members" in note["text"] and "/invite @hearth" in note["text"]
    with hearth.services.db.session() as s:
        assert s.scalar(select(SurveySchedule.last_outcome)) == "channel_problem"


def test_a_launch_missed_while_hearth_was_down_opens_once_when_a_leader_starts(hearth, slack, caplog):
    caplog.set_level("INFO", logger="hearth.scheduler")

    def sweeps():
        return sum("job.ran job=surveys.open_due " in r.getMessage() for r in caplog.records)

    plan(hearth, now=datetime.now(UTC) - timedelta(days=30))  # several Mondays passed since
    services = hearth.services
    book = JobBook(w.jobs for w in services.workflows)
    for n, owner in enumerate(("first", "second"), start=1):  # the second leader's sweep at start finds nothing
        leader = HearthScheduler(services.db, book, services=services, ports=lambda team: slack, owner=owner)
        leader.start()
        try:
            assert wait_for(lambda n=n: sweeps() >= n and len(runs(hearth)) == 1)
        finally:
            leader.stop()
        assert len(runs(hearth)) == 1


def test_one_open_survey_per_audience_is_enforced_by_the_database(hearth, slack, monkeypatch):
    instrument, source = usecases.load_survey("belonging")

    def fields(channel):
        return dict(team_id=TEAM, survey="belonging", version=1, source=source, audience="channel", channel_id=channel,
                    min_responses=3, invited=0, opened_at=MONDAY_10, closes_at=MONDAY_10 + timedelta(days=1))

    with hearth.services.db.session() as s:
        repo.new_run(s, **fields(CIRCLE))
    with pytest.raises(IntegrityError), hearth.services.db.session() as s:
        repo.new_run(s, **fields(CIRCLE))
    with hearth.services.db.session() as s:
        repo.new_run(s, **fields(GENERAL))  # another audience is another key
        repo.new_run(s, **{**fields(None), "audience": "workspace"})
    # a second instance that checked before the first committed: the database refuses, the admin is told kindly
    monkeypatch.setattr(repo, "open_run_for", lambda *a, **k: None)
    second = usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id=CIRCLE,
                             closes=timedelta(days=3), min_responses=3)
    assert second.status == "already_open" and "already open" in second.message
    # closing frees the audience
    with hearth.services.db.session() as s:
        public_id = s.scalar(select(repo.SurveyRun.public_id).where(repo.SurveyRun.channel_id == CIRCLE))
    assert usecases.close(hearth.services, TEAM, public_id).status == "closed"
    again = usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id=CIRCLE,
                            closes=timedelta(days=3), min_responses=3)
    assert again.status == "launched"


def test_admins_see_schedules_on_app_home(driver, simulator, hearth, slack):
    plan(hearth, k=5, now=datetime.now(UTC))
    driver.app_home_opened("UALICE")
    assert wait_for(lambda: "Scheduled:" in str((simulator.home("UALICE") or {}).get("blocks")))
    assert "every mon 10:00 Europe/Berlin" in str(simulator.home("UALICE")["blocks"])
    driver.app_home_opened("UBOB")
    assert wait_for(lambda: simulator.home("UBOB") is not None)
    assert "Scheduled:" not in str(simulator.home("UBOB")["blocks"])


def private_replies(simulator, user):
    return [p["body"].get("text") or "" for p in simulator.response_url_posts() if p.get("user") == user]


def test_an_admin_schedules_and_unschedules_a_survey_with_slash_hearth(driver, simulator, hearth):
    driver.as_member("UBOB").command("/hearth", "survey schedule belonging", channel=CIRCLE)
    assert wait_for(lambda: any("Only Hearth admins" in t for t in private_replies(simulator, "UBOB")))
    alice = driver.as_member("UALICE")

    def said(text):
        return wait_for(lambda: any(text in t for t in private_replies(simulator, "UALICE")))

    alice.command("/hearth", "survey schedule belonging fortnightly", channel=CIRCLE)
    assert said("`fortnightly` is not a cadence")
    alice.command("/hearth", "survey schedule belonging weekly 9d", channel=CIRCLE)
    assert said("less than the 7 days between launches")
    alice.command("/hearth", "survey schedule belonging 25:00", channel=CIRCLE)
    assert said("`25:00` is not a valid time")
    resp = alice.command("/hearth", "survey schedule belonging every-2-weeks tue 09:30 Europe/Berlin 5d min=3",
                         channel=CIRCLE)
    assert resp.status == 200
    assert said("is scheduled for this channel: every 2nd tue 09:30 Europe/Berlin, open 5 days each time")
    with hearth.services.db.session() as s:
        [row] = s.scalars(select(SurveySchedule))
        assert (row.channel_id, row.created_by, row.min_responses, row.closes_hours) == (CIRCLE, "UALICE", 3, 120)
    alice.command("/hearth", "survey unschedule belonging", channel=CIRCLE)
    assert said("is no longer scheduled for this channel")
    alice.command("/hearth", "survey unschedule belonging", channel=CIRCLE)
    assert said("is not scheduled for this channel")
