"""Operators' commands: hearth worker --drain, jobs list / run, outbox status / retry-failed."""

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from slack_app.cli import cli_for
from slack_app.scheduling.cadence import Cadence
from slack_app.scheduling.registry import JobBook, Jobs, JobSpec
from slack_app.scheduling.scheduler import HearthScheduler
from slack_app.simulator import SlackSimulator, demo_workspace
from slack_app.workflow import Workflow
from slack_app.workflows import WORKFLOWS
from storage import outbox

TEAM = "T0HEARTH"


@pytest.fixture
def hearth_cli(database_url, db, db_key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "SLACK_CLIENT_ID", "HEARTH_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEARTH_ENCRYPTION_KEY", db_key)  # the key the test database's outbox is sealed with
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ARCHIVE_URL", str(tmp_path / "archive"))
    monkeypatch.setenv("HEARTH_LOG_LEVEL", "WARNING")
    runner = CliRunner()

    def invoke(*args, workflows=WORKFLOWS, **kw):
        return runner.invoke(cli_for(workflows), list(args), catch_exceptions=False, **kw)

    return invoke


def demo(jobs: Jobs) -> tuple[Workflow]:
    return (Workflow("demo", jobs=jobs),)


def put(db, key, target="UALICE"):
    with db.session() as s:
        outbox.enqueue(s, team_id=TEAM, kind="checkin.prompt", target=target, payload={"text": "hi"}, dedupe_key=key)


def fail(db, error, *keys):
    with db.session() as s:
        for r in outbox.claim(s, worker_id="w", limit=100, lease=60):
            if r.dedupe_key in {outbox.stored_key(s, k) for k in keys}:
                outbox.mark_failed(s, r.id, "w", error)
            else:
                outbox.release(s, r.id, "w", at=datetime.now(UTC))


