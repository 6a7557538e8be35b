"""Buddy matching: who meets whom this round. Pure: no Slack, no database, deterministic from the seed.

    plan = match(members, size=2, seed=..., history=[...], forbidden={...}, priority={...}, offsets={...})

Rules, in this order of importance:

1. Hard: two members of a forbidden pair (a "never pair me with" entry, or a "must not meet" constraint
   fed by reports) are never in one group.
2. Everyone is placed, unless the hard constraints make that impossible; then as few as possible are left
   out, and members in `priority` (left out last round) are left out last.
3. Group sizes follow `group_sizes(placed, size)`: groups of `size`, and the remainder spread one per group
   (an odd count with size 2 makes one group of 3); never more than 8 people (Slack's group DM limit).
4. No pair meets again that met within the last `window` rounds of `history`, whenever such a matching
   exists; otherwise as few repeats as possible.
5. Optionally (`teams` given), groups that mix teams; and (`offsets` given) groups whose working hours
   overlap most.

Small rounds (up to EXACT_LIMIT members) are solved exactly by branch and bound. Larger ones start from the
seeded shuffle (sorted by UTC offset when `offsets` are given, so neighbours share hours), then repair every
group with a conflict by swapping members with other groups. With sparse history (a large channel) that
reaches zero repeats in a few swaps per conflict: linear in members plus history pairs. Mid-size rounds (up to
`repeat_free.STRONG_LIMIT`), where history can be dense, also get `repeat_free`'s answer and keep the better:
for pairs a maximum-weight matching, which finds a repeat-free matching whenever one exists.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, combinations, compress
from operator import add

from slack_app.buddies import repeat_free

MIN_SIZE = 2
MAX_SIZE = 8  # Slack opens a group DM with at most 8 people plus the bot
DEFAULT_WINDOW = 12
EXACT_LIMIT = 10
WORKDAY_HOURS = 8  # overlap of two working days 09:00–17:00 local, in hours

# Costs, so that each rule outweighs all the ones after it within any group (28 pairs at most) or round:
HARD = 100_000_000  # a forbidden pair in a group (also the cost of leaving someone out)
REPEAT = 100_000  # a pair that met within the window
SAME_TEAM = 250  # two people of one team in a group, when mixing teams (outweighs any working-hours mismatch)
SIDEWAYS = 0.3  # how often a swap that neither helps nor hurts is taken (walks off a plateau)


def group_sizes(count: int, size: int) -> list[int]:
    """Sizes of the groups for `count` placed members and a target `size` (2–8), largest first."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"group size is {MIN_SIZE} to {MAX_SIZE}")
    if count < MIN_SIZE:
        return []
    if count <= size:
        return [count]
    groups, extra = divmod(count, size)
    if extra <= groups and size < MAX_SIZE:
        return [size + 1] * extra + [size] * (groups - extra)
    groups += 1 if extra else 0
    base, extra = divmod(count, groups)
    return [base + 1] * extra + [base] * (groups - extra)


def overlap_hours(a: int, b: int) -> int:
    """Shared working hours of two members `a` and `b` minutes from UTC (a 09:00–17:00 day each)."""
    diff = abs(a - b) % (24 * 60)
    diff = min(diff, 24 * 60 - diff)
    return max(0, WORKDAY_HOURS * 60 - diff) // 60


@dataclass(frozen=True)
class Quality:
    groups: int
    placed: int
    left_out: int
    repeats: int  # pairs in this round that met within the window
    violations: int  # forbidden pairs put together (0 unless a bug)
    min_overlap_hours: int | None  # the worst group's shared working hours (None without offsets)
    mean_overlap_hours: float | None
    repeat_groups: int = 0  # groups holding at least one such pair
    mixed: int | None = None  # groups mixing two teams or more (None without teams)

    def lines(self) -> list[str]:
        out = [f"groups: {self.groups}", f"placed: {self.placed}", f"left out: {self.left_out}",
               f"repeats: {self.repeats} (in {self.repeat_groups} groups)", f"constraint violations: {self.violations}"]
        if self.min_overlap_hours is not None:
            out.append(f"working-hours overlap: min {self.min_overlap_hours} h, mean {self.mean_overlap_hours:.1f} h")
        if self.mixed is not None:
            out.append(f"groups mixing teams: {self.mixed} of {self.groups}")
        return out


@dataclass(frozen=True)
class Plan:
    groups: list[list[str]]
    left_out: list[str]
    quality: Quality
    seed: int


