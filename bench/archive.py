"""Archive benchmark: 1,000,000 delivery-log rows archived to moto's S3 server, on SQLite or PostgreSQL.

    python -m bench.archive [--db sqlite|postgresql] [--rows 1000000] [--batch 10000]

The rows are seeded first (not timed; on PostgreSQL followed by ANALYZE, as autovacuum does on a live
database — without statistics its planner walks the wrong index and the run is ~1.7x slower).
The archive run then happens in a child process, so its peak RSS is
the archiver's alone (not the seeding's, nor moto's, which serves from the parent process on loopback): every batch
is written to a gzip JSON Lines object, uploaded, read back and checked (size, SHA-256), and only then deleted
from the database; a manifest ends the run. Targets: >= 50,000 rows/s and <= 300 MB peak RSS.
Writes bench/results/archive_<db>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench import _common as bench
from bench._common import KEY, RESULTS, scratch_database
from tests.s3server import BUCKET, aws_env, start_moto_server

ROWS_PER_S, MAX_RSS_MB = 50_000, 300


def child(url: str, batch: int) -> None:
    from storage.archive import S3Archive
    from storage.crypto import Crypto
    from storage.db import Database
    from storage.lifecycle.archiver import Archiver
    from storage.lifecycle.kinds import BY_NAME, retention

    db = Database(url, crypto=Crypto([KEY]))
    started, cpu = time.perf_counter(), time.process_time()
    report = Archiver(db, S3Archive(BUCKET, "bench"), batch=batch).run([BY_NAME["delivery"]], retention=retention())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"rows": report.total, "objects": report.objects, "seconds": round(elapsed, 2),
                      "cpu_s": round(cpu, 2), "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's high-water RSS (VmHWM). Not getrusage: Linux carries ru_maxrss over fork and exec, so a
    child would report the parent's peak from seeding."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("postgresql", "sqlite"), default="sqlite")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.batch)
        return
    import boto3

    from tests.lifecycle_seed import seed_delivery

    server, url = start_moto_server()
    os.environ.update(aws_env(url))
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    try:
        with scratch_database(args.db) as db:
            t0 = time.perf_counter()
            seed_delivery(db, args.rows)
            if not db.is_sqlite:  # statistics, as autovacuum keeps them on a live database (not timed)
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("ANALYZE outbox")
            seed_s = time.perf_counter() - t0
            run = subprocess.run([sys.executable, "-m", "bench.archive", "--child", db.url, "--batch", str(args.batch)],
                                 capture_output=True, text=True, check=True)
            figures = json.loads(run.stdout.strip().splitlines()[-1])
            peak_mb = figures["peak_rss_mb"]
            from storage.archive import S3Archive
            from storage.lifecycle.reader import verify

            checked, problems = verify(S3Archive(BUCKET, "bench"))
    finally:
        server.stop()
    rate = figures["rows"] / figures["seconds"]
    result = {
        "db": args.db, "rows": figures["rows"], "batch": args.batch, "objects": figures["objects"],
        "archive_s": figures["seconds"], "rows_per_s": round(rate),
        "archiver_cpu_s": figures["cpu_s"], "rows_per_cpu_s": round(figures["rows"] / max(figures["cpu_s"], 0.01)),
        "peak_rss_mb": round(peak_mb, 1),
        "seed_s": round(seed_s, 1), "verified_objects": checked, "verify_problems": len(problems),
        "machine": platform.machine(), "python": platform.python_version(), "cpus": os.cpu_count(),
        "python_loop_ms": bench.machine_speed_ms(),
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "note": "2 cores shared with other jobs; moto runs in the parent, the archiver in a child process",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"archive_{args.db}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = rate >= ROWS_PER_S and peak_mb <= MAX_RSS_MB and not problems and figures["rows"] == args.rows
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
