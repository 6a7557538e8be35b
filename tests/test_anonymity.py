"""storage.anonymity: the primitives anonymous rows are built from."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import anonymity


def test_opaque_ids_are_random_url_safe_and_unordered():
    ids = [anonymity.opaque_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)
    # Nothing in an id follows creation order: sorting them does not give the order they were made in.
    assert sorted(ids) != ids


def test_day_of_keeps_only_the_utc_day():
    assert anonymity.day_of(datetime(2026, 3, 29, 23, 59, 59, 999999, tzinfo=UTC)) == date(2026, 3, 29)
    berlin_evening = datetime(2026, 3, 30, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert anonymity.day_of(berlin_evening) == date(2026, 3, 29)
    assert isinstance(anonymity.today(), date) and not isinstance(anonymity.today(), datetime)


def test_day_of_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        anonymity.day_of(datetime(2026, 3, 29, 12, 0))


@given(st.datetimes(timezones=st.just(UTC)))
def test_two_moments_of_one_day_cannot_be_told_apart(moment):
    start = datetime.combine(moment.date(), datetime.min.time(), tzinfo=UTC)
    assert anonymity.day_of(moment) == anonymity.day_of(start)


@given(st.lists(st.integers()))
def test_shuffled_keeps_every_row(rows):
    assert sorted(anonymity.shuffled(rows)) == sorted(rows)


def test_shuffled_does_not_keep_the_order_rows_came_in():
    rows = list(range(50))
    orders = {tuple(anonymity.shuffled(rows)) for _ in range(20)}
    assert len(orders) > 1  # a fresh order each time, not one fixed permutation
    # Position carries no information: the first answer lands anywhere.
    firsts = {anonymity.shuffled(rows).index(0) for _ in range(200)}
    assert len(firsts) > 25


def test_shuffled_accepts_any_iterable_and_leaves_the_input_alone():
    rows = [1, 2, 3]
    assert sorted(anonymity.shuffled(iter(rows))) == rows
    assert rows == [1, 2, 3]