@dataclass
class _Problem:
    ids: list[str]
    size: int
    repeats: set[int]  # hash(id a) + hash(id b) of the pairs that met within the window
    hashes: list[int]
    forbidden: set[int]  # pair keys a * n + b (a < b)
    offsets: list[int] | None
    priority: set[int] = field(default_factory=set)
    teams: list[str] | None = None

    def key(self, a: int, b: int) -> int:
        return a * len(self.ids) + b if a < b else b * len(self.ids) + a

    def is_forbidden(self, a: int, b: int) -> bool:
        return self.key(a, b) in self.forbidden

    def is_repeat(self, a: int, b: int) -> bool:
        return self.hashes[a] + self.hashes[b] in self.repeats

    def pair_cost(self, a: int, b: int) -> int:
        k = self.key(a, b)
        cost = HARD if k in self.forbidden else 0
        if self.hashes[a] + self.hashes[b] in self.repeats:
            cost += REPEAT
        if self.offsets is not None:
            cost += WORKDAY_HOURS - overlap_hours(self.offsets[a], self.offsets[b])
        if self.teams is not None and self.teams[a] == self.teams[b]:
            cost += SAME_TEAM
        return cost

    def group_cost(self, group: Sequence[int]) -> int:
        if self.offsets is None and self.teams is None:  # the common case, kept quick for large rounds
            n, h, forbidden, repeats = len(self.ids), self.hashes, self.forbidden, self.repeats
            cost = 0
            for a, b in combinations(group, 2):
                if (a * n + b if a < b else b * n + a) in forbidden:
                    cost += HARD
                if h[a] + h[b] in repeats:
                    cost += REPEAT
            return cost
        return sum(self.pair_cost(a, b) for a, b in combinations(group, 2))

    def quality(self, groups: Sequence[Sequence[int]], left_out: int) -> Quality:
        repeats = violations = repeat_groups = 0
        overlaps: list[int] = []
        n, h = len(self.ids), self.hashes
        for group in groups:
            before = repeats
            for a, b in combinations(group, 2):
                repeats += h[a] + h[b] in self.repeats
                violations += (a * n + b if a < b else b * n + a) in self.forbidden
            repeat_groups += repeats > before
            if self.offsets is not None:
                offsets = self.offsets
                overlaps.append(min(overlap_hours(offsets[a], offsets[b]) for a, b in combinations(group, 2)))
        teams = self.teams
        return Quality(groups=len(groups), placed=sum(len(g) for g in groups), left_out=left_out,
                       repeats=repeats, violations=violations,
                       min_overlap_hours=min(overlaps) if overlaps else None,
                       mean_overlap_hours=round(sum(overlaps) / len(overlaps), 2) if overlaps else None,
                       repeat_groups=repeat_groups,
                       mixed=None if teams is None else sum(len({teams[m] for m in g}) > 1 for g in groups))


def _pairs(groups: Iterable[Iterable[str]]) -> Iterable[tuple[str, str]]:
    for group in groups:
        yield from combinations(list(group), 2)


def match(members: Sequence[str], size: int = 2, *, seed: int, history: Sequence[Iterable[Iterable[str]]] = (),
          forbidden: Iterable[tuple[str, str]] = (), priority: Iterable[str] = (),
          offsets: Mapping[str, int] | None = None, window: int = DEFAULT_WINDOW,
          teams: Mapping[str, str] | None = None) -> Plan:
    """This round's groups. `history` is past rounds' groups, oldest first (only the last `window` count);
    `offsets` maps members to minutes from UTC (to prefer overlapping working hours); `teams` maps members
    to a team (to prefer groups that mix teams)."""
    group_sizes(2, size)  # validates size
    ids = sorted(set(members))
    rng = random.Random(seed)
    rng.shuffle(ids)
    index = {m: i for i, m in enumerate(ids)}
    n = len(ids)

    recent = list(history)[-window:] if window > 0 else []
    problem = _Problem(ids=ids, size=size, repeats=_history_keys(recent), hashes=list(map(hash, ids)), forbidden=set(),
                       offsets=[offsets.get(m, 0) for m in ids] if offsets is not None else None,
                       teams=[teams.get(m, "") for m in ids] if teams is not None else None,
                       priority={index[m] for m in priority if m in index})
    for a, b in forbidden:
        i, j = index.get(a), index.get(b)
        if i is not None and j is not None and i != j:
            problem.forbidden.add(problem.key(i, j))
    if n <= EXACT_LIMIT:
        groups, out = _exact(problem)
    else:
        groups, out = _search(problem, rng)
        if n <= repeat_free.STRONG_LIMIT:
            groups, out = _stronger(problem, groups, out, rng)
    named = [[ids[i] for i in g] for g in groups]
    left = [ids[i] for i in out]
    return Plan(groups=named, left_out=left, quality=problem.quality(groups, len(out)), seed=seed)


