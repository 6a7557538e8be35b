"""start_background: the delivery worker everywhere, the scheduler only where the leadership is."""

import time
from types import SimpleNamespace

import pytest

from slack_app.delivery.pacing import SlackLimits
from slack_app.delivery.worker import WorkerOptions
from slack_app.fake_port import FakeSlackPort
from slack_app.runtime import start_background
from slack_app.scheduling.registry import Jobs, JobSpec
from slack_app.simulator import wait_for
from slack_app.workflow import Workflow
from storage import outbox
from tests.conftest import PG_URL

OPTIONS = WorkerOptions(threads=2, poll_interval=0.02, limits=SlackLimits().scaled(100))


def services_with(db, jobs: Jobs | None = None) -> SimpleNamespace:
    """What start_background reads of Services: the database, settings, key, and the workflows' jobs."""
    return SimpleNamespace(db=db, settings=None, crypto=None, workflows=(Workflow("demo", jobs=jobs or Jobs()),))


def test_background_delivers_and_runs_jobs_until_stopped(db, caplog):
    port = FakeSlackPort(team_id="T1")
    port.add_user("UANA")
    ticks = []
    jobs = Jobs(actions={"demo.tick": lambda ctx: ticks.append(ctx.job_id)},
                always=[JobSpec("demo.tick", "demo.tick", every=0.2)])
    with db.session() as s:
        outbox.enqueue(s, team_id="T1", kind="test", target="UANA", payload={"text": "hi"}, dedupe_key="k")
    background = start_background(services_with(db, jobs), port_for_team=lambda team: port,
                                  worker_options=OPTIONS, leader_retry_interval=0.1)
    try:
        assert wait_for(lambda: len(port.calls("chat.postMessage")) == 1)
        assert wait_for(lambda: len(ticks) >= 2)
        assert wait_for(lambda: background.is_leader)
    finally:
        background.stop()
    assert not background.worker.running and not background.scheduler.running
    with db.session() as s:
        assert outbox.find(s, "T1", "k").status == "sent"
    if db.is_sqlite:
        assert "single_instance" in caplog.text


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: runs in the PostgreSQL pass")
def test_only_one_instance_schedules_and_another_takes_over(db):
    port = FakeSlackPort(team_id="T1")
    services = services_with(db)
    first = start_background(services, port_for_team=lambda t: port, worker=False, leader_retry_interval=0.1)
    assert wait_for(lambda: first.is_leader)
    second = start_background(services, port_for_team=lambda t: port, worker=False, leader_retry_interval=0.1)
    try:
        time.sleep(0.3)
        assert first.scheduler.running and not second.scheduler.running and not second.is_leader
        first.stop()
        assert wait_for(lambda: second.is_leader and second.scheduler.running, timeout=5)
        assert not first.scheduler.running
    finally:
        first.stop()
        second.stop()
