"""Benchmark: two worker instances on one PostgreSQL share a 10,000-member fan-out.

    .venv/bin/python -m bench.two_instances [--members 10000] [--scale 10] [--threads 8]

Two worker processes (as two `hearth serve`/`hearth worker` instances would run) claim rows with
FOR UPDATE SKIP LOCKED and pace through the shared rate buckets. Reports double sends (target 0),
missing (target 0), 429s, and the combined rate against Slack's allowed rate (it must not exceed it).
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import _common as bench
from slack_app.simulator import SlackSimulator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument("--scale", type=float, default=bench.SCALE)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.1,
                    help="Slack's answer time at real speed, in seconds (divided by --scale in the run)")
    args = ap.parse_args()
    with bench.scratch_database("postgresql") as db, \
            SlackSimulator(bench.workspace(args.members), rate_limits=True, rate_scale=args.scale) as sim:
        bench.slack_latency(sim, args.members, latency=args.latency, scale=args.scale)
        bench.enqueue_fanout(db, args.members)
        started = time.monotonic()
        procs = [bench.start_worker(db, sim, scale=args.scale, name=f"instance-{i}", threads=args.threads)
                 for i in (1, 2)]
        try:
            bench.wait_drained(db, procs, timeout=3600)
        finally:
            stats = [bench.stop_worker(p) for p in procs]
        result = bench.count(sim, args.members, scale=args.scale, db=db)
        result["double_sends"] = result.pop("duplicates")
        result.update(database="postgresql", scale=args.scale, threads_per_instance=args.threads,
                      latency_s=args.latency,
                      sent_per_instance=[s.get("sent") for s in stats],
                      within_limits=result["http_429"] == 0 and result["ratio"] <= 1.02,
                      wall_clock_s=round(time.monotonic() - started, 1))
    bench.write("two_instances_postgresql", result, "python -m bench.two_instances " + " ".join(sys.argv[1:]))
    ok = result["double_sends"] == 0 and result["missing"] == 0 and result["within_limits"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
