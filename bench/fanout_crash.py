"""Benchmark: the 10,000-member fan-out while the worker is killed with SIGKILL three times and restarted.

    .venv/bin/python -m bench.fanout_crash [--members 10000] [--scale 10] [--kills 3] [--lease 5] [--seed N]

The worker is a separate process; at three random instants it is killed with SIGKILL (no clean-up: rows
may be claimed, or `sending` with the message already in Slack) and a new worker is started at once.
Reports duplicates (target 0) and missing (target 0) from the calls the simulator received, by dedupe key,
and how many rows each kill left in flight.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from sqlalchemy import select

from bench import _common as bench
from slack_app.simulator import SlackSimulator
from storage import outbox
from storage.models import OutboxMessage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument("--scale", type=float, default=bench.SCALE)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--lease", type=float, default=5.0, help="seconds before a dead worker's rows are taken over")
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.1,
                    help="Slack's answer time at real speed, in seconds (divided by --scale in the run)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    expected_s = args.members / (600 / 60 * args.scale)
    with bench.scratch_database(args.db) as db, \
            SlackSimulator(bench.workspace(args.members), rate_limits=True, rate_scale=args.scale) as sim:
        bench.slack_latency(sim, args.members, latency=args.latency, scale=args.scale)
        bench.enqueue_fanout(db, args.members)
        started = time.monotonic()
        kills = []
        in_flight: dict[str, float] = {}  # dedupe key -> when the worker that was sending it died
        proc = bench.start_worker(db, sim, scale=args.scale, name="crash-0", threads=args.threads, lease=args.lease)
        for k in range(args.kills):
            time.sleep(rng.uniform(0.1, 0.8) * expected_s / args.kills)  # a random instant
            bench.stop_worker(proc, kill=True)
            killed_at = time.monotonic()  # the simulator's clock is this process's monotonic clock
            with db.session() as s:
                st = outbox.status(s)
                sending = set(s.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.status == "sending")))
            for key in sending:
                in_flight.setdefault(key, killed_at)
            kills.append({"at_s": round(killed_at - started, 1), "sent_so_far": st.counts["sent"],
                          "sending_in_flight": st.counts["sending"], "unfinished": bench.unfinished(db)})
            print(f"  SIGKILL #{k + 1} at {kills[-1]['at_s']} s: {st.counts['sending']} rows were `sending`",
                  flush=True)
            proc = bench.start_worker(db, sim, scale=args.scale, name=f"crash-{k + 1}", threads=args.threads,
                                lease=args.lease)
        try:
            bench.wait_drained(db, [proc], timeout=3600)
        finally:
            bench.stop_worker(proc)
        result = bench.count(sim, args.members, scale=args.scale, db=db)
        # Rows a dead worker left `sending` whose message had already reached Slack: exactly the ones a
        # blind resend would have duplicated; reconciliation found them in history instead.
        reached = {c.params["metadata"]["event_payload"]["key"]: c.at for c in sim.calls_for("chat.postMessage")
                   if c.ok}
        result["in_flight_at_kills"] = len(in_flight)
        result["in_flight_already_in_slack"] = sum(1 for k, t in in_flight.items() if reached.get(k, 1e18) <= t)
        result.update(database=args.db, scale=args.scale, latency_s=args.latency, kills=kills, lease_s=args.lease,
                      seed=seed,
                      wall_clock_s=round(time.monotonic() - started, 1))
    bench.write(f"fanout_crash_{args.db}", result, "python -m bench.fanout_crash " + " ".join(sys.argv[1:]))
    sys.exit(0 if result["duplicates"] == 0 and result["missing"] == 0 else 1)


if __name__ == "__main__":
    main()
