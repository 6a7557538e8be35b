"""Benchmark A/B: what each kind of request costs this tree's `hearth serve` against another checkout's, side by side.

    git worktree add /tmp/before <commit>
    .venv/bin/python -m bench.cost_ab /tmp/before [--requests 300] [--kinds checkin_click,survey_submit] [--label NAME]

This host's speed drifts by 20 % and more within minutes (`python_loop_ms`), more than most single changes
save, so two runs of bench/request_costs.py one after the other cannot tell a 5 % change from the drift. Here
both servers run at once, each on a PostgreSQL database of its own seeded alike (bench/load.py's seeding and
mix), and get the same requests in turn, one at a time: whatever the host does meanwhile, it does to both.
For each kind: each server's CPU per request (the server and the process it draws App Homes in, counted once
both are idle again, so work after the ack is in it; no delivery worker, as in request_costs) and their ratio;
then the ratio over bench/load.py's mix. Each server calls a Slack of its own, and each kind records how many
calls each made: work after the ack that a server shed (its queue full) costs no CPU, so a kind whose counts
differ is flagged, not a saving. The other checkout must have the same migrations: this tree migrates
both databases. Writes bench/results/cost_ab_<label>.json.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import _common as bench
from bench import load
from bench.request_costs import BATCH, Server, settle, start
from slack_app.simulator import SlackSimulator


def measure(kind: str, n: int, servers: list[Server]) -> dict[str, Any]:
    pids = [s.proc.pid for s in servers]
    settle(pids)
    before = [bench.server_cpu_seconds(pid) for pid in pids]
    calls_before = [len(s.sim.calls) for s in servers]
    for i in range(n):
        if i and i % BATCH == 0:
            settle(pids)
        for s in servers if i % 2 == 0 else servers[::-1]:  # neither always goes first
            content_type, body = s.mix.build(kind)
            if (status := s.client.send(content_type, body)) != 200:
                raise RuntimeError(f"{s.name} {kind}: HTTP {status}")
    settle(pids)
    this, other = ((bench.server_cpu_seconds(pid) - b) * 1000 / n for pid, b in zip(pids, before, strict=True))
    # Work after the ack that a server shed (its queue full) costs no CPU: compare only servers that called
    # Slack alike.
    calls = [len(s.sim.calls) - b for s, b in zip(servers, calls_before, strict=True)]
    if calls[0] != calls[1]:
        print(f"  {kind}: Slack calls differ (this {calls[0]}, other {calls[1]}): work was shed", flush=True)
    return {"this_cpu_ms": round(this, 3), "other_cpu_ms": round(other, 3), "ratio": round(this / other, 3),
            "slack_calls": {"this": calls[0], "other": calls[1]}}


def code_of(tree: Path | None) -> str:
    """Where a server started with that PYTHONPATH takes Hearth's code from, and its commit."""
    env = {"PYTHONPATH": str(tree)} if tree else {}
    where = subprocess.run([sys.executable, "-c", "import slack_app, pathlib; print(pathlib.Path("
                            "slack_app.__file__).parent.parent)"], env={**os.environ, **env},
                           capture_output=True, text=True, check=True, cwd="/").stdout.strip()  # as the server: not from here
    commit = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"{where} {commit}{' with changes' if dirty else ''}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", type=Path, help="a checkout of the commit to compare with (git worktree add)")
    ap.add_argument("--requests", type=int, default=300, help="requests of each kind, to each server")
    ap.add_argument("--kinds", default=",".join(load.MIX), help="kinds to measure (default: the whole mix)")
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--label", default="latest", help="names bench/results/cost_ab_<label>.json")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    if unknown := set(kinds) - set(load.MIX):
        ap.error(f"unknown kinds: {', '.join(sorted(unknown))} (known: {', '.join(load.MIX)})")
    other = args.other.resolve()
    if not (other / "slack_app").is_dir():
        ap.error(f"{other} is not a Hearth checkout")
    ws = bench.workspace(args.members)
    members = [f"UM{i:05d}" for i in range(args.members)]
    for channel in (load.CIRCLE, load.GENERAL):
        ws.channels[channel].members.update(members)
    result: dict[str, Any] = {"this": code_of(None), "other": code_of(other), "requests_per_kind": args.requests,
                              "members": args.members, "database": "postgresql"}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        servers: list[Server] = []
        try:
            for name, tree in (("this", None), ("other", other)):
                # A Slack each, so what each server asked of Slack is counted apart.
                sim = stack.enter_context(SlackSimulator(copy.deepcopy(ws), rate_limits=False))
                db = stack.enter_context(bench.scratch_database("postgresql"))
                servers.append(start(name, sim, db.url, tmp, members, tree))
            measured = {}
            for kind in kinds:
                print(f"measuring {kind}", flush=True)
                measured[kind] = measure(kind, args.requests, servers)
        finally:
            for s in servers:
                bench.stop_process(s.proc)
    weights = sum(load.MIX[kind] for kind in kinds)
    mean = {side: round(sum(load.MIX[k] * measured[k][f"{side}_cpu_ms"] for k in kinds) / weights, 3)
            for side in ("this", "other")}
    result.update(kinds=measured, mix_mean_cpu_ms=mean, mix_ratio=round(mean["this"] / mean["other"], 3))
    bench.write(f"cost_ab_{args.label}", result, "python -m bench.cost_ab " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