def _history_keys(rounds: Sequence[Iterable[Iterable[str]]]) -> set[int]:
    """Every pair that met in `rounds`, as the sum of the two ids' hashes: symmetric, and computed at C speed
    (12 rounds of 50,000 pairs in well under a second). A false "met before" needs two 64-bit hash sums to
    collide; it could only cost a pairing, never break a hard constraint (those are checked exactly)."""
    keys: set[int] = set()
    for rnd in rounds:
        groups = [g if isinstance(g, (list, tuple)) else list(g) for g in rnd]
        lengths = list(map(len, groups))
        for length in set(lengths):
            same = groups if len(set(lengths)) == 1 else list(compress(groups, [x == length for x in lengths]))
            h = list(map(hash, chain.from_iterable(same)))
            for p, q in combinations(range(length), 2):
                keys.update(map(add, h[p::length], h[q::length]))
    return keys


def quality(groups: Sequence[Sequence[str]], left_out: Sequence[str] = (), *,
            history: Sequence[Iterable[Iterable[str]]] = (), forbidden: Iterable[tuple[str, str]] = (),
            offsets: Mapping[str, int] | None = None, window: int = DEFAULT_WINDOW,
            teams: Mapping[str, str] | None = None) -> Quality:
    recent = {frozenset(p) for p in _pairs(g for rnd in list(history)[-window:] for g in rnd)} if window else set()
    banned = {frozenset(p) for p in forbidden}
    repeats = violations = repeat_groups = 0
    overlaps: list[int] = []
    for group in groups:
        pairs = [frozenset(p) for p in combinations(group, 2)]
        met = sum(p in recent for p in pairs)
        repeats += met
        repeat_groups += met > 0
        violations += sum(p in banned for p in pairs)
        if offsets is not None and len(group) > 1:
            overlaps.append(min(overlap_hours(offsets.get(a, 0), offsets.get(b, 0))
                                for a, b in combinations(group, 2)))
    return Quality(groups=len(groups), placed=sum(len(g) for g in groups), left_out=len(left_out),
                   repeats=repeats, violations=violations,
                   min_overlap_hours=min(overlaps) if overlaps else None,
                   mean_overlap_hours=sum(overlaps) / len(overlaps) if overlaps else None, repeat_groups=repeat_groups,
                   mixed=None if teams is None else sum(len({teams.get(m, "") for m in g}) > 1 for g in groups))


# --- exact: branch and bound over every partition (small rounds) ---------------------------------------------

def _exact(p: _Problem) -> tuple[list[list[int]], list[int]]:
    n = len(p.ids)
    everyone = list(range(n))
    # Leave out as few as possible, priority members last; the first subset (in seeded order) that can be
    # matched without a forbidden pair wins at that count.
    for out_count in range(0, n + 1):
        candidates = sorted(combinations(everyone, out_count), key=lambda out: sum(m in p.priority for m in out))
        best: tuple[int, list[list[int]], tuple[int, ...]] | None = None
        for out in candidates:
            if best is not None and sum(m in p.priority for m in out) > sum(m in p.priority for m in best[2]):
                break
            placed = [m for m in everyone if m not in out]
            found = _partition(p, placed, best[0] if best else HARD)
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], found[1], out)
        if best is not None:
            return best[1], list(best[2])
        if n - out_count < MIN_SIZE:
            break
    return [], everyone


def _partition(p: _Problem, placed: list[int], bound: int) -> tuple[int, list[list[int]]] | None:
    """The cheapest grouping of `placed` into `group_sizes`, costing less than `bound` (no forbidden pair)."""
    sizes = group_sizes(len(placed), p.size)
    if not sizes:
        return None
    best: list[tuple[int, list[list[int]]]] = []
    limit = [bound]

    def go(rest: list[int], sizes_left: list[int], groups: list[list[int]], cost: int) -> None:
        if not rest:
            if cost < limit[0]:
                limit[0] = cost
                best[:] = [(cost, [list(g) for g in groups])]
            return
        first, others = rest[0], rest[1:]
        for s in sorted(set(sizes_left), reverse=True):
            remaining = list(sizes_left)
            remaining.remove(s)
            for mates in combinations(others, s - 1):
                group = (first, *mates)
                c = cost + p.group_cost(group)
                if c >= limit[0]:
                    continue
                groups.append(list(group))
                go([m for m in others if m not in mates], remaining, groups, c)
                groups.pop()

    go(placed, sizes, [], 0)
    return best[0] if best else None


