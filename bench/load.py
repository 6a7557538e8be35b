"""Benchmark: ack latency and throughput of `hearth serve` on PostgreSQL under a realistic mix, beside a bare
Bolt app that only acks, served the same way (bench/_bare.py: same WSGI front, waitress threads, executor).

    .venv/bin/python -m bench.load [--rate 200] [--seconds 20] [--saturate-seconds 15] [--concurrency 32]
                                   [--members 1000] [--scale-out] [--processes 1] [--transport http]
                                   [--cpu-limit CORES] [--label NAME]

Each server is its own process; this process plays Slack: it sends signed requests on loopback (keep-alive
connections, one per client thread) and hosts the Web API simulator the app calls after its acks. The
database is seeded through the real app first (a check-in circle with an open round, a survey open to
everyone, a moderator channel), so listeners do their real work on real ids:

    check-in submissions 20%, survey submissions 15%, report submissions 5%, "Check in" clicks 15%,
    survey "Answer" clicks 5%, /checkin 10%, /hearth help 5%, app_home_opened 25%

Phases, each for the bare app and for Hearth in the same run:
1. paced: --rate requests/s, open loop (sends follow the clock, not the answers) → p50/p95/p99 ack latency
   from the send; 64 client threads, so a server that falls behind makes sends late: `client_lag_p99_ms`,
   and `p99_from_due_ms` (the target's measure) counts from when each request was due;
2. saturation: --concurrency clients back to back → requests/s, and Hearth's share of the bare app's.
--scale-out adds a second `hearth serve` on the same database and saturates both, round-robin; then checks
that one instance holds the scheduler's leadership and that Slack received no message twice, stops the second
and saturates the first again: `two_instances_vs_one` sets the two against the mean of one before and after.
The simulator does not enforce rate limits here (bench/ack_burst.py measures 429 handling): every view and
Home publish is really made, so the app does all its work.
--processes N serves both apps as N copies on one port (`hearth serve --processes N`), so both use N cores.
--floor also saturates the floor: the bare app doing the least that any app answering this mix must do for
each kind (bench/_bare.py --writes: a submission stores a row before its ack, a click or command opens a
one-block modal, an App Home open publishes a one-block Home); `floor_vs_bare` bounds the share of the bare
app's throughput such an app can reach, and `hearth_vs_floor` is Hearth's share of it.
--cpu-limit CORES runs each server (a Hearth instance with all its processes, the bare app) within that many
CPUs, as a container's CPU limit would (bench/_cpu_limit.py, needs root). With --scale-out it shows whether two
instances hold twice what one holds while neither the database nor this machine is what runs out.
--transport socket sends the same mix as Socket Mode envelopes through the simulator's gateway instead: Hearth
is `hearth run` (seeded over Socket Mode too), the bare app is Bolt's SocketModeHandler, and since the gateway
spreads an app's envelopes over all its connections, only one of them is connected at a time: Hearth's phases,
then the bare app's. Latency is from the envelope's send to its ack.
Targets: p99 ≤ 100 ms at 200 requests/s; saturation ≥ 0.7 of the bare app's throughput.
Writes bench/results/load_<label>.json.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import itertools
import json
import queue
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text

from bench import _common as bench
from bench._cpu_limit import CpuLimit
from slack_app.checkins import rounds
from slack_app.checkins.ids import CheckinAction, CheckinBlock, CheckinView
from slack_app.ids import Command
from slack_app.reports.ids import ReportView
from slack_app.services import build_services
from slack_app.settings import load_settings
from slack_app.simulator import SlackDriver, SlackSimulator, wait_for
from slack_app.simulator.driver import FORM, JSON, VERIFICATION_TOKEN, Response
from slack_app.simulator.elements import state_values
from slack_app.slack_port import WebApiPort, make_client
from slack_app.surveys import usecases as surveys
from slack_app.surveys.ids import SurveyAction, SurveyView
from slack_app.surveys.views import question_block
from slack_app.workflows import WORKFLOWS
from storage import outbox

SECRET = "bench-load-signing-secret"
GRATITUDE = "a quiet morning"
CIRCLE, GENERAL, MODS = "CCIRCLE", "CGENERAL", "GMODS"
MIX = {"checkin_submit": 20, "survey_submit": 15, "report_submit": 5, "checkin_click": 15, "survey_click": 5,
       "checkin_command": 10, "help_command": 5, "home_opened": 25}


# ---- requests as Slack sends them --------------------------------------------------------------------------

class _Capture(SlackDriver):
    """The driver's payload shapes without sending: post_raw hands back what would have been posted."""

    def post_raw(self, body: bytes | str, *, content_type: str, **_: Any) -> Response:  # type: ignore[override]
        raw = body.encode() if isinstance(body, str) else body
        return Response(status=0, headers={"content-type": content_type}, body_text="", json=raw)


