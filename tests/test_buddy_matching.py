"""Buddy matching invariants (hypothesis), checked against a brute force on small rounds."""

from __future__ import annotations

import random
from itertools import combinations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from slack_app.buddies import matching
from slack_app.buddies.matching import EXACT_LIMIT, MAX_SIZE, group_sizes, match, quality


def _members(n: int) -> list[str]:
    return [f"U{i:03d}" for i in range(n)]


@st.composite
def rounds(draw, max_members: int = 24):
    n = draw(st.integers(0, max_members))
    members = _members(n)
    size = draw(st.integers(2, 8))
    pairs = list(combinations(members, 2))
    history = draw(st.lists(st.lists(st.sampled_from(pairs), max_size=12), max_size=14)) if pairs else []
    forbidden = draw(st.lists(st.sampled_from(pairs), max_size=6)) if pairs else []
    priority = draw(st.lists(st.sampled_from(members), max_size=3)) if members else []
    seed = draw(st.integers(0, 2**32))
    return members, size, [[list(p) for p in r] for r in history], forbidden, priority, seed


def _partitions(people: list[str], sizes: list[int]):
    if not people:
        yield []
        return
    first, rest = people[0], people[1:]
    for s in sorted(set(sizes)):
        left = list(sizes)
        left.remove(s)
        for mates in combinations(rest, s - 1):
            others = [m for m in rest if m not in mates]
            for tail in _partitions(others, left):
                yield [[first, *mates], *tail]


def _brute(members, size, history, forbidden, priority, window=12):
    """(left out, priority left out, repeats) of the best grouping, trying every subset and partition."""
    banned = {frozenset(p) for p in forbidden}
    recent = {frozenset(p) for r in history[-window:] for g in r for p in combinations(g, 2)}
    best = None
    for out_count in range(len(members) + 1):
        for out in combinations(members, out_count):
            placed = [m for m in members if m not in out]
            for groups in _partitions(placed, group_sizes(len(placed), size)) if group_sizes(len(placed), size) else []:
                pairs = [frozenset(p) for g in groups for p in combinations(g, 2)]
                if any(p in banned for p in pairs):
                    continue
                score = (out_count, sum(m in priority for m in out), sum(p in recent for p in pairs))
                best = score if best is None or score < best else best
        if best is not None:
            return best
    return (len(members), len(set(priority)), 0)


def test_group_sizes():
    assert group_sizes(7, 2) == [3, 2, 2]
    assert group_sizes(8, 2) == [2, 2, 2, 2]
    assert group_sizes(1, 2) == []
    assert group_sizes(3, 4) == [3]
    assert group_sizes(9, 4) == [5, 4]
    assert group_sizes(7, 4) == [4, 3]  # a remainder larger than the groups: sizes k and k - 1
    assert group_sizes(17, 8) == [6, 6, 5]  # never more than 8 people in a group DM
    for n in range(0, 200):
        for k in range(2, 9):
            sizes = group_sizes(n, k)
            assert sum(sizes) == (n if n >= 2 else 0)
            assert all(2 <= s <= MAX_SIZE for s in sizes)
            if n >= k and n % k <= n // k and k < MAX_SIZE:
                assert set(sizes) <= {k, k + 1}


@settings(max_examples=150, deadline=None)
@given(rounds())
def test_invariants(case):
    members, size, history, forbidden, priority, seed = case
    plan = match(members, size, seed=seed, history=history, forbidden=forbidden, priority=priority)
    placed = [m for g in plan.groups for m in g]
    assert sorted(placed + plan.left_out) == sorted(members)  # everyone once: placed or left out
    assert [len(g) for g in sorted(plan.groups, key=len, reverse=True)] == group_sizes(len(placed), size)
    banned = {frozenset(p) for p in forbidden}
    assert not any(frozenset(p) in banned for g in plan.groups for p in combinations(g, 2))
    assert plan.quality.violations == 0
    assert plan.quality == quality(plan.groups, plan.left_out, history=history, forbidden=forbidden)
    again = match(list(reversed(members)), size, seed=seed, history=history, forbidden=forbidden, priority=priority)
    assert again.groups == plan.groups and again.left_out == plan.left_out  # deterministic from the seed


@settings(max_examples=120, deadline=None)
@given(rounds(max_members=7))
def test_optimal_against_brute_force(case):
    members, size, history, forbidden, priority, seed = case
    plan = match(members, size, seed=seed, history=history, forbidden=forbidden, priority=priority)
    got = (len(plan.left_out), sum(m in priority for m in plan.left_out), plan.quality.repeats)
    assert got == _brute(members, size, history, forbidden, priority)


def test_left_out_only_when_impossible_and_placed_first_next_round():
    members = _members(5)
    lonely = members[0]
    forbidden = [(lonely, m) for m in members[1:]]
    plan = match(members, 2, seed=1, forbidden=forbidden)
    assert plan.left_out == [lonely]
    # Next round someone else is impossible to place; the one left out last time is placed first.
    members = _members(4)
    plan = match(members, 3, seed=3, priority=[members[0]])
    assert plan.left_out == [] and len(plan.groups) == 1
    plan = match(_members(3), 2, seed=5, forbidden=[("U000", "U001")], priority=["U000"])
    assert "U000" not in plan.left_out


def test_no_avoidable_repeats_in_a_large_round():
    members = _members(EXACT_LIMIT * 50)
    history = []
    for r in range(12):
        plan = match(members, 2, seed=r, history=history)
        assert plan.quality.repeats == 0
        history.append(plan.groups)