# --- stronger: mid-size rounds, where dense history can defeat the swaps --------------------------------------

def _stronger(p: _Problem, groups: list[list[int]], out: list[int],
              rng: random.Random) -> tuple[list[list[int]], list[int]]:
    """When the swaps left someone out or a repeat in, the better of their grouping and `repeat_free`'s: a
    maximum-weight matching for pairs, a search for a repeat-free grouping for groups of 3 or more."""
    if not out and all(p.group_cost(g) < REPEAT for g in groups):
        return groups, out  # nothing a stronger search could improve but soft wishes
    everyone = list(range(len(p.ids)))
    options = [(groups, out)]
    if p.size == 2:
        options.append(repeat_free.pairs(p, everyone, REPEAT))
    else:
        for people in [everyone, [m for m in everyone if m not in out]] if out else [everyone]:
            found = repeat_free.groups(p, people, group_sizes(len(people), p.size), rng)
            if found is not None:
                options.append((found, [m for m in everyone if m not in people]))
                break
    return min(options, key=lambda o: repeat_free.score(p, *o))


# --- search: seeded start, then swaps that repair conflicts (large rounds) -----------------------------------

def _search(p: _Problem, rng: random.Random) -> tuple[list[list[int]], list[int]]:
    order = sorted(range(len(p.ids)), key=lambda m: m not in p.priority)  # stable: seeded order within
    left_out: list[int] = []
    while True:
        gone = set(left_out)
        placed = [m for m in order if m not in gone]
        if p.offsets is not None:
            placed.sort(key=lambda m: p.offsets[m])  # type: ignore[index]
        if p.teams is not None:
            placed = _interleave(placed, p.teams)
        sizes = group_sizes(len(placed), p.size)
        groups, start = [], 0
        for s in sizes:
            groups.append(placed[start:start + s])
            start += s
        _repair(p, groups, rng)
        stuck = [g for g in groups if p.group_cost(g) >= HARD]
        if not stuck:
            return groups, left_out
        # A forbidden pair survived every swap: leave out the member in most forbidden pairs (priority last).
        worst = max((m for g in stuck for m in g),
                    key=lambda m: (m not in p.priority,
                                   sum(p.key(m, o) in p.forbidden for g in stuck if m in g for o in g if o != m)))
        left_out.append(worst)
        if len(placed) - 1 < MIN_SIZE:
            return [], left_out + [m for m in placed if m != worst]


def _interleave(placed: list[int], teams: list[str]) -> list[int]:
    """Members dealt round-robin from each team (largest first), so consecutive members differ in team."""
    by_team: dict[str, list[int]] = {}
    for m in placed:
        by_team.setdefault(teams[m], []).append(m)
    queues = sorted(by_team.values(), key=len, reverse=True)
    out: list[int] = []
    while queues:
        for q in queues:
            out.append(q.pop(0))
        queues = [q for q in queues if q]
    return out


def _repair(p: _Problem, groups: list[list[int]], rng: random.Random) -> None:
    """Swap members between groups while a swap lowers the cost of a group with a conflict."""
    if len(groups) < 2:
        return
    costs = [p.group_cost(g) for g in groups]
    threshold = REPEAT  # a repeat or worse; overlap differences alone are never repaired here
    bad = [i for i, c in enumerate(costs) if c >= threshold]
    attempts = 0
    budget = 200 * len(groups) + 200_000
    while bad and attempts < budget:
        i = bad.pop()
        if costs[i] < threshold:
            continue
        g = groups[i]
        improved = False
        for _ in range(min(400, 40 * len(groups))):
            attempts += 1
            j = rng.randrange(len(groups))
            if j == i:
                continue
            h = groups[j]
            a_pos, b_pos = rng.randrange(len(g)), rng.randrange(len(h))
            a, b = g[a_pos], h[b_pos]
            g[a_pos], h[b_pos] = b, a
            ci, cj = p.group_cost(g), p.group_cost(h)
            before = costs[i] + costs[j]
            if ci + cj < before or (ci + cj == before and rng.random() < SIDEWAYS):
                costs[i], costs[j] = ci, cj
                if cj >= threshold:
                    bad.append(j)
                improved = True
                break
            g[a_pos], h[b_pos] = a, b
        if improved and costs[i] >= threshold:
            bad.append(i)
