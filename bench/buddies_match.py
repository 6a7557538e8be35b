"""Benchmark: buddy matching on a large channel with a long history.

    .venv/bin/python -m bench.buddies_match [--members 100000] [--rounds 26] [--size 2] [--repeat 3]

Builds `--rounds` past rounds (random groups of `--size`), never-pair lists for 1% of members (3 names each)
and 200 "must not meet" pairs, then times `match` (median of `--repeat` runs) at 1,000 members and at
`--members`, and counts repeats (pairs that met in the last 12 rounds) and constraint violations.
Targets: 100,000 members ≤ 2 s, 1,000 members ≤ 50 ms, 0 repeats, 0 violations.

Then dense history at mid sizes, where a repeat-free grouping exists but is one of very few: 60 members whose
history holds every pair except those of one hidden grouping (pairs, 3s, 5s), and a 60-member round-robin with
one round held back. Target: 0 repeats.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from itertools import combinations

from bench import _common as bench
from slack_app.buddies.matching import Plan, group_sizes, match


def scenario(n: int, rounds: int, size: int, seed: int = 1):
    rng = random.Random(seed)
    members = [f"U{i:09X}" for i in range(n)]
    history = []
    for _ in range(rounds):
        order = members[:]
        rng.shuffle(order)
        history.append([order[i:i + size] for i in range(0, n - size + 1, size)])
    forbidden = [(a, rng.choice(members)) for a in rng.sample(members, n // 100) for _ in range(3)]
    forbidden += [(rng.choice(members), rng.choice(members)) for _ in range(200)]
    return members, history, forbidden


def timed(repeat: int, members: list[str], size: int, **given) -> tuple[Plan, list[float]]:
    """The last of `repeat` plans (seeds 0, 1, …) and how long each took."""
    times, plan = [], None
    for attempt in range(repeat):
        started = time.perf_counter()
        plan = match(members, size, seed=attempt, **given)
        times.append(time.perf_counter() - started)
    assert plan is not None
    return plan, times


def run(n: int, rounds: int, size: int, repeat: int) -> dict:
    members, history, forbidden = scenario(n, rounds, size)
    plan, times = timed(repeat, members, size, history=history, forbidden=forbidden)
    q = plan.quality
    return {"members": n, "size": size, "history_rounds": rounds, "forbidden_pairs": len(forbidden),
            "median_s": round(statistics.median(times), 4), "max_s": round(max(times), 4),
            "groups": q.groups, "left_out": q.left_out, "repeats": q.repeats, "violations": q.violations}


def dense(n: int, size: int, seed: int = 1) -> tuple[list[str], list]:
    """Every pair but those of one hidden grouping met last round: that grouping is the only repeat-free one."""
    rng = random.Random(seed)
    members = [f"U{i:09X}" for i in range(n)]
    order, hidden, start = members[:], set(), 0
    rng.shuffle(order)
    for s in group_sizes(n, size):
        hidden |= {frozenset(p) for p in combinations(order[start:start + s], 2)}
        start += s
    return members, [[list(p) for p in combinations(members, 2) if frozenset(p) not in hidden]]


def round_robin(n: int) -> tuple[list[str], list]:
    members = [f"U{i:09X}" for i in range(n)]
    ring, rounds = members[:], []
    for _ in range(n - 1):
        rounds.append([[ring[i], ring[-1 - i]] for i in range(n // 2)])
        ring = [ring[0], ring[-1], *ring[1:-1]]
    return members, rounds[1:]  # the first round held back


def run_dense(name: str, members: list[str], history: list, size: int, window: int, repeat: int) -> dict:
    plan, times = timed(repeat, members, size, history=history, window=window)
    return {"case": name, "members": len(members), "size": size, "median_s": round(statistics.median(times), 4),
            "repeats": plan.quality.repeats, "left_out": plan.quality.left_out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=26)
    ap.add_argument("--size", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    small = run(1_000, args.rounds, args.size, max(args.repeat, 5))
    scale = [run(n, args.rounds, args.size, args.repeat) for n in (10_000, args.members)]
    mid = [run_dense(f"hidden grouping of {k}s", *dense(60, k), k, 12, args.repeat) for k in (2, 3, 5)]
    mid.append(run_dense("round robin, one round held back", *round_robin(60), 2, 60, args.repeat))
    result = {"small": small, "scaling": scale, "dense_mid_size": mid,
              "ok": small["median_s"] <= 0.05 and scale[-1]["median_s"] <= 2.0
              and all(r["repeats"] == 0 and r["violations"] == 0 for r in [small, *scale])
              and all(r["repeats"] == 0 and r["left_out"] == 0 for r in mid)}
    bench.write(f"buddies_match_k{args.size}", result, "python -m bench.buddies_match " + " ".join(sys.argv[1:]))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
