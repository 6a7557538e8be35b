"""Benchmark: what one request of each kind costs `hearth serve` on PostgreSQL, in CPU — the figure sizing rests on.

    .venv/bin/python -m bench.request_costs [--requests 100] [--members 1000] [--label NAME] [--profile DIR]

The same seeded database, request mix and signed requests as bench/load.py, but one request at a time, kind by
kind, so each kind's CPU is its own: Hearth's (`hearth serve --no-worker` and the process it draws App Homes in:
the ack and the work after it) and PostgreSQL's (every server process; nothing else uses the database meanwhile).
No delivery worker runs: the
seeding's 2,000 invitations would be sent throughout, paced to Slack's limits, and blur every figure (what
delivery costs is bench/fanout.py's part). After each kind the processes are left to go idle first, so work
after the ack is counted with its request. Also the weighted mean over bench/load.py's mix, and from it how many
requests per second of that mix one core of Hearth holds. --profile DIR also samples Hearth with py-spy (pip install
py-spy) while each kind runs: DIR/<kind>.txt, collapsed stacks, to see where that kind's CPU goes.
Writes bench/results/request_costs_<label>.json.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import _common as bench
from bench import load
from slack_app.simulator import SlackDriver, SlackSimulator

# Requests sent between two waits for the server to be idle: half the queue its work after the ack may fill
# (slack_app.niced.QUEUE, request_path.AFTER_ACK_QUEUE), so none of that work is shed and all of it is counted.
# Sent back to back without a pause, a third of the App Homes were dropped, and their CPU with them.
BATCH = 32


def settle(pids: list[int], quiet_for: float = 1.0, timeout: float = 30.0) -> None:
    """Wait until `pids` used (almost) no CPU for `quiet_for` seconds: their work after the acks is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(bench.server_cpu_seconds(p) for p in pids)
        time.sleep(quiet_for)
        if sum(bench.server_cpu_seconds(p) for p in pids) - before < 0.02 * quiet_for:
            return


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    mix: load.Mix
    client: load.Client
    sim: SlackSimulator  # the Slack it calls


def start(name: str, sim: SlackSimulator, database_url: str, tmp: Path, members: list[str],
          tree: Path | None = None) -> Server:
    """`hearth serve --no-worker` (from checkout `tree`, else this one) on a database seeded as bench/load.py
    seeds it, warmed. No delivery worker: the seeding's invitations would blur every figure."""
    (tmp / name).mkdir()
    env = {**load.ENV, **({"PYTHONPATH": str(tree)} if tree else {})}
    proc, url = bench.start_hearth(sim, tmp / name, secret=load.SECRET, database_url=database_url, env=env,
                                   name=name, separate_worker=True)
    bench.stop_process(bench.SEPARATE_WORKERS.pop(proc.pid))  # --no-worker, and no worker
    try:
        assert url
        mix = load.seed(sim, SlackDriver(url, load.SECRET, sim, timeout=30), database_url, tmp / name, members)
        client = load.Client([url])
        load.paced(client, mix, rate=50, seconds=2)  # warm: imports, caches, pooled connections
    except BaseException:
        bench.stop_process(proc)
        raise
    return Server(name, proc, mix, client, sim)


def measure(kind: str, n: int, server: Server, profile: Path | None = None) -> dict[str, Any]:
    hearth, mix, client, sim = server.proc.pid, server.mix, server.client, server.sim
    settle([hearth])
    spy = sample(hearth, profile / f"{kind}.txt") if profile else None
    before = bench.server_cpu_seconds(hearth), bench.postgres_cpu()
    acks = []
    calls_before = len(sim.calls)
    for i in range(n):
        if i and i % BATCH == 0:
            settle([hearth])
        content_type, body = mix.build(kind)
        t0 = time.perf_counter()
        status = client.send(content_type, body)
        acks.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"{kind}: HTTP {status}")
    settle([hearth])
    after = bench.server_cpu_seconds(hearth), bench.postgres_cpu()
    if spy:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled when interrupted
        spy.wait(timeout=60)
    hearth_ms, pg_ms = ((a - b) * 1000 / n for a, b in zip(after, before, strict=True))
    return {"hearth_cpu_ms": round(hearth_ms, 2), "postgresql_cpu_ms": round(pg_ms, 2),
            "ack_p50_ms": round(bench.percentile(acks, 50), 1),
            "slack_calls_per_request": round((len(sim.calls) - calls_before) / n, 2)}


def sample(pid: int, out: Path) -> subprocess.Popen:
    """py-spy recording the thread of `pid` (and of its App Home process) that holds the GIL: where its CPU goes."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(spy), "record", "-p", str(pid), "-d", "3600", "-r", "250", "--gil", "--subprocesses",
                             "-f", "raw",
                             "-o", str(out.resolve())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100, help="requests of each kind")
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--label", default="postgresql", help="names bench/results/request_costs_<label>.json")
    ap.add_argument("--profile", type=Path, default=None, help="a folder for one py-spy profile per kind")
    ap.add_argument("--kinds", default=",".join(load.MIX), help="kinds to measure (default: the whole mix)")
    args = ap.parse_args()
    if unknown := set(args.kinds.split(",")) - set(load.MIX):
        ap.error(f"unknown kinds: {', '.join(sorted(unknown))} (known: {', '.join(load.MIX)})")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    ws = bench.workspace(args.members)
    members = [f"UM{i:05d}" for i in range(args.members)]
    for channel in (load.CIRCLE, load.GENERAL):
        ws.channels[channel].members.update(members)
    result: dict[str, Any] = {"requests_per_kind": args.requests, "members": args.members, "database": "postgresql"}
    with tempfile.TemporaryDirectory() as tmp_name, bench.scratch_database("postgresql") as db, \
            SlackSimulator(ws, rate_limits=False) as sim:
        hearth = start("hearth", sim, db.url, Path(tmp_name), members)
        try:
            kinds = {}
            for kind in args.kinds.split(","):
                print(f"measuring {kind}", flush=True)
                kinds[kind] = measure(kind, args.requests, hearth, args.profile)
        finally:
            bench.stop_process(hearth.proc)
    weights = sum(load.MIX[kind] for kind in kinds)
    mean = {k: round(sum(load.MIX[kind] * kinds[kind][k] for kind in kinds) / weights, 2)
            for k in ("hearth_cpu_ms", "postgresql_cpu_ms")}
    result.update(mix_percent=load.MIX, kinds=kinds, mix_mean=mean,
                  mix_requests_per_s_per_hearth_core=round(1000 / mean["hearth_cpu_ms"], 1))
    bench.write(f"request_costs_{args.label}", result, "python -m bench.request_costs " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