@dataclass
class Mix:
    """Builds the next request of each kind, with fresh trigger ids and response_urls from the simulator."""
    sim: SlackSimulator
    members: list[str]
    round_id: int
    survey_run: str
    views: dict[str, dict]  # kind → a modal as the member filled it in (state included)
    _capture: _Capture = field(init=False)

    def __post_init__(self) -> None:
        self._capture = _Capture("http://unused", SECRET, self.sim)
        self._kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]
        # Each kind walks through every member in turn: a member's second check-in is an edit, a second survey
        # answer is refused, as in Slack.
        self._turns = {kind: itertools.count() for kind in MIX}

    def kind(self, i: int) -> str:
        return self._kinds[(i * 37) % len(self._kinds)]  # spread evenly, the same order every run

    def build(self, kind: str) -> tuple[str, bytes]:
        n = next(self._turns[kind])
        user = self.members[n % len(self.members)]
        cap = self._capture
        if kind in ("checkin_submit", "survey_submit", "report_submit"):
            view = dict(self.views[kind], id="V" + secrets.token_hex(5).upper())  # a modal per submission
            if kind == "checkin_submit":  # words of their own: an edit is stored and shared again
                view = json.loads(json.dumps(view).replace(GRATITUDE, f"{GRATITUDE} ({n})"))
            return FORM, urlencode({"payload": json.dumps({
                "type": "view_submission", "team": cap._team(), "user": cap._user(user),
                "api_app_id": self.sim.workspace.app_id, "token": VERIFICATION_TOKEN,
                "trigger_id": self.sim.issue_trigger(user), "view": view, "response_urls": [],
                "is_enterprise_install": False, "enterprise": None})}).encode()
        if kind == "checkin_click":
            resp = cap.block_action(user, CheckinAction.OPEN_MODAL, value=str(self.round_id),
                                    channel=self.sim.state.dm_id(user))
        elif kind == "survey_click":
            resp = cap.block_action(user, SurveyAction.OPEN_MODAL, value=self.survey_run,
                                    channel=self.sim.state.dm_id(user))
        elif kind == "checkin_command":
            resp = cap.command(user, Command.CHECKIN.value, channel=GENERAL)
        elif kind == "help_command":
            resp = cap.command(user, Command.HEARTH.value, "help", channel=GENERAL)
        elif kind == "home_opened":
            return JSON, json.dumps(self._event({"type": "app_home_opened", "user": user,
                                                 "channel": self.sim.state.dm_id(user), "tab": "home"})).encode()
        else:
            raise ValueError(kind)
        return resp.headers["content-type"], resp.json

    def _event(self, event: dict) -> dict:
        ws = self.sim.workspace
        return {"token": VERIFICATION_TOKEN, "team_id": ws.team_id, "api_app_id": ws.app_id,
                "event": {"event_ts": f"{time.time():.6f}", **event}, "type": "event_callback",
                "event_id": "Ev" + secrets.token_hex(6).upper(), "event_time": int(time.time()),
                "authorizations": [{"enterprise_id": None, "team_id": ws.team_id, "user_id": ws.bot_user_id,
                                    "is_bot": True, "is_enterprise_install": False}],
                "is_ext_shared_channel": False}


# ---- the client ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    kind: str
    status: int
    latency: float  # send → full answer read
    lag: float  # how late the send was against the schedule (the client's own delay)
    sent: float = 0.0  # perf_counter when it was sent: for the latency of each second of a phase


