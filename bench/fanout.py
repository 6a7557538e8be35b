"""Benchmark: one DM to each of 10,000 members through the simulator enforcing Slack's limits.

    .venv/bin/python -m bench.fanout [--members 10000] [--scale 10] [--db sqlite|postgresql] [--threads 8] [--label L]

Reports the achieved chat.postMessage rate as a fraction of the allowed rate (target >= 0.9), duplicates
(target 0) and missing (target 0), counted from the calls the simulator received, by dedupe key; and the
worker's CPU per message (all its threads), which the request path shares the machine with during a fan-out.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import _common as bench
from slack_app.simulator import SlackSimulator, wait_for


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument("--scale", type=float, default=bench.SCALE, help="the simulator's (and Hearth's) rate-limit scale")
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--label", default=None, help="names bench/results/fanout_<db>_<label>.json (else fanout_<db>.json)")
    ap.add_argument("--latency", type=float, default=0.1,
                    help="Slack's answer time at real speed, in seconds (divided by --scale in the run)")
    args = ap.parse_args()
    with bench.scratch_database(args.db) as db, \
            SlackSimulator(bench.workspace(args.members), rate_limits=True, rate_scale=args.scale) as sim:
        bench.slack_latency(sim, args.members, latency=args.latency, scale=args.scale)
        bench.enqueue_fanout(db, args.members)
        started = time.monotonic()
        proc = bench.start_worker(db, sim, scale=args.scale, name="bench-1", threads=args.threads)
        try:
            # the worker's CPU per message, from its first message on (its start-up is not a message's)
            first = wait_for(lambda: bench.unfinished(db) < args.members, timeout=120, interval=0.05)
            cpu_at, pg_at, left_at = bench.cpu_seconds(proc.pid), bench.postgres_cpu(), bench.unfinished(db)
            elapsed = bench.wait_drained(db, [proc], timeout=3600, progress=_progress(args.members))
            used = (bench.cpu_seconds(proc.pid) - cpu_at, bench.postgres_cpu() - pg_at)
        finally:
            bench.stop_worker(proc)
        result = bench.count(sim, args.members, scale=args.scale, db=db)
        if first and left_at:
            result["worker_cpu_ms_per_message"] = round(used[0] * 1000 / left_at, 2)
            if args.db == "postgresql":  # every PostgreSQL process on the machine: run it on a quiet one
                result["postgresql_cpu_ms_per_message"] = round(used[1] * 1000 / left_at, 2)
        result.update(database=args.db, scale=args.scale, threads=args.threads, latency_s=args.latency,
                      wall_clock_s=round(time.monotonic() - started, 1), drained_in_s=round(elapsed, 1),
                      minutes_at_slack_speed=round(args.members / (600 / 60) / 60, 1))
    name = f"fanout_{args.db}" + (f"_{args.label}" if args.label else "")
    bench.write(name, result, "python -m bench.fanout " + " ".join(sys.argv[1:]))
    ok = result["duplicates"] == 0 and result["missing"] == 0 and result["ratio"] >= 0.9
    sys.exit(0 if ok else 1)


def _progress(total: int):
    last = [0.0]

    def show(left: int) -> None:
        if time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            print(f"  {total - left:,}/{total:,} delivered", flush=True)

    return show


if __name__ == "__main__":
    main()
