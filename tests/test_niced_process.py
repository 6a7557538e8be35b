"""Work that may wait (App Homes, report routing) in a lower-priority process of its own (`slack_app.niced`,
`hearth serve`/`run`)."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from slack_app import home
from slack_app.niced import NicedProcess
from slack_app.request_path import AfterAck
from slack_app.simulator import wait_for
from tests.test_serve_processes import _children, _state

# Jobs are pickled by reference: the child imports this module to find them.


def whoami(services, slack, team_id, user_id):
    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0), team_id, user_id, type(slack).__name__


def sleeper(services, slack, team_id, user_id):
    time.sleep(float(user_id))


def dies(services, slack, team_id, user_id):
    os._exit(3)


@pytest.fixture
def niced(app_settings, db):
    process = NicedProcess(app_settings, queue=2)
    yield process
    process.shutdown()


def test_jobs_run_in_a_child_process_at_a_lower_cpu_priority(niced):
    pid, priority, team, user, port = niced.submit("probe", whoami, "T1", "U1").result(timeout=60)
    assert pid != os.getpid()
    assert priority == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    assert (team, user, port) == ("T1", "U1", "WebApiPort")  # a Slack port of its own, for that workspace


def test_a_home_drawn_there_reaches_slack(niced, simulator, db):
    niced.submit("home.publish", home.show, "T0HEARTH", "UBOB").result(timeout=60)
    published = [c for c in simulator.calls_for("views.publish") if c.params.get("user_id") == "UBOB"]
    assert len(published) == 1 and published[0].params["view"]["type"] == "home"


def test_the_after_ack_pool_sends_home_drawing_there_when_it_has_one(niced, simulator, services, slack):
    after_ack = AfterAck(niced=niced)
    try:
        assert after_ack.low_priority("home.publish", home.show, services, slack, "T0HEARTH", "UCARMEN")
        assert wait_for(lambda: any(c.params.get("user_id") == "UCARMEN"
                                    for c in simulator.calls_for("views.publish")), timeout=60)
    finally:
        after_ack.shutdown()


def test_a_new_report_is_routed_there_too(niced, services, slack):
    from slack_app.reports import usecases
    from storage import reports as store

    raw = dict(category="harassment", text="secret words", urgency="high", anonymous=True, follow_up=False,
               people=["UEMI"], snapshot=None)
    case_id = usecases.submit(services, "T0HEARTH", "UBOB", "V1", raw).case_id
    after_ack = AfterAck(niced=niced)

    def channel():
        with services.db.session() as s:
            return store.get(s, case_id).channel_id

    try:
        assert after_ack.low_priority("reports.route", usecases.route, services, slack, "T0HEARTH", case_id)
        assert wait_for(lambda: channel() == "GMODS", timeout=60)  # the card is queued for the moderators
    finally:
        after_ack.shutdown()


def test_jobs_beyond_the_queue_are_dropped_with_a_log_line_not_waited_for(niced, caplog):
    niced.submit("probe", whoami, "T1", "U1").result(timeout=60)  # the child is up
    caplog.set_level(logging.INFO, logger="hearth.request")
    running = [niced.submit("slow", sleeper, "T1", "1.0") for _ in range(2)]
    started = time.monotonic()
    assert niced.submit("home.publish", sleeper, "T1", "0") is None
    assert time.monotonic() - started < 0.5 and niced.dropped == 1
    assert "niced.dropped job=home.publish reason=busy" in caplog.text
    for future in running:
        future.result(timeout=30)
    assert niced.submit("probe", whoami, "T1", "U1").result(timeout=30)  # slots come back when jobs finish


def test_a_child_that_died_is_replaced_at_the_next_job(niced, caplog):
    first = niced.submit("probe", whoami, "T1", "U1").result(timeout=60)[0]
    caplog.set_level(logging.WARNING, logger="hearth.request")
    with pytest.raises(BrokenProcessPool):
        niced.submit("crash", dies, "T1", "U1").result(timeout=30)
    assert wait_for(lambda: "niced.lost" in caplog.text, timeout=10)
    second = niced.submit("probe", whoami, "T1", "U1").result(timeout=60)[0]
    assert second not in (first, os.getpid())


def _alive(pid):
    return _state(pid) not in ("Z", "gone")


def _drawer_of(server_pid):
    """The server's Home process: the child that runs spawn_main (multiprocessing starts a resource tracker too)."""
    for child in _children(server_pid):
        with open(f"/proc/{child}/cmdline", "rb") as f:
            if b"spawn_main" in f.read():
                return child
    return None


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_hearth_serve_draws_homes_in_a_child_that_ends_with_it(simulator, database_url, db, db_key, tmp_path, stop):
    import signal
    import subprocess

    from slack_app.simulator import SlackDriver
    from tests.conftest import SIGNING_SECRET
    from tests.test_cli import HEARTH, free_port
    from tests.test_serve_processes import _env, _healthy

    port = free_port()
    proc = subprocess.Popen([HEARTH, "serve", "--port", str(port), "--no-worker"],
                            env=_env(simulator, DATABASE_URL=database_url, HEARTH_ENCRYPTION_KEY=db_key),
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        assert _healthy(url, proc)
        assert wait_for(lambda: _drawer_of(proc.pid) is not None, timeout=10)  # started with the server
        drawer = _drawer_of(proc.pid)
        nicer = min(19, os.getpriority(os.PRIO_PROCESS, proc.pid) + 10)
        assert wait_for(lambda: os.getpriority(os.PRIO_PROCESS, drawer) == nicer, timeout=10)  # once it has started
        assert SlackDriver(url + "/slack/events", SIGNING_SECRET, simulator).app_home_opened("UALICE").status == 200
        assert wait_for(lambda: any(c.params.get("user_id") == "UALICE" for c in simulator.calls_for("views.publish")),
                        timeout=30)
        proc.send_signal(getattr(signal, stop))
        proc.wait(timeout=30)
        assert wait_for(lambda: not _alive(drawer), timeout=10), "the Home process outlived the server"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