class Client:
    """Keep-alive connections, one per thread and server; requests go to the servers in turn (round-robin)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.targets = [urlsplit(u) for u in urls]
        self._next = itertools.count()
        self._local = threading.local()
        self._signer = SignatureVerifier(SECRET)

    def send(self, content_type: str, body: bytes) -> int:
        target = self.targets[next(self._next) % len(self.targets)]
        conns = self._local.__dict__.setdefault("conns", {})
        ts = str(int(time.time()))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": self._signer.generate_signature(timestamp=ts, body=body.decode())}
        for attempt in (0, 1):
            conn = conns.get(target.netloc)
            if conn is None:
                conn = conns[target.netloc] = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                conn.request("POST", target.path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                return resp.status
            except (http.client.HTTPException, OSError):
                conn.close()
                del conns[target.netloc]
                if attempt:
                    raise
        raise AssertionError("unreachable")


class SocketClient:
    """The same requests as Socket Mode envelopes over the simulator's gateway: 200 once acked, else 504.
    The gateway spreads them over the app's open connections."""

    def __init__(self, sim: SlackSimulator) -> None:
        self._driver = SlackDriver(None, SECRET, sim, timeout=30, raise_on_late_ack=False, socket_mode=True)

    def send(self, content_type: str, body: bytes) -> int:
        return self._driver.post_raw(body, content_type=content_type).status


