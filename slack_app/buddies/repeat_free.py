"""Stronger matching for mid-size rounds (up to STRONG_LIMIT members), where dense history can leave the
fast swap repair stuck on avoidable repeats. Pure: plain ints in, groups of ints out, deterministic.

- Pairs: a maximum-weight matching (Edmonds' blossom, networkx) over every pair that is not forbidden. It
  places as many people as possible, then minimises repeats, then prefers the soft wishes (teams, hours), so
  it finds a repeat-free matching whenever one exists. An odd count adds the one left over to a pair; if
  they can only join with a repeat (or not at all), they are made to be paired and the matching is run
  again so someone else is the third, a few times; then a few repeat-free triangles are tried as the trio.
- Groups of 3–8: a repeat-free grouping is a partition into cliques of the "may meet" graph (neither
  forbidden nor met recently). A depth-first search places the most constrained member first, tries their
  possible mates cheapest first and prunes as soon as someone left has too few possible mates. With dense
  history that graph is sparse and the search is short; with sparse history the first branches succeed.
  A few restarts with other seeded tie-breaks share BUDGET steps; then the caller keeps the best it has.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence, Set
from itertools import combinations
from typing import Protocol

import networkx as nx

STRONG_LIMIT = 300  # above this, random history is sparse and the fast repair reaches zero repeats
BUDGET = 20_000  # search steps for groups, over all restarts (well under a second at 60 members)
RESTARTS = 4
TRIANGLES = 12  # other thirds, then repeat-free groups of 3, tried for an odd count of pairs


class Costs(Protocol):
    """What the solvers need to know about a round (`matching._Problem`)."""

    priority: set[int]

    def pair_cost(self, a: int, b: int) -> int: ...
    def is_forbidden(self, a: int, b: int) -> bool: ...
    def is_repeat(self, a: int, b: int) -> bool: ...
    def group_cost(self, group: Sequence[int]) -> int: ...


def pairs(p: Costs, placed: Sequence[int], repeat: int) -> tuple[list[list[int]], list[int]]:
    """Pairs (and one group of 3 for an odd count) of `placed`, with as few left out and as few repeats as
    any grouping allows, except that the group of 3 is searched only among a few candidates."""
    groups, out = _blossom(p, placed, repeat)
    if not out or (len(placed) - len(out)) % 2:  # everyone paired, or nobody left over can join a pair
        return groups, out
    best = _with_third(p, groups, out)
    paired: set[int] = set()
    for _ in range(TRIANGLES):  # whoever cannot join a pair well is paired next time, so another is the third
        if _good(p, best, repeat):
            return best
        paired.update(out)
        groups, out = _blossom(p, placed, repeat, paired)
        best = min(best, _with_third(p, groups, out), key=lambda c: score(p, *c))
    for tri in _triangles(p, placed, TRIANGLES):  # last: a few repeat-free groups of 3, paired around
        if _good(p, best, repeat):
            break
        g, o = _blossom(p, [m for m in placed if m not in tri], repeat)
        best = min(best, ([list(tri), *g], o), key=lambda c: score(p, *c))
    return best


def _good(p: Costs, option: tuple[list[list[int]], list[int]], repeat: int) -> bool:
    groups, out = option
    return not out and all(p.group_cost(g) < repeat for g in groups)


def _blossom(p: Costs, placed: Sequence[int], repeat: int,
             paired: Set[int] = frozenset()) -> tuple[list[list[int]], list[int]]:
    # Integer weights, so networkx computes exactly: every edge outweighs any repeat saving (cardinality
    # first, as `maxcardinality` asks anyway), covering a priority member outweighs every repeat, and
    # covering someone in `paired` outweighs that.
    base, prio = 2 * repeat, repeat * (len(placed) + 1)
    must = prio * (2 * len(placed) + 1)

    def bonus(m: int) -> int:
        return prio * (m in p.priority) + must * (m in paired)

    g = nx.Graph()
    g.add_nodes_from(placed)
    for a, b in combinations(placed, 2):
        if not p.is_forbidden(a, b):
            g.add_edge(a, b, weight=base - p.pair_cost(a, b) + bonus(a) + bonus(b))
    matched = nx.max_weight_matching(g, maxcardinality=True)
    groups = sorted(sorted(e) for e in matched)
    taken = {m for e in groups for m in e}
    return groups, [m for m in placed if m not in taken]


def _with_third(p: Costs, groups: list[list[int]], out: list[int]) -> tuple[list[list[int]], list[int]]:
    """Add the best of `out` (priority first, then cheapest) to a pair, when one can take them."""
    options = [(m not in p.priority, p.group_cost((*g, m)), i, m) for m in out for i, g in enumerate(groups)
               if not any(p.is_forbidden(m, x) for x in g)]
    if not options:
        return groups, out
    _, _, i, m = min(options)
    return [g + [m] if j == i else g for j, g in enumerate(groups)], [x for x in out if x != m]


def _triangles(p: Costs, placed: Sequence[int], limit: int) -> Iterator[tuple[int, int, int]]:
    ok = _may_meet(p, placed)
    found = 0
    for a in placed:
        for b in sorted(ok[a]):
            if b <= a:
                continue
            for c in sorted(ok[a] & ok[b]):
                if c > b:
                    yield a, b, c
                    found += 1
                    if found >= limit:
                        return


def _may_meet(p: Costs, people: Sequence[int]) -> dict[int, set[int]]:
    ok: dict[int, set[int]] = {m: set() for m in people}
    for a, b in combinations(people, 2):
        if not (p.is_forbidden(a, b) or p.is_repeat(a, b)):
            ok[a].add(b)
            ok[b].add(a)
    return ok


class _Exhausted(Exception):
    pass


def groups(p: Costs, placed: Sequence[int], sizes: Sequence[int], rng: random.Random,
           budget: int = BUDGET) -> list[list[int]] | None:
    """A repeat-free grouping of `placed` into `sizes` with no forbidden pair, or None (none exists, or the
    searches ran out of budget). Backtracking has heavy tails: a few short searches, each breaking ties in
    another seeded order, find more than one long one."""
    ok = _may_meet(p, placed)
    for attempt in range(RESTARTS):
        tie = {m: float(i) for i, m in enumerate(placed)} if attempt == 0 else {m: rng.random() for m in placed}
        found = _search(p, ok, placed, sizes, tie, budget // RESTARTS)
        if found is not None or any(not ok[m] for m in placed):
            return found
    return None


def _search(p: Costs, ok: dict[int, set[int]], placed: Sequence[int], sizes: Sequence[int], tie: dict[int, float],
            budget: int) -> list[list[int]] | None:
    need: dict[int, int] = {}
    for s in sizes:
        need[s] = need.get(s, 0) + 1
    left = set(placed)
    free = {m: len(ok[m]) for m in placed}  # how many of those left each member may still meet
    found: list[list[int]] = []
    steps = [0]

    def take(members: list[int], sign: int) -> None:
        for x in members:
            for y in ok[x]:
                free[y] += sign

    def go() -> bool:
        if not left:
            return True
        steps[0] += 1
        if steps[0] > budget:
            raise _Exhausted
        v = min(left, key=lambda m: (free[m], tie[m]))  # the hardest to place goes first
        mates = sorted(ok[v] & left, key=lambda m: (free[m], p.pair_cost(v, m), tie[m]))
        for s in sorted((s for s, k in need.items() if k), reverse=True):
            for group in _cliques(ok, mates, s - 1):
                members = [v, *group]
                left.difference_update(members)
                take(members, -1)
                need[s] -= 1
                smallest = min((k for k, c in need.items() if c), default=1)
                if all(free[m] >= smallest - 1 for m in left):  # nobody left is already impossible to place
                    found.append(members)
                    if go():
                        return True
                    found.pop()
                need[s] += 1
                take(members, +1)
                left.update(members)
        return False

    try:
        return found if go() else None
    except _Exhausted:
        return None


def _cliques(ok: dict[int, set[int]], candidates: list[int], k: int) -> Iterator[list[int]]:
    """Every `k` of `candidates` that may all meet each other, in the candidates' order."""
    if k == 0:
        yield []
        return
    for i, m in enumerate(candidates):
        rest = [c for c in candidates[i + 1:] if c in ok[m]]
        for tail in _cliques(ok, rest, k - 1):
            yield [m, *tail]


def score(p: Costs, groups: Sequence[Sequence[int]], out: Sequence[int]) -> tuple[int, int, int]:
    """How good a grouping is, in the order of the rules: fewest left out, fewest priority members left
    out, then the lowest cost (forbidden pairs, then repeats, then soft wishes)."""
    return len(out), sum(m in p.priority for m in out), sum(p.group_cost(g) for g in groups)
