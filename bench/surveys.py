"""Survey benchmark: results over 1,000,000 answers, and sealing 10,000 submissions at close.

    python -m bench.surveys [--db postgresql|sqlite] [--runs 100] [--respondents 10000] [--groups 0]

1. Results: RUNS closed runs × RESPONDENTS respondents (1,000,000 answer sets by default) × 8 statements of
   the belonging survey (8,000,000 answer rows), written with one INSERT … SELECT and counted per run in SQL
   as sealing does. Timed: the trend (counts per run, question
   and value for every run, one aggregate query) and the newest run's results through the disclosure ledger
   (`usecases.results_of`, the path every outlet takes). Memory stays bounded: SQL returns runs × 8 × 5 rows.
2. Sealing: one open run with RESPONDENTS sealed submissions in its buffer; timed: `usecases.close` (decrypt,
   shuffle, insert the answer rows, erase the buffer, in one transaction, then the wipe of freed space).
   With --groups N each submission carries one of N channel labels (a breakdown by channel), so sealing also
   coarsens them and counts per group; then the run's results broken down by channel are timed too.
Writes bench/results/surveys_<db>.json (surveys_<db>_groups<N>.json with --groups).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import text

from bench._common import KEY, RESULTS, TEAM, scratch_database
from slack_app.surveys import usecases
from storage import surveys as repo
from storage.crypto import Crypto
from storage.surveys import RunStatus

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--respondents", type=int, default=10_000)
    ap.add_argument("--groups", type=int, default=0, help="channel labels on the sealed submissions")
    args = ap.parse_args()
    instrument, source = usecases.load_survey("belonging")
    questions = [q.id for q in instrument.counted]
    crypto = Crypto([KEY])
    report: dict = {"db": args.db, "runs": args.runs, "respondents": args.respondents, "groups": args.groups,
                    "machine": platform.machine(), "python": platform.python_version()}
    with scratch_database(args.db) as db:
        services = SimpleNamespace(db=db, crypto=crypto, archive=None)
        with db.session() as s:
            ids = [repo.new_run(s, team_id=TEAM, survey=instrument.name, version=1, source=source, audience="channel",
                                channel_id="CBENCH", min_responses=5, invited=args.respondents,
                                opened_at=NOW - timedelta(days=7 * (args.runs - i)),
                                closes_at=NOW - timedelta(days=7 * (args.runs - i) - 5), status=RunStatus.CLOSED,
                                closed_on=date(2026, 1, 1), respondents=args.respondents).id for i in range(args.runs)]
        started = time.perf_counter()
        random_id = "md5(random()::text)" if args.db == "postgresql" else "hex(randomblob(11))"
        random_value = "1 + floor(random() * 5)::int" if args.db == "postgresql" else "1 + abs(random()) % 5"
        values = " UNION ALL ".join(f"SELECT '{q}' AS q" for q in questions)
        series = ("generate_series(1, :n)" if args.db == "postgresql"
                  else "(WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < :n) SELECT x FROM g)")
        with db.engine.begin() as conn:
            conn.execute(text(f"INSERT INTO survey_answer (id, run_id, question_id, value) "
                              f"SELECT {random_id}, r.id, qs.q, {random_value} FROM survey_run r "
                              f"CROSS JOIN ({values}) qs CROSS JOIN {series} AS g"), {"n": args.respondents})
        with db.session() as s:
            for run_id in ids:
                repo.aggregate_counts(s, run_id)  # what sealing does for each run (timed below, in seal_s)
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        report["answer_sets"] = args.runs * args.respondents
        report["answer_rows"] = args.runs * args.respondents * len(questions)
        report["load_s"] = round(time.perf_counter() - started, 2)

        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            with db.session() as s:
                trend = repo.counts_many(s, ids)
            timings.append(time.perf_counter() - t0)
        assert sum(sum(c.values()) for c in trend.values()) == report["answer_rows"]
        report["trend_all_runs_s"] = round(min(timings), 3)
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            with db.session() as s:
                run = s.get(repo.SurveyRun, ids[-1])
                found = usecases.results_of(s, services, run)  # type: ignore[arg-type]
            timings.append(time.perf_counter() - t0)
        assert found.result is not None and (found.change is not None or args.runs == 1)
        report["latest_results_with_change_s"] = round(min(timings), 3)

        with db.session() as s:
            run = repo.new_run(s, team_id=TEAM, survey=instrument.name, version=1, source=source, audience="channel",
                               channel_id="CSEAL", min_responses=5, invited=args.respondents, opened_at=NOW,
                               closes_at=NOW + timedelta(days=5),
                               breakdowns="channel" if args.groups else "")
            run_id, public_id = run.id, run.public_id
        with db.session() as s:
            for i in range(args.respondents):
                tags = [("channel", f"C{i % args.groups:04d}")] if args.groups else []
                repo.record_submission(s, crypto, run_id, f"UM{i:05d}", day=NOW.date(),
                                       values=[(q, 1 + (i + j) % 5) for j, q in enumerate(questions)], texts=[],
                                       labels=tags)
        t0 = time.perf_counter()
        closed = usecases.close(services, TEAM, public_id, None, NOW + timedelta(days=5))  # type: ignore[arg-type]
        report["seal_s"] = round(time.perf_counter() - t0, 2)
        assert closed.respondents == args.respondents
        if args.groups:
            t0 = time.perf_counter()
            with db.session() as s:
                found = usecases.results_of(s, services, s.get(repo.SurveyRun, run_id), "channel")  # type: ignore[arg-type]
            report["results_by_channel_s"] = round(time.perf_counter() - t0, 3)
            report["groups_shown"] = len(found.groups)
        report["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    RESULTS.mkdir(exist_ok=True)
    suffix = f"_groups{args.groups}" if args.groups else ""
    (RESULTS / f"surveys_{args.db}{suffix}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
