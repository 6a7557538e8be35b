"""Benchmark: what a unit of work costs Hearth's process in CPU with each PostgreSQL driver SQLAlchemy can use.

    .venv/bin/python -m bench.db_drivers [--units 2000] [--rounds 6] [--label latest]

Hearth uses psycopg 3 (`storage.db`); psycopg2 is not a dependency, so install it to compare
(`.venv/bin/pip install psycopg2-binary`); without it only psycopg 3 is measured. On one migrated scratch
database, through `storage.db.Database` as Hearth opens it, two units, each Hearth's own code:
- read: a reader running `members.find`, the statement every App Home starts with;
- write: a session that enqueues one outbox message (sealed, keyed), as a submission's share does.
Rounds alternate the drivers; per unit, this process's CPU (user + system), the median over rounds. Under load
(bench/load.py --profile) SQLAlchemy and psycopg are about half of Hearth's CPU, psycopg alone a fifth.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
from collections.abc import Callable

from sqlalchemy.engine import make_url

from bench import _common as bench
from slack_app import preferences
from storage import members, outbox
from storage.crypto import Crypto
from storage.db import Database

DRIVERS = ("psycopg", "psycopg2")
USER = "UBENCH"


def cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def units(db: Database) -> dict[str, Callable[[int], None]]:
    def read(_: int) -> None:
        with db.reader() as s:
            assert members.find(s, bench.TEAM, USER) is not None

    def write(n: int) -> None:
        with db.session() as s:
            outbox.enqueue(s, team_id=bench.TEAM, kind="bench", target="CBENCH", payload={"text": "thanks"},
                           dedupe_key=outbox.key("bench", db.engine.dialect.driver, n))

    return {"read": read, "write": write}


def available(driver: str) -> bool:
    try:
        __import__(driver)
    except ImportError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, default=2000, help="units of each kind per round")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--label", default="latest", help="names bench/results/db_drivers_<label>.json")
    args = ap.parse_args()
    drivers = [d for d in DRIVERS if available(d)]
    with bench.scratch_database("postgresql") as scratch:
        members.remember(scratch, bench.TEAM, USER)
        with scratch.session() as s:
            preferences.pause(s, bench.TEAM, USER)
        url = make_url(scratch.url)
        dbs = {d: Database(url.set(drivername=f"postgresql+{d}").render_as_string(hide_password=False),
                           crypto=Crypto([bench.KEY])) for d in drivers}
        work = {d: units(db) for d, db in dbs.items()}
        counter = itertools.count()
        for d in drivers:  # warm: connections opened, statements compiled and prepared
            for fn in work[d].values():
                for _ in range(200):
                    fn(next(counter))
        per_unit: dict[str, dict[str, list[float]]] = {d: {"read": [], "write": []} for d in drivers}
        for _ in range(args.rounds):
            for d in drivers:
                for kind, fn in work[d].items():
                    start = cpu()
                    for _ in range(args.units):
                        fn(next(counter))
                    per_unit[d][kind].append((cpu() - start) * 1000 / args.units)
        for db in dbs.values():
            db.dispose()
    result: dict[str, object] = {"units_per_round": args.units, "rounds": args.rounds, "drivers": drivers}
    for d in drivers:
        result[d] = {f"{kind}_cpu_ms": round(statistics.median(v), 3) for kind, v in per_unit[d].items()}
    if len(drivers) == 2:
        result["psycopg2_vs_psycopg"] = {
            kind: round(statistics.median(per_unit["psycopg2"][kind]) / statistics.median(per_unit["psycopg"][kind]), 3)
            for kind in ("read", "write")}
    bench.write(f"db_drivers_{args.label}", result,
                f"python -m bench.db_drivers --units {args.units} --rounds {args.rounds} --label {args.label}")


if __name__ == "__main__":
    main()
