"""Benchmark: a fan-out against a Slack whose chat.postMessage ceiling Hearth was not told.

    .venv/bin/python -m bench.adaptive [--members 3000] [--ceiling 300] [--burst 5] [--scale 10]
                                       [--db sqlite|postgresql] [--instances 1] [--fixed]

The simulator allows --ceiling messages a minute with a burst of --burst calls (× --scale, as every
simulator burst) and smaller tier bursts, while Hearth assumes 600 a minute; `--ceiling 600` is the run
where the assumption is right. `--fixed` paces to the configured rate without learning (Hearth before
adaptive pacing), for the before/after comparison. Reports the achieved rate over the real ceiling (target
>= 0.98), the share of calls answered 429 (target <= 1 %), duplicates and missing (target 0), and the
rate each instance learned.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import _common as bench
from slack_app.simulator import SlackSimulator
from storage import ratelimit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=3000)
    ap.add_argument("--ceiling", type=float, default=300, help="the simulator's real ceiling, messages a minute")
    ap.add_argument("--burst", type=float, default=5, help="the ceiling's burst, calls at Slack's speed")
    ap.add_argument("--tier-burst", type=float, default=0.5, help="factor on every other burst")
    ap.add_argument("--scale", type=float, default=bench.SCALE)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--instances", type=int, default=1)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--fixed", action="store_true", help="no learning: pace to the configured 600/min only")
    ap.add_argument("--timeline", action="store_true", help="print messages and 429s per second of the run")
    args = ap.parse_args()
    if args.instances > 1 and args.db == "sqlite":
        ap.error("several instances need --db postgresql")
    with bench.scratch_database(args.db) as db, \
            SlackSimulator(bench.workspace(args.members), rate_limits=True, rate_scale=args.scale,
                           post_message_per_minute=args.ceiling, post_burst=args.burst,
                           tier_burst=args.tier_burst) as sim:
        bench.slack_latency(sim, args.members, latency=args.latency, scale=args.scale)
        bench.enqueue_fanout(db, args.members)
        started = time.monotonic()
        procs = [bench.start_worker(db, sim, scale=args.scale, name=f"instance-{i}", threads=args.threads,
                                    fixed=args.fixed) for i in range(1, args.instances + 1)]
        try:
            bench.wait_drained(db, procs, timeout=3600)
        finally:
            stats = [bench.stop_worker(p) for p in procs]
        with db.session() as s:
            learned = ratelimit.learned_rates(s, bench.TEAM + ":")
        result = bench.count(sim, args.members, scale=args.scale, db=db, ceiling=args.ceiling)
        if args.timeline:
            _timeline(sim)
        calls = result["post_calls"]
        result.update(
            mode="fixed (before)" if args.fixed else "adaptive", hearth_assumes_per_min=600,
            real_ceiling_per_min=args.ceiling, ceiling_burst=args.burst, tier_burst=args.tier_burst,
            share_429=round(result["http_429"] / calls, 4) if calls else None,
            learned_per_min={k.split(":", 1)[1]: round(v * 60 / args.scale, 1) for k, v in learned.items()},
            database=args.db, instances=args.instances, scale=args.scale, threads=args.threads,
            sent_per_instance=[s.get("sent") for s in stats], wall_clock_s=round(time.monotonic() - started, 1))
    name = f"adaptive_{int(args.ceiling)}_{'fixed' if args.fixed else 'learning'}_{args.db}"
    bench.write(name, result, "python -m bench.adaptive " + " ".join(sys.argv[1:]))
    ok = result["duplicates"] == 0 and result["missing"] == 0 and result["ratio"] >= 0.98 \
        and result["share_429"] <= 0.01
    sys.exit(0 if ok else 1)


def _timeline(sim: SlackSimulator) -> None:
    calls = sim.calls_for("chat.postMessage")
    start = calls[0].at
    seconds: dict[int, list[int]] = {}
    for c in calls:
        row = seconds.setdefault(int(c.at - start), [0, 0])
        row[0 if c.ok else 1] += 1
    for second, (ok, limited) in sorted(seconds.items()):
        print(f"  t={second:4d}s sent={ok:4d} 429={limited}")


if __name__ == "__main__":
    main()
