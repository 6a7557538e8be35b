"""A delivery worker process for the benchmarks: `DeliveryWorker` with Slack's limits × --scale.

(`hearth worker` runs the same worker with Slack's real limits; the simulator runs --scale times faster
so a 10,000-member fan-out takes under two minutes instead of seventeen.)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading

from slack_app.delivery.pacing import SlackLimits
from slack_app.delivery.ports import single_workspace
from slack_app.delivery.worker import DeliveryWorker, WorkerOptions
from storage.adaptive import Tuning
from storage.crypto import parse_keys
from storage.db import Database


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--api-url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--lease", type=float, default=60.0)
    ap.add_argument("--id", default=None)
    ap.add_argument("--fixed", action="store_true", help="pace to the configured rates only (no learning from 429s)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s",
                        filename=os.environ.get("HEARTH_BENCH_LOG"))  # a file: stderr is a pipe nobody reads
    if os.environ.get("HEARTH_BENCH_LOG"):
        logging.getLogger("hearth.delivery").setLevel(logging.INFO)
    db = Database(args.database_url, crypto=parse_keys(os.environ["HEARTH_ENCRYPTION_KEY"]))  # the outbox is sealed
    options = WorkerOptions(threads=args.threads, claim_lease=args.lease, send_lease=args.lease,
                            limits=SlackLimits().scaled(args.scale), max_wait=2.0, settle=min(10.0, args.lease),
                            adaptive=None if args.fixed else Tuning().scaled(args.scale))
    worker = DeliveryWorker(db, single_workspace(args.token, args.api_url), worker_id=args.id, options=options)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    stop.wait()
    worker.stop()
    print(json.dumps({"worker": worker.id, **worker.stats.snapshot()}), flush=True)


if __name__ == "__main__":
    main()