@contextmanager
def collector_off() -> Iterator[None]:
    """No garbage collection in this process while a phase is timed, as `timeit` does. This process holds
    the clients and the simulator, whose record of every call grows the heap: its full collections took
    100–195 ms, stopping every client thread, so requests went out late and their answers were read late
    (a run's slowest seconds were this process's pauses, not the server's). Reference counting still frees
    what is let go; cycles wait until the phase ends."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def paced(client: Client | SocketClient, mix: Mix, rate: float, seconds: float, threads: int = 64) -> list[Sample]:
    """Open loop: request i is due at i / rate, whatever became of the earlier ones."""
    due: queue.Queue[tuple[float, int] | None] = queue.Queue()
    samples: list[Sample] = []
    lock = threading.Lock()

    def work() -> None:
        while (item := due.get()) is not None:
            at, i = item
            kind = mix.kind(i)
            content_type, body = mix.build(kind)
            t0 = time.perf_counter()
            status = client.send(content_type, body)
            t1 = time.perf_counter()
            with lock:
                samples.append(Sample(kind, status, t1 - t0, t0 - at, t0))

    pool = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    with collector_off():
        for t in pool:
            t.start()
        start = time.perf_counter() + 0.1
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            due.put((start + i / rate, i))
        for _ in pool:
            due.put(None)
        for t in pool:
            t.join()
    return samples


def saturate(client: Client | SocketClient, mix: Mix, concurrency: int, seconds: float) -> tuple[list[Sample], float]:
    """Closed loop: `concurrency` clients send back to back; answers completed within the window count."""
    samples: list[Sample] = []
    lock = threading.Lock()
    counter = itertools.count()
    end = time.perf_counter() + seconds

    def work() -> None:
        while time.perf_counter() < end:
            kind = mix.kind(next(counter))
            content_type, body = mix.build(kind)
            t0 = time.perf_counter()
            status = client.send(content_type, body)
            t1 = time.perf_counter()
            if t1 <= end:
                with lock:
                    samples.append(Sample(kind, status, t1 - t0, 0.0))

    pool = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
    with collector_off():
        started = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    return samples, min(seconds, time.perf_counter() - started)


def saturation(args: argparse.Namespace, mix: Mix, client: Client | SocketClient, pids: list[int]) -> dict:
    """Saturate the servers `client` reaches; with the CPU the servers and this process (client and simulator) used,
    which says whether the servers or the machine ran out first."""
    before = [bench.server_cpu_seconds(pid) for pid in pids]
    workers = [bench.SEPARATE_WORKERS[pid].pid for pid in pids if pid in bench.SEPARATE_WORKERS]
    before_workers = [bench.cpu_seconds(pid) for pid in workers]
    own = time.process_time()
    samples, span = saturate(client, mix, args.concurrency, args.saturate_seconds)
    used = sum(bench.server_cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True))
    worker_used = sum(bench.cpu_seconds(pid) - b for pid, b in zip(workers, before_workers, strict=True))
    return {**latency_summary(samples, span),
            # the servers' CPU per request: what the machine's other load distorts least
            "server_cpu_ms_per_request": round(1000 * used / max(1, len(samples)), 2),
            "server_cpu_cores": round(used / span, 2),
            **({"separate_worker_cpu_cores": round(worker_used / span, 2)} if workers else {}),
            "client_and_simulator_cpu_cores": round((time.process_time() - own) / span, 2)}


def latency_summary(samples: list[Sample], seconds: float) -> dict:
    ms = [s.latency * 1000 for s in samples]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s.latency * 1000)
    return {
        "requests": len(samples),
        "per_s": round(len(samples) / seconds, 1),
        "statuses": dict(Counter(str(s.status) for s in samples)),
        "p50_ms": round(bench.percentile(ms, 50), 1),
        "p95_ms": round(bench.percentile(ms, 95), 1),
        "p99_ms": round(bench.percentile(ms, 99), 1),
        "max_ms": round(max(ms, default=0.0), 1),
        "client_lag_p99_ms": round(bench.percentile([s.lag * 1000 for s in samples], 99), 1),
        # from when the request was due: what a member waits when the server falls behind the offered rate
        "p99_from_due_ms": round(bench.percentile([(s.latency + s.lag) * 1000 for s in samples], 99), 1),
        "p99_ms_by_kind": {k: round(bench.percentile(v, 99), 1) for k, v in sorted(by_kind.items())},
        **({"p99_ms_by_second": by_second(samples)} if any(s.sent for s in samples) else {}),
    }


def by_second(samples: list[Sample]) -> list[float]:
    """p99 of the requests sent in each second of a phase: a tail from stalls shows as a few bad seconds,
    a tail from a server that cannot keep up as a rising line."""
    start = min(s.sent for s in samples)
    seconds: dict[int, list[float]] = defaultdict(list)
    for s in samples:
        seconds[int(s.sent - start)].append(s.latency * 1000)
    return [round(bench.percentile(seconds[i], 99), 1) for i in range(max(seconds) + 1)]


# ---- set-up: servers and a seeded database ----------------------------------------------------------------

def seed(sim: SlackSimulator, driver: SlackDriver, database_url: str, tmp: Path, members: list[str]) -> Mix:
    """A circle with an open round, a survey open to everyone, and the three modals members fill in, made
    through the real app (and the use cases the scheduler and CLI call)."""
    settings = load_settings(env_file=None, SLACK_BOT_TOKEN=sim.bot_token, SLACK_SIGNING_SECRET=SECRET,
                             SLACK_API_URL=sim.base_url, DATABASE_URL=database_url,
                             ARCHIVE_URL=str(tmp / "archive"), HEARTH_ENCRYPTION_KEY=bench.KEY,
                             HEARTH_MODERATOR_CHANNEL=MODS)
    services = build_services(settings, workflows=WORKFLOWS)
    port = WebApiPort(make_client(sim.bot_token, sim.base_url))
    team = sim.workspace.team_id
    alice = driver.as_member("UALICE")

    def modal(user: str, callback_id: str) -> dict:
        assert wait_for(lambda: (sim.latest_view(user) or {}).get("callback_id") == callback_id, timeout=10), \
            f"no {callback_id} modal for {user}"
        return sim.latest_view(user) or {}

    alice.command(Command.HEARTH.value, channel=CIRCLE)
    modal("UALICE", CheckinView.SETTINGS)
    assert alice.submit({}).status == 200
    opened = rounds.open_round(services, port, team, CIRCLE)
    assert opened.round_id is not None, opened
    instrument, source = surveys.load_survey("belonging")
    launched = surveys.launch(services, port, team, instrument, source, channel_id=GENERAL,
                              closes=timedelta(days=7), min_responses=5, launched_by="UFINN")
    assert launched.run_id is not None, launched

    def filled(view: dict, values: dict) -> dict:
        return {**view, "state": {"values": state_values(view, values)}}

    first = members[0]
    driver.block_action(first, CheckinAction.OPEN_MODAL, value=str(opened.round_id), channel=GENERAL)
    checkin = filled(modal(first, CheckinView.SUBMIT), {CheckinBlock.GRATITUDE: GRATITUDE,
                                                        CheckinBlock.CHALLENGE: "a deadline",
                                                        CheckinBlock.SHARING: "named"})
    driver.block_action(first, SurveyAction.OPEN_MODAL, value=launched.run_id, channel=GENERAL)
    survey = filled(modal(first, SurveyView.SUBMIT), {question_block(q.id): "4" for q in instrument.counted})
    driver.command(first, Command.REPORT.value, channel=GENERAL)
    report = filled(modal(first, ReportView.INTAKE), {"category": "harassment", "text": "(what happened)",
                                                      "urgency": "normal", "options": []})
    services.db.dispose()
    return Mix(sim, members, opened.round_id, launched.run_id,
               {"checkin_submit": checkin, "survey_submit": survey, "report_submit": report})


def start_bare(sim: SlackSimulator, tmp: Path, *, socket_mode: bool = False, processes: int = 1,
               writes: str | None = None, cpu_limit: CpuLimit | None = None) -> tuple[Any, str | None]:
    """The bare app over HTTP (and its URL), or connected to the simulator's Socket Mode (and None). `writes`: a
    database URL, for the floor app (the least work of each kind, see bench/_bare.py). `cpu_limit`:
    it runs within that limit."""
    cmd = [sys.executable, "-m", "bench._bare", "--signing-secret", SECRET, "--api-url", sim.base_url,
           *(["--writes", writes] if writes else []),
           "--token", sim.bot_token, "--processes", str(processes)]
    if cpu_limit:
        cmd = cpu_limit.wrap(cmd)
    if socket_mode:
        cmd += ["--app-token", sim.socket_mode.app_token]
        return bench.connect_process(cmd, sim, tmp, "bare", cwd=bench.BENCH.parent), None
    port = bench.free_port()
    return bench.serve_process(cmd + ["--port", str(port)], port, tmp, "bare", cwd=bench.BENCH.parent)


def profile(pid: int, out: Path, seconds: float) -> subprocess.Popen:
    """py-spy (pip install py-spy) sampling `pid`: the thread holding the GIL, i.e. where its CPU goes."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(spy), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200", "--gil",
                             "--subprocesses", "-f", "raw",
                             "-o", str(out.resolve())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def leaders(database_url: str) -> int:
    """Scheduler leaders right now: advisory locks held in this database (the leadership is one)."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                                    "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"))
    finally:
        engine.dispose()


def double_sends(sim: SlackSimulator) -> tuple[int, int]:
    """(messages Slack accepted from the outbox, of which sent more than once), by the outbox's opaque keys."""
    keys = Counter(c.params["metadata"]["event_payload"]["key"] for c in sim.calls_for("chat.postMessage")
                   if c.ok and isinstance(c.params.get("metadata"), dict))
    return sum(keys.values()), sum(n - 1 for n in keys.values() if n > 1)