def test_outbox_status_counts_ages_and_failures(hearth_cli, db):
    put(db, "a")
    put(db, "b")
    put(db, "c")
    fail(db, "user_not_found", "a", "b")
    result = hearth_cli("outbox", "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "pending 1  sending 0  sent 0  failed 2"
    assert lines[1].startswith("oldest pending: ")
    assert "failed by error: user_not_found 2" in result.output and "retry-failed" in result.output


def test_retry_failed_asks_shows_progress_and_sums_up(hearth_cli, db):
    put(db, "a")
    put(db, "b")
    put(db, "c")
    fail(db, "user_not_found", "a")
    fail(db, "is_archived", "b")
    declined = hearth_cli("outbox", "retry-failed", input="n\n")
    assert declined.exit_code == 1 and "Send 2 failed message(s) again?" in declined.output
    result = hearth_cli("outbox", "retry-failed", "--error", "is_archived", "--yes")
    assert result.exit_code == 0 and result.output.strip().endswith(
        "re-queued 1 message(s); a running worker delivers them (`hearth outbox status`).")
    with db.session() as s:
        assert outbox.find(s, TEAM, "b").status == "pending" and outbox.find(s, TEAM, "a").status == "failed"
    other_team = hearth_cli("outbox", "retry-failed", "--team", "TOTHER", "--yes")
    assert other_team.output.strip() == "No failed messages match."


def test_worker_drain_delivers_everything_due_and_sums_up(hearth_cli, db, monkeypatch):
    with SlackSimulator(demo_workspace(), rate_limits=False) as sim:
        monkeypatch.setenv("SLACK_BOT_TOKEN", sim.bot_token)
        monkeypatch.setenv("SLACK_API_URL", sim.base_url)
        put(db, "a", "UALICE")
        put(db, "b", "UBOB")
        put(db, "c", "UNOBODY")
        result = hearth_cli("worker", "--drain", "--threads", "2")
        assert result.exit_code == 0, result.output
        assert "sent 2, reconciled 0, failed 1, retried 0, rate-limited 0 in" in result.output
        assert len(sim.calls_for("chat.postMessage")) == 3
        assert hearth_cli("worker", "--drain").output.strip() == "outbox: nothing to deliver."


def test_worker_without_a_token_says_so_in_one_line(hearth_cli):
    result = hearth_cli("worker", "--drain")
    assert result.exit_code == 2
    assert result.output.startswith("hearth: SLACK_BOT_TOKEN is not set: the worker sends messages")


def test_jobs_list_shows_next_and_last_runs(hearth_cli, db):
    assert hearth_cli("jobs", "list", workflows=()).output.startswith("No scheduled jobs yet")
    workflows = demo(Jobs(actions={"demo.open": lambda ctx: None},
                          always=[JobSpec("demo.open:T1:7", "demo.open", {"team_id": "T1"},
                                          cadence=Cadence("weekly", 0, "10:00", "Europe/Berlin"))]))
    waiting = hearth_cli("jobs", "list", workflows=workflows)
    assert "demo.open:T1:7" in waiting.output and "at the leader's next sync" in waiting.output
    sched = HearthScheduler(db, JobBook(w.jobs for w in workflows), owner="t")
    sched.start()
    sched.stop()
    result = hearth_cli("jobs", "list", workflows=workflows)
    lines = result.output.splitlines()
    assert lines[0].split() == ["JOB", "SCHEDULE", "NEXT", "RUN", "LAST", "RUN"]
    assert "demo.open:T1:7" in lines[1] and "every mon 10:00 Europe/Berlin" in lines[1] and "never" in lines[1]
    assert lines[-1] == "1 scheduled."


def test_jobs_run_runs_an_action_now_per_team_and_isolates_failures(hearth_cli, db):
    ran = []
    workflows = demo(Jobs(
        actions={"demo.open": lambda ctx: ran.append(ctx.params),
                 "demo.sweep": lambda ctx: ran.append(("sweep", ctx.team_id)),
                 "demo.broken": lambda ctx: 1 / 0},
        always=[*(JobSpec(f"demo.open:{team}:1", "demo.open", {"team_id": team, "p": 1},
                          cadence=Cadence("weekly", 0, "10:00")) for team in ("T1", "T2")),
                JobSpec("demo.broken:T1", "demo.broken", {"team_id": "T1"}, every=60)]))

    def run(*args):
        return hearth_cli("jobs", "run", *args, workflows=workflows)

    result = run("demo.open", "--team", "T2")
    assert result.exit_code == 0 and "ran 1 of 1 in" in result.output
    assert ran == [{"team_id": "T2", "p": 1}]
    assert run("demo.open").output.count("ran 2 of 2") == 1
    assert run("demo.sweep", "--team", "T9").exit_code == 0 and ran[-1] == ("sweep", "T9")
    broken = run("demo.broken")
    assert broken.exit_code == 1 and "ran 0 of 1" in broken.output
    assert "demo.broken:T1 (ZeroDivisionError)" in broken.output
    unknown = run("nope")
    assert unknown.exit_code == 2 and unknown.output.startswith("hearth: no scheduled action or job named 'nope'")


def test_a_settings_error_is_one_line(hearth_cli, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://db/x")
    result = hearth_cli("outbox", "status")
    assert result.exit_code == 2 and result.output.startswith("hearth: DATABASE_URL must be")
    assert len(result.output.strip().splitlines()) == 1


def test_outbox_status_shows_the_learned_rate_and_the_time_a_fan_out_still_needs(hearth_cli, db):
    from slack_app.delivery.pacing import SlackLimits
    from storage import ratelimit

    for i in range(90):
        put(db, f"fan{i}")
    with db.session() as s:
        ratelimit.limited(s, f"{TEAM}:chat.postMessage", SlackLimits().post_workspace, now=1000.0, hold_for=1.0)
    result = hearth_cli("outbox", "status")
    assert result.exit_code == 0, result.output
    assert f"{TEAM}: chat.postMessage 540/min (learned; configured 600)" in result.output
    assert f"{TEAM}: 90 to send, about 10s at this rate" in result.output
