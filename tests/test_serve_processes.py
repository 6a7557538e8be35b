"""`hearth serve --processes N`: several processes on one port, each a whole instance, stopped as one."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from slack_app.simulator import SlackDriver, wait_for
from tests.conftest import PG_URL, SIGNING_SECRET
from tests.test_cli import HEARTH, free_port, hearth


def _env(simulator, **extra):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARTH_", "DATABASE_URL"))}
    return {**base, "SLACK_BOT_TOKEN": simulator.bot_token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": simulator.base_url, **extra}


def _healthy(url, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "hearth serve did not come up"
            time.sleep(0.2)


def _pids(output, pattern):
    """The processes (the pid each log line starts with, after the time) that logged `pattern`."""
    return {int(m.group(1)) for m in re.finditer(r"^\S+ \S+ (\d+) \w+ .*" + pattern, output, re.MULTILINE)}


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: SQLite serves one process (refused below)")
def test_two_processes_share_the_port_and_stop_as_one(simulator, database_url, db, db_key, tmp_path):
    from sqlalchemy import text

    port = free_port()
    proc = subprocess.Popen([HEARTH, "serve", "--port", str(port), "--processes", "2"],
                            env=_env(simulator, DATABASE_URL=database_url, HEARTH_ENCRYPTION_KEY=db_key),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        assert _healthy(url, proc)
        # Each process is a whole instance: a candidate for the scheduler's advisory lock, and one holds it.
        # Waited for first: a process still starting (the leader runs its catch-up sweeps) may accept none of
        # the connections below.
        assert wait_for(lambda: _leader_candidates(db, text) == (2, 1), timeout=20)
        driver = SlackDriver(url + "/slack/events", SIGNING_SECRET, simulator)
        users = [f"UHOME{i:02d}" for i in range(40)]
        statuses: list[int] = []

        def open_homes(some):
            statuses.extend(driver.app_home_opened(user).status for user in some)  # a connection each

        senders = [threading.Thread(target=open_homes, args=(users[i::8],)) for i in range(8)]
        for s in senders:
            s.start()
        for s in senders:
            s.join()
        assert statuses == [200] * 40
        assert wait_for(lambda: len(simulator.calls_for("views.publish")) == 40, timeout=20)
    finally:
        proc.terminate()  # SIGTERM to the parent stops every process
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    listening = _pids(output, r"http\.listening .* process=[12]/2")
    assert len(listening) == 2 and proc.pid not in listening
    # Each process draws its Homes in a lower-priority child of its own (slack_app.niced): two children
    # published, so the kernel gave connections to both.
    publishers = _pids(output, r"method=views\.publish")
    assert len(publishers) == 2 and not publishers & (listening | {proc.pid})
    # What was built is frozen once before the fork (the copies share it) and in each niced child (slack_app.heap).
    assert _pids(output, r"heap\.frozen objects=\d+") == {proc.pid} | publishers
    assert len(_pids(output, r"delivery\.stopped")) == 2 and output.count("leader.released") == 1
    assert "Traceback" not in output


def _leader_candidates(db, text):
    with db.engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT count(DISTINCT a.pid), count(l.pid) FROM pg_stat_activity a "
            "LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted "
            "WHERE a.datname = current_database() AND a.application_name = 'hearth-leader'")).one())


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: SQLite serves one process (refused below)")
def test_a_process_that_dies_stops_the_others_and_the_parent_fails(simulator, database_url, db, db_key, tmp_path):
    port = free_port()
    proc = subprocess.Popen([HEARTH, "serve", "--port", str(port), "--processes", "2", "--no-worker"],
                            env=_env(simulator, DATABASE_URL=database_url, HEARTH_ENCRYPTION_KEY=db_key),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert _healthy(f"http://127.0.0.1:{port}", proc)
        assert wait_for(lambda: len(_children(proc.pid)) == 2)
        children = _children(proc.pid)
        os.kill(children[0], signal.SIGKILL)
        output = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1  # a supervisor restarts the whole, not half of it
    assert re.search(r"processes\.died process=[12] exit=-9: stopping the others", output)
    assert not any(os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" for pid in children)
    with socket.socket() as s:  # nothing listens on the port any more (as servers do, TIME_WAIT is no obstacle)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_more_than_one_process_on_sqlite_is_refused_in_one_line(tmp_path, simulator):
    result = hearth("serve", "--processes", "2", env=_env(simulator, HEARTH_ENV="development",
                                                           XDG_CONFIG_HOME=str(tmp_path / "cfg")), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("hearth: --processes needs PostgreSQL")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path, simulator):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = hearth("serve", "--port", str(port), env=_env(simulator, HEARTH_ENV="development",
                                                                 XDG_CONFIG_HOME=str(tmp_path / "cfg")), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"hearth: hearth serve cannot listen on 127.0.0.1:{port} (Address already in "
                                     "use): choose a free one with --port.")


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: SQLite serves one process (refused above)")
def test_hearth_run_in_two_processes_holds_two_connections_and_handles_each_envelope_once(simulator, database_url,
                                                                                         db, db_key, tmp_path):
    from sqlalchemy import text

    from tests.hearth_run import HearthRun, get, run_env
    from tests.hearth_run import free_port as free

    gateway = simulator.socket_mode
    port = free()
    env = run_env(simulator, tmp_path, DATABASE_URL=database_url, HEARTH_ENCRYPTION_KEY=db_key)
    with HearthRun(env, "--processes", "2", "--http-port", str(port), log=tmp_path / "run.log") as run:
        assert gateway.wait_for_connections(2, timeout=30), run.output
        driver = SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True)
        users = [f"UHOME{i:02d}" for i in range(12)]
        homes = {user: driver.app_home_opened(user) for user in users}  # envelopes alternate between connections
        joined = driver.member_joined_channel("UBOB", "CCIRCLE")
        retried = driver.member_joined_channel("UBOB", "CCIRCLE", event_id=joined.event_id, retry_num=1)
        assert all(r.status == 200 for r in (*homes.values(), joined, retried))  # the retry: Slack's
        assert wait_for(lambda: len(simulator.calls_for("views.publish")) == 12, timeout=20)
        wait_for(lambda: len(simulator.calls_for("views.publish")) > 12, timeout=0.5)
        assert sorted(c.params["user_id"] for c in simulator.calls_for("views.publish")) == users  # each once
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200  # the copies share the --http-port listener
        assert wait_for(lambda: _leader_candidates(db, text) == (2, 1), timeout=20)
        assert run.stop() == 0, run.output
    output = run.output
    assert len(_pids(output, r"socket\.closed drained=True")) == 2  # each copy closed its own connection
    assert len(_pids(output, r"method=views\.publish")) == 2  # both took envelopes
    assert output.count("leader.released") == 1 and "Traceback" not in output
    assert output.count("event.duplicate") == 1  # the retry, whichever copy took it, stopped at the dedupe
