"""Results from aggregated counts: distribution, mean, favourable share, the belonging index and trends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveys.loader import builtin_instrument, parse_instrument
from surveys.results import change, summarize

BELONGING = builtin_instrument("belonging")
MIXED = parse_instrument(
    """\
name: mixed
title: Mixed
questions:
  - {id: agree, kind: agreement, text: I agree., index: true}
  - {id: pick, kind: choice, text: Pick one., options: [a, b, c]}
  - {id: nps, kind: scale, text: "0 to 10?", required: false}
  - {id: note, kind: text, text: "Anything?"}
""",
    "mixed.yml",
)


def uniform(instrument, value: int, n: int) -> dict[tuple[str, int], int]:
    return {(q.id, value): n for q in instrument.counted}


def test_per_statement_mean_distribution_and_favourable_share():
    counts = {("agree", 1): 1, ("agree", 3): 2, ("agree", 4): 3, ("agree", 5): 4, ("pick", 2): 10, ("nps", 9): 5, ("nps", 10): 1}
    result = summarize(MIXED, 10, counts)
    assert result is not None
    agree = result.question("agree")
    assert agree.distribution == ((1, 1), (2, 0), (3, 2), (4, 3), (5, 4))
    assert agree.answered == 10 and agree.mean == pytest.approx(3.9) and agree.favourable == pytest.approx(70.0)
    pick = result.question("pick")
    assert pick.mean is None and pick.favourable is None and pick.count(2) == 10 and pick.count(0) == 0
    nps = result.question("nps")
    assert nps.answered == 6 and nps.mean == pytest.approx(55 / 6) and nps.favourable is None
    assert len(nps.distribution) == 11
    assert result.index == pytest.approx(70.0)
    assert [q.question_id for q in result.questions] == ["agree", "pick", "nps"]  # free text is never counted


def test_nothing_below_the_minimum_and_optional_questions_answered_by_too_few_are_withheld():
    assert summarize(BELONGING, 4, uniform(BELONGING, 4, 4)) is None
    assert summarize(BELONGING, 5, uniform(BELONGING, 4, 5), min_responses=6) is None
    counts = {("agree", 4): 5, ("pick", 0): 5, ("nps", 7): 4}
    result = summarize(MIXED, 5, counts)
    assert result is not None and result.withheld == ("nps",) and result.question("nps") is None


def test_the_belonging_index_is_the_mean_favourable_share_of_the_index_statements():
    counts = uniform(BELONGING, 5, 10)
    ids = [q.id for q in BELONGING.index_questions]
    assert len(ids) == 8
    # Half of the statements: everyone agrees; the other half: 4 of 10 agree.
    for qid in ids[4:]:
        counts[(qid, 5)] = 4
        counts[(qid, 2)] = 6
    result = summarize(BELONGING, 10, counts)
    assert result is not None and result.index == pytest.approx((4 * 100 + 4 * 40) / 8)
    assert 0 <= result.index <= 100


def test_change_from_the_previous_run():
    before = summarize(BELONGING, 10, uniform(BELONGING, 3, 10))
    after = summarize(BELONGING, 8, uniform(BELONGING, 4, 8))
    delta = change(after, before)
    assert delta is not None and delta.index == pytest.approx(100.0)
    first = delta.questions[0]
    assert first.question_id == "belong" and first.mean == pytest.approx(1.0) and first.favourable == pytest.approx(100.0)
    assert change(after, None) is None
    assert change(after, summarize(MIXED, 5, {("agree", 4): 5})) is None  # another survey is no baseline


def test_impossible_counts_are_refused_not_guessed():
    with pytest.raises(ValueError, match="does not count"):
        summarize(MIXED, 5, {("ghost", 1): 5})
    with pytest.raises(ValueError, match="cannot have the value"):
        summarize(MIXED, 5, {("agree", 6): 5})
    with pytest.raises(ValueError, match="does not count: 'note'"):  # free text is never counted
        summarize(MIXED, 5, {("note", 1): 5})
    with pytest.raises(ValueError, match="more answers than respondents"):
        summarize(MIXED, 5, {("agree", 4): 6})
    with pytest.raises(ValueError, match="negative"):
        summarize(MIXED, 5, {("agree", 4): -1})


@given(st.lists(st.integers(min_value=0, max_value=30), min_size=5, max_size=5), st.integers(min_value=3, max_value=10))
def test_statistics_stay_in_range_and_appear_exactly_at_the_minimum(per_value, minimum):
    n = sum(per_value)
    counts = {("agree", v): c for v, c in zip(range(1, 6), per_value, strict=True)}
    counts |= {("pick", 0): n}
    result = summarize(MIXED, n, counts, min_responses=minimum)
    assert (result is not None) == (n >= minimum)
    if result is not None:
        agree = result.question("agree")
        assert 1 <= agree.mean <= 5 and 0 <= agree.favourable <= 100 and result.index == agree.favourable
        assert sum(c for _, c in agree.distribution) == n


def test_only_the_questions_the_disclosure_rules_accept_are_shown():
    counts = {("agree", 4): 6, ("pick", 0): 6, ("nps", 7): 6}
    result = summarize(MIXED, 6, counts, only={"agree", "pick"})
    assert result is not None and [q.question_id for q in result.questions] == ["agree", "pick"] and result.withheld == ("nps",)
    assert summarize(MIXED, 6, counts, only=set()).index is None