# ---- the run ----------------------------------------------------------------------------------------------

ENV = {"HEARTH_MODERATOR_CHANNEL": MODS}


def over_http(args: argparse.Namespace, sim: SlackSimulator, database_url: str, tmp: Path, members: list[str],
              result: dict, procs: list[subprocess.Popen]) -> None:
    """Hearth (`hearth serve`) and the bare app both listening; paced one after the other, then saturated."""
    hearth, hearth_url = bench.start_hearth(sim, tmp, secret=SECRET, database_url=database_url, env=ENV,
                                            separate_worker=args.separate_worker, processes=args.processes,
                                            cpu_limit=args.limit("hearth"))
    procs.append(hearth)
    bare, bare_url = start_bare(sim, tmp, processes=args.processes, cpu_limit=args.limit("bare"))
    procs.append(bare)
    assert hearth_url and bare_url
    mix = seed(sim, SlackDriver(hearth_url, SECRET, sim, timeout=30), database_url, tmp, members)
    print("seeded; warming up", flush=True)
    clients = {"bare": Client([bare_url]), "hearth": Client([hearth_url])}
    for client in clients.values():
        paced(client, mix, rate=50, seconds=2)
    for name in ("bare", "hearth"):
        measure_paced(args, result, name, clients[name], mix, sim if name == "hearth" else None)
    for name, proc in (("hearth", hearth), ("bare", bare)):
        measure_saturated(args, result, name, clients[name], mix, proc)
    bench.stop_process(bare)
    if args.floor:
        floor, floor_url = start_bare(sim, tmp, processes=args.processes, writes=database_url,
                                       cpu_limit=args.limit("floor"))
        procs.append(floor)
        assert floor_url
        paced(Client([floor_url]), mix, rate=50, seconds=2)
        made = {m: len(sim.calls_for(m)) for m in ("views.open", "views.publish")}
        measure_saturated(args, result, "floor", Client([floor_url]), mix, floor)
        bench.stop_process(floor)
        # evidence that the floor did its work: a modal per click or command, a Home per Home open
        result["saturated_floor"]["slack_calls"] = {m: len(sim.calls_for(m)) - n for m, n in made.items()}
    if args.scale_out:
        second, second_url = bench.start_hearth(sim, tmp, secret=SECRET, database_url=database_url, env=ENV,
                                                name="hearth2", separate_worker=args.separate_worker,
                                                processes=args.processes, cpu_limit=args.limit("hearth2"))
        procs.append(second)
        assert second_url
        print("saturating two instances", flush=True)
        result["saturated_two_instances"] = saturation(args, mix, Client([hearth_url, second_url]),
                                                       [hearth.pid, second.pid])
        result["scheduler_leaders"] = leaders(database_url)
        # One instance again: the mix gets cheaper as the run goes (a second survey answer is refused, the
        # seeding's invitations drain), so two instances are set against one before and one after them.
        bench.stop_process(second)
        print("saturating one instance again", flush=True)
        result["saturated_hearth_after"] = saturation(args, mix, clients["hearth"], [hearth.pid])
    wait_for(lambda: False, timeout=3)  # after-ack work and the outbox catch up a little


