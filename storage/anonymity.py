"""Primitives for rows that must not be linked to a person (survey answers, anonymous reports).

The adversary holds a database dump, every log line and the archive (docs/privacy.md). Such a reader links a
person to content through ids that count up, timestamps fine enough to line up with a participation row or a
log line, and the physical order rows were written in. These helpers remove the three: random ids, dates
rounded down to the day, and batches shuffled before they are written. Pure: no database, no Slack.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TypeVar

T = TypeVar("T")

OPAQUE_ID_BYTES = 16  # 128 random bits: collisions are out of reach, guessing one is hopeless
_rng = random.SystemRandom()  # an unseeded OS source: an order that cannot be replayed from a seed


def opaque_id() -> str:
    """A random, URL-safe id (22 characters) that says nothing about when or by whom a row was written."""
    return secrets.token_urlsafe(OPAQUE_ID_BYTES)


def day_of(moment: datetime) -> date:
    """The UTC calendar day of an aware `moment`: the finest time an anonymous row may carry.

    Naive datetimes are refused: guessing their zone could move a row to the neighbouring day.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("day_of needs an aware datetime")
    return moment.astimezone(UTC).date()


def today() -> date:
    return day_of(datetime.now(UTC))


def shuffled(rows: Iterable[T]) -> list[T]:
    """`rows` in a fresh random order, so insertion order (and any autoincrement or physical position)
    no longer follows the order people answered in. Write the whole batch at once, after the window closes."""
    out = list(rows)
    _rng.shuffle(out)
    return out
