"""Disclosure rules: nothing below the minimum, breakdowns with their complements, no subtraction across
releases, outlets and runs. The property test checks the rule against an independent attacker: linear
algebra over the individual answer sets of everything released."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.disclosure import (
    Cell,
    Ledger,
    Stratum,
    atoms,
    breakdown_request,
    comments_visible,
    is_safe,
    release,
    release_by_scope,
    shown_comments,
)

K = 5


def pop(**strata: int) -> dict[Stratum, int]:
    """pop(r1=3, r1__C1=4, r1__C1__C2=2) → counts per stratum (run, then channel labels)."""
    out: dict[Stratum, int] = {}
    for key, n in strata.items():
        run, *channels = key.split("__")
        out[Stratum(run, tuple(sorted(("channel", c) for c in channels)))] = n
    return out


def shown(decision) -> list[Cell]:
    return list(decision.shown)


# -- examples -----------------------------------------------------------------------------------------------


def test_nothing_is_shown_below_the_minimum():
    total = Cell.of("r1")
    assert release(Ledger(), [total], pop(r1=4), K).shown == ()
    assert release(Ledger(), [total], pop(r1=5), K).shown == (total,)
    assert release(Ledger(), [total], pop(r1=5), 6).shown == ()
    # An empty cell or a cell of no run shows nothing either.
    assert release(Ledger(), [Cell.of("nope"), Cell(frozenset())], pop(r1=9), K).shown == ()


def test_a_group_is_shown_only_when_its_complement_meets_the_minimum():
    total, c1 = Cell.of("r1"), Cell.of("r1", where=[("channel", "C1")])
    # 6 in C1, 4 outside: showing C1 next to the total would reveal the 4 by subtraction.
    assert release(Ledger(), [total, c1], pop(r1=4, r1__C1=6), K).shown == (total,)
    assert release(Ledger(), [total, c1], pop(r1=5, r1__C1=6), K).shown == (total, c1)
    # Without the total on record, C1 alone may be shown, but then the total may not follow.
    first = release(Ledger(), [c1], pop(r1=4, r1__C1=6), K)
    assert first.shown == (c1,)
    assert release(first.ledger, [total], pop(r1=4, r1__C1=6), K).shown == ()


def test_all_groups_of_a_dimension_but_a_small_one_cannot_be_shown():
    population = pop(r1__C1=8, r1__C2=2, r1__C3=7)
    request = breakdown_request(["r1"], "channel", population)
    assert [c.where for c in request] == [(), (("channel", "C1"),), (("channel", "C3"),), (("channel", "C2"),)]
    decision = release(Ledger(), request, population, K)
    # Total and C1 (complement 9) are fine; adding C3 too would leave C2's two people as the remainder.
    assert decision.shown == tuple(request[:2])


def test_nested_channels_cannot_be_subtracted_to_leave_fewer_than_the_minimum():
    # C2 ⊂ C1: 9 in C1, of whom 6 are also in C2 — C1 minus C2 would be 3 people.
    population = pop(r1=10, r1__C1=3, r1__C1__C2=6)
    c1, c2 = Cell.of("r1", where=[("channel", "C1")]), Cell.of("r1", where=[("channel", "C2")])
    first = release(Ledger(), [c1], population, K)
    assert first.shown == (c1,)
    assert release(first.ledger, [c2], population, K).shown == ()


def test_overlapping_groups_whose_difference_is_two_people_are_refused():
    # C1 and C2 share 8 people and differ by one each: C1 - C2 would be one person's answer minus another's.
    population = pop(r1=10, r1__C1=1, r1__C2=1, r1__C1__C2=8)
    c1, c2 = Cell.of("r1", where=[("channel", "C1")]), Cell.of("r1", where=[("channel", "C2")])
    assert release(Ledger(), [c1, c2], population, K).shown == (c1,)


def test_pooled_runs_cannot_be_subtracted_from_one_run():
    population = pop(r1=8, r2=3)
    r1, both = Cell.of("r1"), Cell.of("r1", "r2")
    first = release(Ledger(), [r1], population, K)
    assert release(first.ledger, [both], population, K).shown == ()
    # Separate runs are different answer sets: each may be shown (their difference is a trend, not a person).
    population = pop(r1=8, r2=6)
    assert release(Ledger(), [r1, Cell.of("r2")], population, K).shown == (r1, Cell.of("r2"))


def test_a_result_is_not_shown_again_after_its_run_changed():
    total = Cell.of("r1")
    first = release(Ledger(), [total], pop(r1=7), K)
    assert first.ledger.released == {total: 7}
    # Same data: shown again, the ledger is unchanged.
    again = release(first.ledger, [total], pop(r1=7), K)
    assert again.shown == (total,) and again.ledger == first.ledger
    # One late answer: showing the run again would reveal it by subtraction, so nothing about r1 is shown.
    late = release(first.ledger, [total, Cell.of("r1", where=[("channel", "C1")])], pop(r1=2, r1__C1=6), K)
    assert late.shown == ()


def test_the_ledger_is_shared_across_outlets_so_order_does_not_matter():
    population = pop(r1=4, r1__C1=6)
    total, c1 = Cell.of("r1"), Cell.of("r1", where=[("channel", "C1")])
    slack = release(Ledger(), [total], population, K)  # results message at close
    csv = release(slack.ledger, [c1], population, K)  # an admin asks for a breakdown later, as CSV
    assert csv.shown == ()


def test_atoms_group_answer_sets_by_the_cells_they_are_in():
    population = pop(r1=4, r1__C1=6)
    total, c1 = Cell.of("r1"), Cell.of("r1", where=[("channel", "C1")])
    assert atoms([total, c1], population) == {frozenset({total}): 4, frozenset({total, c1}): 6}


def test_comments_need_their_own_minimum_and_come_sorted():
    assert not comments_visible(respondents=6, comment_minimum=7, minimum=5)
    assert comments_visible(respondents=7, comment_minimum=7, minimum=5)
    assert not comments_visible(respondents=4, comment_minimum=3, minimum=5)
    assert shown_comments(["zeta", " alpha ", "", "mu"], 7, 5, 5) == ("alpha", "mu", "zeta")
    assert shown_comments(["zeta", "alpha"], 4, 5, 5) == ()


# -- the property: an attacker holding every release learns nothing about fewer than k answer sets ----------

RUNS = ("r1", "r2", "r3")
LABELS = (("channel", "C1"), ("channel", "C2"), ("team", "a"), ("team", "b"))
OUTLETS = ("slack", "home", "cli", "csv", "archive")

# Answer sets fall in two runs, so groups reach the minimum often; cells may also name a run nobody answered.
person = st.tuples(st.sampled_from(RUNS[:2]), st.frozensets(st.sampled_from(LABELS), max_size=3))
cell = st.builds(
    lambda runs, where: Cell(frozenset(runs), tuple(sorted(where))),
    st.frozensets(st.sampled_from(RUNS), min_size=1, max_size=3),
    # Mostly whole-audience or one-label cells (the ones large enough to be shown), sometimes two labels.
    st.one_of(
        st.just(frozenset()),
        st.frozensets(st.sampled_from(LABELS), max_size=1),
        st.frozensets(st.sampled_from(LABELS), max_size=2),
    ),
)
batch = st.tuples(
    st.sampled_from(OUTLETS),
    st.one_of(
        st.lists(cell, min_size=1, max_size=5),
        st.tuples(st.frozensets(st.sampled_from(RUNS), min_size=1), st.sampled_from(["channel", "team"])),
    ),
    st.lists(person, max_size=2),  # late answers arriving after this batch (a run changing after release)
)


def _population(people: list[tuple[str, frozenset]]) -> dict[Stratum, int]:
    return dict(Counter(Stratum(run, tuple(sorted(ls))) for run, ls in people))


def _members(cell: Cell, people: list[tuple[str, frozenset]]) -> frozenset[int]:
    return frozenset(i for i, (run, ls) in enumerate(people) if cell.contains(Stratum(run, tuple(sorted(ls)))))


def _smallest_exposed_group(rows: set[frozenset[int]], n: int, k: int) -> frozenset[int] | None:
    """A set of fewer than k answer sets that some linear combination of the released sums depends on
    exactly (weights zero elsewhere), or None. Such a combination exists for S iff dropping S's columns
    lowers the rank of the release matrix; supersets inherit it, so testing size k-1 (or all) suffices."""
    if not rows:
        return None
    matrix = np.array([[1.0 if i in row else 0.0 for i in range(n)] for row in rows])
    full = np.linalg.matrix_rank(matrix)
    covered = sorted(set().union(*rows))
    size = min(k - 1, len(covered))
    for group in itertools.combinations(covered, size):
        rest = [i for i in range(n) if i not in group]
        rank = np.linalg.matrix_rank(matrix[:, rest]) if rest else 0
        if rank < full:
            return frozenset(group)
    return None


def test_the_attacker_model_finds_subtractions_and_two_person_differences():
    # Sanity check of the oracle itself, so the property below cannot pass by looking at nothing.
    assert {5} <= _smallest_exposed_group({frozenset(range(6)), frozenset(range(5))}, 6, 5)
    assert _smallest_exposed_group({frozenset(range(6)), frozenset({0, 1, 2, 3, 6})}, 7, 5) is not None
    assert _smallest_exposed_group({frozenset(range(6)), frozenset(range(6, 12))}, 12, 5) is None
    assert _smallest_exposed_group({frozenset(range(3))}, 3, 5) is not None


@settings(max_examples=200, deadline=None)
@given(
    people=st.lists(person, min_size=3, max_size=14),
    batches=st.lists(batch, min_size=1, max_size=6),
    k=st.integers(min_value=3, max_value=5),
)
def test_no_combination_of_outlets_breakdowns_and_runs_reveals_fewer_than_the_minimum(people, batches, k):
    people = list(people)
    ledger = Ledger()
    released: set[frozenset[int]] = set()  # what the attacker holds: which answer sets each release summed
    for _outlet, request, late in batches:
        population = _population(people)
        if isinstance(request, tuple):
            request = breakdown_request(request[0], request[1], population)
        decision = release(ledger, request, population, k)
        assert set(decision.shown) | set(decision.withheld) == set(request)
        for shown_cell in decision.shown:
            members = _members(shown_cell, people)
            assert len(members) >= k, "a shown result has fewer answer sets than the minimum"
            released.add(members)
        ledger = decision.ledger
        people.extend(late)
    exposed = _smallest_exposed_group(released, len(people), k)
    assert exposed is None, f"releases {sorted(map(sorted, released))} single out answer sets {sorted(exposed)}"


@settings(max_examples=60, deadline=None)
@given(people=st.lists(person, min_size=0, max_size=20), k=st.integers(min_value=3, max_value=10))
def test_a_run_with_enough_answers_always_shows_its_total(people, k):
    population = _population(people)
    for run in RUNS:
        n = sum(1 for r, _ in people if r == run)
        assert (release(Ledger(), [Cell.of(run)], population, k).shown == (Cell.of(run),)) == (n >= k)


def test_an_optional_question_is_released_in_its_own_scope():
    # 10 respondents, 5 of them in C1. An optional question was answered by 9: all 5 in C1 but only 4 outside.
    respondents = pop(r1=5, r1__C1=5)
    optional = pop(r1=4, r1__C1=5)
    total, c1 = Cell.of("r1"), Cell.of("r1", where=[("channel", "C1")])
    scopes = {"respondents": respondents, "required_q": respondents, "optional_q": optional}
    decisions = release_by_scope({}, [total, c1], scopes, K)
    assert decisions["respondents"].shown == (total, c1)
    assert decisions["required_q"].shown == (total, c1)
    # Shown for everyone, withheld for C1: total minus C1 would be the 4 answers from outside.
    assert decisions["optional_q"].shown == (total,) and decisions["optional_q"].withheld == (c1,)
    # Each scope keeps its own ledger for the next outlet.
    again = release_by_scope({s: d.ledger for s, d in decisions.items()}, [c1], {"optional_q": optional}, K)
    assert again["optional_q"].shown == ()


def _reference_release(ledger: Ledger, requested, population, k):
    """The rule as stated: a new cell holds k and every atom of (ledger + accepted + cell) holds k."""
    accepted = dict(ledger.released)
    shown = []
    for c in requested:
        if not c.runs:
            continue
        if c in accepted:
            shown.append(c)
        elif c.size(population) >= k and is_safe([*accepted, c], population, k):
            accepted[c] = c.size(population)
            shown.append(c)
    return Ledger(accepted), tuple(shown)


@settings(max_examples=200, deadline=None)
@given(
    people=st.lists(person, min_size=3, max_size=30),
    requests=st.lists(st.lists(cell, min_size=1, max_size=6), min_size=1, max_size=4),
    k=st.integers(min_value=3, max_value=6),
)
def test_the_fast_release_decides_exactly_as_the_rule_is_stated(people, requests, k):
    population = _population(people)
    fast, slow = Ledger(), Ledger()
    for request in requests:
        decision = release(fast, request, population, k)
        slow, expected = _reference_release(slow, request, population, k)
        assert decision.shown == expected
        assert decision.ledger == slow
        fast = decision.ledger