def over_socket(args: argparse.Namespace, sim: SlackSimulator, database_url: str, tmp: Path, members: list[str],
                result: dict, procs: list[subprocess.Popen]) -> None:
    """Hearth (`hearth run`) seeded and measured, stopped, then the bare app: the gateway spreads an app's
    envelopes over all its connections, so only one of them may be connected at a time."""
    client = SocketClient(sim)
    hearth, _ = bench.start_hearth(sim, tmp, secret=SECRET, database_url=database_url, env=ENV, socket_mode=True,
                                   separate_worker=args.separate_worker, cpu_limit=args.limit("hearth"))
    procs.append(hearth)
    mix = seed(sim, SlackDriver(None, SECRET, sim, timeout=30, socket_mode=True), database_url, tmp, members)
    print("seeded; warming up", flush=True)
    paced(client, mix, rate=50, seconds=2)
    measure_paced(args, result, "hearth", client, mix, sim)
    measure_saturated(args, result, "hearth", client, mix, hearth)
    wait_for(lambda: False, timeout=3)  # after-ack work and the outbox catch up a little
    bench.stop_process(hearth)
    if not wait_for(lambda: sim.socket_mode.connection_count == 0, timeout=20):
        raise RuntimeError("Hearth's Socket Mode connection is still open after it stopped")
    bare, _ = start_bare(sim, tmp, socket_mode=True, cpu_limit=args.limit("bare"))
    procs.append(bare)
    paced(client, mix, rate=50, seconds=2)
    measure_paced(args, result, "bare", client, mix)
    measure_saturated(args, result, "bare", client, mix, bare)
    bench.stop_process(bare)


def measure_paced(args: argparse.Namespace, result: dict, name: str, client: Client | SocketClient, mix: Mix,
                  sim: SlackSimulator | None = None) -> None:
    """With `sim` (Hearth): also how many of the phase's Home opens Slack got a Home for, within 5 s after it
    (Homes are drawn after the ack, off the request path, and dropped when that falls behind)."""
    print(f"paced {name}", flush=True)
    published = len(sim.calls_for("views.publish")) if sim else 0
    samples = paced(client, mix, args.rate, args.seconds)
    result[f"paced_{name}"] = summary = latency_summary(samples, args.seconds)
    if sim is not None:
        opens = sum(s.kind == "home_opened" for s in samples)
        wait_for(lambda: len(sim.calls_for("views.publish")) - published >= opens, timeout=5)
        summary["homes_published"] = f"{len(sim.calls_for('views.publish')) - published} of {opens}"


