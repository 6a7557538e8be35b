"""`hearth surveys launch / close / results` against the Slack simulator and the test database, and the
reminder sweep: only people who have not taken part, each reminder once."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from slack_app.cli import main
from slack_app.settings import reveal
from slack_app.surveys import usecases
from storage import surveys as repo
from storage.models import OutboxMessage
from surveys.loader import builtin_instrument

TEAM = "T0HEARTH"
CIRCLE = "CCIRCLE"
QUESTIONS = [q.id for q in builtin_instrument("belonging").counted]


@pytest.fixture
def cli(simulator, database_url, app_settings, hearth, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env here
    env = {"SLACK_BOT_TOKEN": simulator.bot_token, "SLACK_API_URL": simulator.base_url,
           "DATABASE_URL": database_url, "HEARTH_ENCRYPTION_KEY": reveal(app_settings.HEARTH_ENCRYPTION_KEY),
           "ARCHIVE_URL": str(tmp_path / "archive")}
    runner = CliRunner()
    return lambda *args, **more: runner.invoke(main, ["surveys", *args], env={**env, **more})


def test_cli_launches_closes_and_shows_results(cli, hearth, tmp_path):
    assert "--channel C… or --workspace" in cli("launch", "belonging").output
    bad = cli("launch", "belonging", "--channel", CIRCLE, "--closes", "forever")
    assert bad.exit_code == 2 and "--closes forever" in bad.output and "Traceback" not in bad.output
    unknown = cli("launch", "nosuch", "--channel", CIRCLE)
    assert unknown.exit_code == 2 and "belonging" in unknown.output
    small = cli("launch", "belonging", "--channel", CIRCLE)  # the survey's own minimum is 5; #circle has 4
    assert small.exit_code == 2 and "4 people" in small.output
    low = cli("launch", "belonging", "--channel", CIRCLE, "--min-responses", "2")
    assert low.exit_code == 2 and "between 3 and 10" in low.output
    broken = tmp_path / "team.yml"
    broken.write_text("name: team\nversion: 1\ntitle: T\nquestions:\n  - id: q1\n    kind: agreement\n")
    shown = cli("launch", str(broken), "--channel", CIRCLE)
    assert shown.exit_code == 2 and "team.yml:5" in shown.output

    launched = cli("launch", "belonging", "--channel", CIRCLE, "--min-responses", "3", "--closes", "3d",
                   "--by", "UALICE")
    assert launched.exit_code == 0, launched.output
    assert "4 of 4 people invited" in launched.output
    early = cli("results", "--channel", CIRCLE)
    assert early.exit_code == 2 and "no closed survey found" in early.output  # nothing closed yet
    assert "still open" in cli("results", launched.output.split("(id ")[1].split(")")[0]).output

    with hearth.services.db.session() as s:
        run = repo.open_run_for(s, TEAM, CIRCLE)
        run_id = run.public_id
    for user, value in (("UALICE", "5"), ("UBOB", "4"), ("UDEV", "2")):
        usecases.submit(hearth.services, TEAM, user, run_id, {q: value for q in QUESTIONS})
    closed = cli("close", "--channel", CIRCLE)
    assert closed.exit_code == 0, closed.output
    assert "3 responses sealed" in closed.output and "Belonging index: 67/100" in closed.output
    assert cli("close", run_id).exit_code == 2

    out = tmp_path / "results.csv"
    results = cli("results", run_id, "--csv", str(out))
    assert results.exit_code == 0 and "3 responses" in results.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    belong = {r["value"]: r["count"] for r in rows if r["question_id"] == "belong"}
    assert belong == {"1": "0", "2": "1", "3": "0", "4": "1", "5": "1"}
    assert cli("results", "--channel", CIRCLE).output == results.output.replace(f"Results written to {out}.\n", "")


def test_reminders_go_only_to_people_who_have_not_taken_part(hearth, simulator):
    from slack_app.slack_port import WebApiPort, make_client

    slack = WebApiPort(make_client(simulator.bot_token, simulator.base_url))
    instrument, source = usecases.load_survey("belonging")
    started = usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id=CIRCLE,
                              closes=timedelta(days=7), min_responses=3)
    usecases.submit(hearth.services, TEAM, "UBOB", started.run_id, {q: "4" for q in QUESTIONS})
    with hearth.services.db.session() as s:
        run = repo.run_by_public_id(s, TEAM, started.run_id)
        opened = run.opened_at
    ports = lambda team: slack  # noqa: E731
    assert usecases.remind_due(hearth.services, ports, now=opened + timedelta(days=2)) == 0
    assert usecases.remind_due(hearth.services, ports, now=opened + timedelta(days=3)) == 3  # not Bob
    assert usecases.remind_due(hearth.services, ports, now=opened + timedelta(days=4)) == 0  # once
    usecases.submit(hearth.services, TEAM, "UDEV", started.run_id, {q: "4" for q in QUESTIONS})
    assert usecases.remind_due(hearth.services, ports, now=opened + timedelta(days=6)) == 2  # the final one
    assert usecases.remind_due(hearth.services, ports, now=opened + timedelta(days=6, hours=1)) == 0
    with hearth.services.db.session() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        reminders = [r for r in rows if r.kind == "survey.remind"]
        assert len(reminders) == 5 and all(r.sensitive for r in reminders)
        assert not any(u in r.target for r in reminders for u in ("UALICE", "UDEV", "UEMI"))  # sealed recipients


def test_a_survey_closes_by_itself_when_its_time_comes(hearth, simulator):
    from slack_app.scheduling.registry import JobContext
    from slack_app.slack_port import WebApiPort, make_client
    from slack_app.surveys.jobs import JOBS

    slack = WebApiPort(make_client(simulator.bot_token, simulator.base_url))
    instrument, source = usecases.load_survey("belonging")
    started = usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id=CIRCLE,
                              closes=timedelta(days=2), min_responses=3, launched_by="UALICE")
    for user in ("UALICE", "UBOB", "UDEV"):
        usecases.submit(hearth.services, TEAM, user, started.run_id, {q: "5" for q in QUESTIONS})
    with hearth.services.db.session() as s:
        closes_at = repo.run_by_public_id(s, TEAM, started.run_id).closes_at
    ports = lambda team: slack  # noqa: E731
    assert usecases.close_due(hearth.services, ports, now=closes_at - timedelta(minutes=1)) == 0
    assert usecases.close_due(hearth.services, ports, now=closes_at) == 1
    assert usecases.close_due(hearth.services, ports, now=closes_at) == 0
    with hearth.services.db.session() as s:
        run = repo.run_by_public_id(s, TEAM, started.run_id)
        assert run.status == "closed" and run.respondents == 3
    assert simulator.files(simulator.dm_channel("UALICE"))  # the chart went to Alice
    ctx = JobContext(db=hearth.services.db, params={}, services=hearth.services, ports=ports)
    assert JOBS.actions["surveys.close_due"](ctx) == 0 and JOBS.actions["surveys.remind_due"](ctx) == 0


def test_cli_launches_for_the_workspace_closes_by_id_and_shows_the_workspace_results(cli, hearth):
    both = cli("launch", "belonging", "--channel", CIRCLE, "--workspace")
    assert both.exit_code == 2 and "Traceback" not in both.output
    launched = cli("launch", "belonging", "--workspace", "--closes", "5d")  # the survey's own minimum: 5
    assert launched.exit_code == 0, launched.output
    assert "launched for the workspace" in launched.output and "6 of 6 people invited" in launched.output
    run_id = launched.output.split("(id ")[1].split(")")[0]
    assert cli("launch", "belonging", "--workspace").exit_code == 2  # one open survey per audience
    for user, value in (("UALICE", "5"), ("UBOB", "4"), ("UCARMEN", "4"), ("UDEV", "2"), ("UFINN", "5")):
        usecases.submit(hearth.services, TEAM, user, run_id, {q: value for q in QUESTIONS})
    closed = cli("close", run_id)
    assert closed.exit_code == 0, closed.output
    assert f"Survey {run_id} closed: 5 responses sealed." in closed.output and "5 responses" in closed.output
    shown = cli("results", "--workspace")
    assert shown.exit_code == 0 and "5 responses" in shown.output and "Belonging index: 80/100" in shown.output
    assert cli("results", "--channel", CIRCLE).exit_code == 2  # the channel has none of its own


def results_dms(hearth):
    with hearth.services.db.session() as s:
        return sorted(r.target for r in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "survey.results")))


def test_without_by_the_results_go_to_hearths_admins_or_the_launch_says_nobody_gets_them(cli, hearth, simulator,
                                                                                          deliver):
    def launch_and_answer(answering, **env):
        launched = cli("launch", "belonging", "--channel", CIRCLE, "--min-responses", "3", **env)
        assert launched.exit_code == 0, launched.output
        run_id = launched.output.split("(id ")[1].split(")")[0]
        for user in answering:
            usecases.submit(hearth.services, TEAM, user, run_id, {q: "4" for q in QUESTIONS})
        return launched.output, run_id

    # no --by and no HEARTH_ADMINS: the launch says so in one line, and the close DMs nobody
    said, run_id = launch_and_answer(("UALICE", "UBOB", "UDEV"))
    assert "nobody gets the results by DM at close" in said and "`hearth surveys results` only" in said
    assert cli("close", run_id).exit_code == 0
    assert results_dms(hearth) == []

    # HEARTH_ADMINS (read when the survey closes): each of them gets the results, as a launcher would
    said, run_id = launch_and_answer(("UALICE", "UBOB", "UDEV"), HEARTH_ADMINS="UCARMEN, UFINN")
    assert "nobody gets" not in said
    assert cli("close", run_id, HEARTH_ADMINS="UCARMEN, UFINN").exit_code == 0
    assert results_dms(hearth) == ["UCARMEN", "UFINN"]
    deliver()
    for admin in ("UCARMEN", "UFINN"):
        dm = simulator.dm_channel(admin)
        [text] = [m["text"] for m in simulator.messages(dm) if m["text"]]
        assert "3 responses" in text and "Belonging index" in text
        assert simulator.files(dm)  # and the chart

    # the same minimum as every outlet: below it, the admins learn that nothing is shown, not the answers
    _, run_id = launch_and_answer(("UALICE", "UBOB"), HEARTH_ADMINS="UCARMEN")
    assert cli("close", run_id, HEARTH_ADMINS="UCARMEN").exit_code == 0
    deliver()
    latest = simulator.messages(simulator.dm_channel("UCARMEN"))[-1]["text"]
    assert "none are shown" in latest and "Belonging index" not in latest
    assert results_dms(hearth) == ["UCARMEN", "UCARMEN", "UFINN"]