def test_prefers_overlapping_working_hours():
    members = _members(40)
    offsets = {m: (i % 2) * 9 * 60 for i, m in enumerate(members)}  # half UTC, half UTC+9
    plan = match(members, 2, seed=7, offsets=offsets)
    assert plan.quality.min_overlap_hours == 8
    blind = match(members, 2, seed=7)
    assert quality(blind.groups, offsets=offsets).min_overlap_hours < 8


def test_window_limits_history():
    members = _members(2)
    plan = match(members, 2, seed=0, history=[[members]] + [[]] * 12)
    assert plan.quality.repeats == 0
    plan = match(members, 2, seed=0, history=[[members]])
    assert plan.quality.repeats == 1 and plan.left_out == []  # a repeat beats leaving people out


def test_mixes_teams_when_asked():
    members = _members(40)
    teams = {m: "eng" if i < 20 else "ops" for i, m in enumerate(members)}
    plan = match(members, 2, seed=11, teams=teams)
    assert all(len({teams[m] for m in g}) == 2 for g in plan.groups)
    small = _members(8)  # exact solver too
    plan = match(small, 2, seed=3, teams={m: str(i % 2) for i, m in enumerate(small)})
    assert all(len({int(m[1:]) % 2 for m in g}) == 2 for g in plan.groups)
    blind = match(members, 2, seed=11)
    assert not all(len({teams[m] for m in g}) == 2 for g in blind.groups)


# --- mid-size rounds with dense history: a repeat-free grouping exists, and must be found -----------------------

def _round_robin(members: list[str]) -> list[list[list[str]]]:
    """The circle method: len(members) - 1 rounds of pairs in which every pair meets exactly once."""
    ring, out = list(members), []
    for _ in range(len(ring) - 1):
        half = len(ring) // 2
        out.append([[ring[i], ring[-1 - i]] for i in range(half)])
        ring = [ring[0], ring[-1], *ring[1:-1]]
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(6, 30).map(lambda k: 2 * k), st.integers(0, 10**6), st.integers(0, 2**32))
def test_round_robin_history_with_one_round_held_back(n, held, seed):
    """Every pair but those of one round met lately: that round is the only repeat-free matching."""
    members = _members(n)
    schedule = _round_robin(members)
    keep = schedule.pop(held % len(schedule))
    plan = match(members, 2, seed=seed, history=schedule, window=n)
    assert plan.quality.repeats == 0 and plan.left_out == []
    assert sorted(map(sorted, plan.groups)) == sorted(map(sorted, keep))


@st.composite
def hidden_groupings(draw):
    """A round of 11–60 members whose history covers every pair except those of one hidden grouping and a
    few decoys, plus forbidden pairs among the pairs that met (so the hidden grouping stays allowed)."""
    n = draw(st.integers(EXACT_LIMIT + 1, 60))
    size = draw(st.integers(2, 6))
    rng = random.Random(draw(st.integers(0, 2**32)))
    members = _members(n)
    order = members[:]
    rng.shuffle(order)
    hidden, start = [], 0
    for s in group_sizes(n, size):
        hidden.append(order[start:start + s])
        start += s
    free = {frozenset(p) for g in hidden for p in combinations(g, 2)}
    decoys = draw(st.floats(0, 0.15))
    met = [list(p) for p in combinations(members, 2) if frozenset(p) not in free and rng.random() >= decoys]
    rng.shuffle(met)
    history = [met[i::3] for i in range(3)]  # three past rounds (as pairs) holding every pair that met
    forbidden = rng.sample([tuple(p) for p in met], min(len(met), draw(st.integers(0, 20))))
    return members, size, history, forbidden, draw(st.integers(0, 2**32))


@settings(max_examples=60, deadline=None)
@given(hidden_groupings())
def test_dense_history_no_avoidable_repeats(case):
    members, size, history, forbidden, seed = case
    plan = match(members, size, seed=seed, history=history, forbidden=forbidden)
    assert plan.quality.repeats == 0 and plan.quality.violations == 0 and plan.left_out == []
    assert sorted(m for g in plan.groups for m in g) == sorted(members)
    assert sorted(map(len, plan.groups), reverse=True) == group_sizes(len(members), size)
    banned = {frozenset(p) for p in forbidden}
    assert not any(frozenset(p) in banned for g in plan.groups for p in combinations(g, 2))
    again = match(members[::-1], size, seed=seed, history=history, forbidden=forbidden)
    assert again.groups == plan.groups  # deterministic from the seed


@settings(max_examples=150, deadline=None)
@given(rounds(max_members=8))
@example(case=(  # found in CI: the one left over may only meet two who met, so someone else must be the third
    ["U000", "U001", "U002", "U003", "U004", "U005", "U006"], 2, [[["U002", "U004"]]],
    [("U000", "U006"), ("U001", "U006"), ("U003", "U006"), ("U005", "U006")], [], 7))
def test_mid_size_solvers_against_brute_force(case):
    """The mid-size path (swaps, then blossom or the grouping search), run on small rounds: pairs are
    optimal; groups are repeat-free whenever a repeat-free grouping of everyone exists."""
    members, size, history, forbidden, priority, seed = case
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(matching, "EXACT_LIMIT", 1)  # the swap search assumes two people or more
        plan = match(members, size, seed=seed, history=history, forbidden=forbidden, priority=priority)
    got = (len(plan.left_out), sum(m in priority for m in plan.left_out), plan.quality.repeats)
    best = _brute(members, size, history, forbidden, priority)
    if size == 2:
        assert got == best
    elif best[0] == 0 and best[2] == 0:
        assert got == best