def measure_saturated(args: argparse.Namespace, result: dict, name: str, client: Client | SocketClient, mix: Mix,
                      proc: subprocess.Popen) -> None:
    print(f"saturating {name}", flush=True)
    spy = profile(proc.pid, args.profile, args.saturate_seconds) if args.profile and name == "hearth" else None
    result[f"saturated_{name}"] = saturation(args, mix, client, [proc.pid])
    if spy is not None:
        spy.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=200, help="requests/s of the paced phase")
    ap.add_argument("--seconds", type=float, default=20, help="length of the paced phase")
    ap.add_argument("--saturate-seconds", type=float, default=15)
    ap.add_argument("--concurrency", type=int, default=32, help="clients sending back to back at saturation")
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--scale-out", action="store_true", help="also saturate two `hearth serve` on one database")
    ap.add_argument("--transport", choices=("http", "socket"), default="http",
                    help="socket: the same mix as Socket Mode envelopes; Hearth is `hearth run`")
    ap.add_argument("--profile", type=Path, default=None,
                    help="record Hearth with py-spy while it is saturated: collapsed stacks into this file")
    ap.add_argument("--processes", type=int, default=1,
                    help="`hearth serve --processes N`, and the bare app served from as many processes (HTTP only)")
    ap.add_argument("--separate-worker", action="store_true",
                    help="Hearth serves with --no-worker beside a `hearth worker` process per instance")
    ap.add_argument("--floor", action="store_true",
                    help="also saturate the floor: the least work of each kind (HTTP only)")
    ap.add_argument("--cpu-limit", type=float, default=None, metavar="CORES",
                    help="each server (a Hearth instance with all its processes, the bare app) within this many "
                         "CPUs, as a container's CPU limit (needs root): shows scale-out on a small machine")
    ap.add_argument("--label", default="postgresql", help="names bench/results/load_<label>.json")
    args = ap.parse_args()
    if args.transport == "socket" and (args.scale_out or args.processes > 1 or args.floor):
        ap.error("--scale-out, --processes and --floor are measured over HTTP only")
    ws = bench.workspace(args.members)
    members = [f"UM{i:05d}" for i in range(args.members)]
    for channel in (CIRCLE, GENERAL):
        ws.channels[channel].members.update(members)
    result: dict[str, Any] = {"mix_percent": MIX, "rate": args.rate, "seconds": args.seconds,
                              "concurrency": args.concurrency, "members": args.members, "database": "postgresql",
                              "transport": args.transport, "separate_worker": args.separate_worker,
                              "processes": args.processes, "cpu_limit_cores": args.cpu_limit}
    limits: list[CpuLimit] = []

    def limit(name: str) -> CpuLimit | None:
        """Server `name`'s own CPU limit with --cpu-limit (removed at the end)."""
        if args.cpu_limit is None:
            return None
        limits.append(CpuLimit(name, args.cpu_limit))
        return limits[-1]

    args.limit = limit
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp_name, bench.scratch_database("postgresql") as db, \
            SlackSimulator(ws, rate_limits=False) as sim:
        tmp = Path(tmp_name)
        procs: list[subprocess.Popen] = []
        try:
            run = over_socket if args.transport == "socket" else over_http
            run(args, sim, db.url, tmp, members, result, procs)
            sent, twice = double_sends(sim)
            with db.session() as s:
                result["outbox_unfinished_at_end"] = outbox.unfinished(s)
                # what the submissions stored: evidence that the listeners did their real work
                result["stored"] = {table: s.scalar(text(f"SELECT count(*) FROM {table}"))
                                    for table in ("checkin", "survey_participation", "report_case")}
            result.update(outbox_messages_sent=sent, double_sends=twice)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    bench.stop_process(proc)
            for limit in limits:
                limit.remove()
    bare_tput = result["saturated_bare"]["per_s"]
    result["throughput_vs_bare"] = round(result["saturated_hearth"]["per_s"] / bare_tput, 3) if bare_tput else None
    if "saturated_floor" in result and bare_tput:
        result["floor_vs_bare"] = round(result["saturated_floor"]["per_s"] / bare_tput, 3)
        result["hearth_vs_floor"] = round(result["saturated_hearth"]["per_s"] / result["saturated_floor"]["per_s"], 3)
    if "saturated_two_instances" in result:
        one = (result["saturated_hearth"]["per_s"] + result["saturated_hearth_after"]["per_s"]) / 2
        result["two_instances_vs_one"] = round(result["saturated_two_instances"]["per_s"] / one, 3) if one else None
    result["targets_met"] = {"p99_at_rate": result["paced_hearth"]["p99_from_due_ms"] <= 100,
                             "throughput_vs_bare": (result["throughput_vs_bare"] or 0) >= 0.7}
    result["wall_clock_s"] = round(time.monotonic() - started, 1)
    bench.write(f"load_{args.label}", result, "python -m bench.load " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
