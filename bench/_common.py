"""Shared parts of the delivery benchmarks: a simulator with N members, a scratch database, worker
processes, and counting what Slack received by dedupe key."""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench._cpu_limit import CpuLimit
from slack_app.simulator import SlackSimulator, User, demo_workspace
from slack_app.simulator.ratelimit import most_in_window
from storage import migrate, outbox
from storage.crypto import Crypto, generate_key
from storage.db import Database, normalise_url

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
TEAM = "T0HEARTH"
# Time runs this many times faster than Slack's: 10,000 DMs take ~100 s instead of 17 min. At 20× the
# worker, the simulator and PostgreSQL saturate this machine's two CPUs and the ratio measures the box,
# not the pacing; 10× leaves them headroom.
SCALE = 10.0
POSTS_PER_MINUTE = 600  # the simulator's workspace-wide chat.postMessage ceiling (Slack: "several hundred")
PG_ADMIN = os.environ.get("HEARTH_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
KEY = generate_key()  # this run's encryption key: the outbox is sealed with it, worker processes are given it


def workspace(members: int):
    ws = demo_workspace()
    for i in range(members):
        ws.add_user(User(f"UM{i:05d}", f"member{i}", f"Member {i}"))
    return ws


@contextmanager
def scratch_database(kind: str):
    """A migrated, empty database: an SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{tmp}/bench.db", crypto=Crypto([KEY]))
            migrate.upgrade(db)
            yield db
            db.dispose()
        return
    admin_url = normalise_url(PG_ADMIN)
    name = f"hearth_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(admin_url).set(database=name).render_as_string(hide_password=False), crypto=Crypto([KEY]))
    try:
        migrate.upgrade(db)
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def slack_latency(sim: SlackSimulator, members: int, *, latency: float, scale: float) -> None:
    """Make the simulator answer like Slack does (about `latency` s per call at Slack's speed, so
    latency / scale in the benchmark's compressed time)."""
    for method, calls in (("chat.postMessage", 2 * members), ("conversations.open", 2000),
                          ("conversations.history", 2000)):
        for _ in range(calls):
            sim.delay_next(method, latency / scale)


def enqueue_fanout(db: Database, members: int) -> None:
    """One campaign: a DM to each member, written in one transaction as a workflow would."""
    with db.session() as s:
        outbox.enqueue_many(s, [dict(team_id=TEAM, kind="bench.dm", target=f"UM{i:05d}",
                                     payload={"text": f"Hello member {i}"}, dedupe_key=f"bench:dm:{i}")
                                for i in range(members)])


def start_worker(db: Database, sim: SlackSimulator, *, scale: float, name: str, threads: int = 8,
                 lease: float = 60.0, fixed: bool = False) -> subprocess.Popen:
    """A worker process (bench/_worker.py: the DeliveryWorker with Slack's limits × scale)."""
    cmd = [sys.executable, str(BENCH / "_worker.py"), "--database-url", db.url, "--api-url", sim.base_url,
           "--token", sim.bot_token, "--scale", str(scale), "--threads", str(threads), "--lease", str(lease),
           "--id", name] + (["--fixed"] if fixed else [])
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HEARTH_ENCRYPTION_KEY": KEY})


def stop_worker(proc: subprocess.Popen, *, kill: bool = False) -> dict:
    """Stop a worker (SIGTERM: it finishes the rows in hand; SIGKILL: it dies on the spot); its counters."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    out, _err = proc.communicate(timeout=60)
    lines = [line for line in (out or "").splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of a server and of the copies it forked (`--processes`)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(server_cpu_seconds(int(c)) for c in children)


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL server process on this machine."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().startswith("postgres"):
                total += cpu_seconds(int(pid))
        except OSError:  # gone meanwhile
            continue
    return total


def unfinished(db: Database) -> int:
    with db.session() as s:
        return outbox.unfinished(s)


def wait_drained(db: Database, procs: Sequence[subprocess.Popen], timeout: float,
                 progress: Callable[[int], None] | None = None) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        left = unfinished(db)
        if progress:
            progress(left)
        if left == 0:
            return time.monotonic() - started
        for p in procs:
            if p.poll() is not None and p.returncode not in (0, -signal.SIGKILL, -signal.SIGTERM):
                raise RuntimeError(f"worker exited with {p.returncode}: {p.stderr.read()[-2000:]}")
        time.sleep(0.2)
    raise TimeoutError(f"{unfinished(db)} rows still unfinished after {timeout:.0f} s")


def count(sim: SlackSimulator, members: int, *, scale: float, db: Database,
          ceiling: float = POSTS_PER_MINUTE) -> dict:
    """Duplicates, missing and the achieved rate, from what the simulator received (by the opaque keys the
    outbox stores and Slack's message metadata carries)."""
    calls = sim.calls_for("chat.postMessage")
    ok = [c for c in calls if c.ok]
    keys = Counter(c.params["metadata"]["event_payload"]["key"] for c in ok)
    with db.session() as s:
        expected = {outbox.stored_key(s, f"bench:dm:{i}") for i in range(members)}
    times = sorted(c.at for c in ok)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    allowed = ceiling / 60 * scale
    achieved = (len(times) - 1) / span if span else 0.0
    return {
        "messages": members,
        "delivered_distinct": len(set(keys) & expected),
        "duplicates": sum(n - 1 for n in keys.values() if n > 1),
        "missing": len(expected - set(keys)),
        "http_429": sum(1 for c in calls if c.status == 429),
        "post_calls": len(calls),
        "history_calls": len(sim.calls_for("conversations.history")),
        "open_calls": len(sim.calls_for("conversations.open")),
        "allowed_per_s": round(allowed, 2),
        "achieved_per_s": round(achieved, 2),
        "ratio": round(achieved / allowed, 3) if allowed else None,
        "max_in_any_60s_window_scaled": most_in_window(times, 60 / scale),
        "allowed_in_60s_window_scaled": int(ceiling),
        "send_span_s": round(span, 1),
    }


def machine_speed_ms() -> float:
    """Milliseconds for a fixed pure-Python loop (best of 5), recorded with every result: this shared machine's
    speed varies by 2x from day to day, so figures taken on different days compare only beside it."""
    return round(min(timeit.repeat("sum(range(10**6))", number=1, repeat=5)) * 1000, 1)


def write(name: str, result: dict, command: str) -> None:
    result = {"benchmark": name, "command": command, "machine": f"{platform.node()} {platform.machine()}, "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}", "python_loop_ms": machine_speed_ms(),
              **result}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(k) for k in result)
    print(f"\n{name}")
    for k, v in result.items():
        print(f"  {k.ljust(width)}  {v}")
    print(f"  -> {RESULTS / (name + '.json')}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SEPARATE_WORKERS: dict[int, subprocess.Popen] = {}  # a `--no-worker` server's pid → its `hearth worker` (stopped with it)


def start_hearth(sim: SlackSimulator, tmp: Path, *, secret: str, database_url: str | None = None,
                 env: dict[str, str] | None = None, name: str = "hearth", socket_mode: bool = False,
                 separate_worker: bool = False, processes: int = 1, cpu_limit: CpuLimit | None = None,
                 ) -> tuple[subprocess.Popen, str | None]:
    """`hearth serve` on a free loopback port (an SQLite file in `tmp` unless `database_url`), or `hearth run`
    connected to the simulator's Socket Mode; its log goes to tmp/<name>.log. Returns the process and its events
    URL (None over Socket Mode) once it answers. `separate_worker`: the server runs with `--no-worker` beside
    a `hearth worker` process (in SEPARATE_WORKERS). `processes`: `hearth serve --processes`. `cpu_limit`: the
    instance (every process of it) runs within that limit."""
    port = free_port()
    env = {**os.environ, "SLACK_BOT_TOKEN": sim.bot_token, "SLACK_SIGNING_SECRET": secret,
           "SLACK_API_URL": sim.base_url, "DATABASE_URL": database_url or f"sqlite:///{tmp}/hearth.db",
           "ARCHIVE_URL": str(tmp / "archive"), "HEARTH_ENCRYPTION_KEY": KEY, "HEARTH_LOG_LEVEL": "WARNING",
           "SLACK_APP_TOKEN": sim.socket_mode.app_token, **(env or {})}
    hearth = Path(sys.executable).with_name("hearth")
    wrap = cpu_limit.wrap if cpu_limit else list
    flags = ["--no-worker"] if separate_worker else []
    if socket_mode:
        proc, url = connect_process(wrap([str(hearth), "run", *flags]), sim, tmp, name, env), None
    else:
        proc, url = serve_process(wrap([str(hearth), "serve", "--host", "127.0.0.1", "--port", str(port),
                                        "--processes", str(processes), *flags]), port, tmp, name, env)
    if separate_worker:
        SEPARATE_WORKERS[proc.pid] = subprocess.Popen(wrap([str(hearth), "worker"]), env=env, cwd=tmp,
                                             stdout=(tmp / f"{name}-worker.log").open("w"), stderr=subprocess.STDOUT)
    return proc, url


def connect_process(cmd: list[str], sim: SlackSimulator, tmp: Path, name: str, env: dict[str, str] | None = None,
                    cwd: Path | None = None) -> subprocess.Popen:
    """Start a Socket Mode app process; wait (60 s at most) until it holds a connection to the simulator."""
    log_path = tmp / f"{name}.log"
    proc = subprocess.Popen(cmd, env=env, cwd=cwd or tmp, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    if not sim.socket_mode.wait_for_connections(1, timeout=60):
        proc.kill()
        raise TimeoutError(f"{name} did not connect within 60 s: {log_path.read_text()[-2000:]}")
    return proc


def serve_process(cmd: list[str], port: int, tmp: Path, name: str, env: dict[str, str] | None = None,
                  cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start a server process listening on `port`; wait (60 s at most) until it answers on /slack/events."""
    log_path = tmp / f"{name}.log"
    proc = subprocess.Popen(cmd, env=env, cwd=cwd or tmp, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/slack/events"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
        except urllib.error.HTTPError:
            return proc, url  # it answers (GET is refused): it is listening
        except OSError:
            time.sleep(0.2)
        else:
            return proc, url
    proc.kill()
    raise TimeoutError(f"{name} did not start within 60 s")


def stop_process(proc: subprocess.Popen) -> None:
    if proc.pid in SEPARATE_WORKERS:
        stop_process(SEPARATE_WORKERS.pop(proc.pid))
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))] if ordered else 0.0
