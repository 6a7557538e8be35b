"""Shared pacing state: GCRA buckets (`storage.gcra`) as rows updated atomically.

Every instance and thread reserves slots through one conditional `UPDATE … RETURNING` per key (PostgreSQL,
and SQLite ≥ 3.35), the same arithmetic as `pacing.reserve`. The row lock of that UPDATE is held for a
moment only, and because each grant moves the key's TAT on by a full interval, all instances together
stay within the rate however many there are. Keys are strings such as "T123:chat.postMessage" or
"T123:chat.postMessage:D456"; a bucket whose TAT is in the past is the same as no bucket, so old rows
can be pruned at any time — unless it carries a learned rate (`storage.adaptive`): workspace-wide keys
("T123:chat.postMessage") learn the rate Slack really allows from its 429s, and every reservation paces to
that rate, which every instance reads from the same row. Such a row is forgotten only after `FORGET_AFTER`
without use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

from sqlalchemy import Row, and_, bindparam, case, delete, or_, select, update
from sqlalchemy.orm import Session

from storage import adaptive
from storage.adaptive import DEFAULT, Learned, Tuning
from storage.db import insert_ignore, upsert_insert
from storage.gcra import Rate, ready_at
from storage.models import RateBucket

B = RateBucket.__table__
FORGET_AFTER = 86_400.0  # a learned rate unused for a day is forgotten: the next 429 teaches it again

# The interval a reservation moves the TAT by: the learned rate's, never shorter than the configured one.
_INTERVAL = case((1.0 / B.c.rate > bindparam("b_interval"), 1.0 / B.c.rate), else_=bindparam("b_interval"))
_GRANT = {"tat": case((B.c.tat > bindparam("b_now"), B.c.tat), else_=bindparam("b_now")) + _INTERVAL,
          "grants": B.c.grants + 1}
_WITHIN = B.c.tat - bindparam("b_burst1") * _INTERVAL <= bindparam("b_limit")
_CURRENT = select(B.c.tat, B.c.rate).where(B.c.key == bindparam("b_key"))
_LEARNED = (B.c.rate, B.c.changed_at, B.c.mark_at, B.c.mark_grants)


@cache
def _reserve(dialect: str) -> Any:
    """One statement per key and message, built once per dialect: a key seen for the first time (each DM's own
    conversation, in a fan-out) is created with its first grant, an existing one granted its next slot if that
    is within reach; no row comes back when it is not. Before, a new key took four statements (the UPDATE that
    found nothing, a look, an INSERT, the UPDATE again)."""
    first = upsert_insert(dialect)(B).values(key=bindparam("b_key"), tat=bindparam("b_now") + bindparam("b_interval"),
                                             grants=1)
    return (first.on_conflict_do_update(index_elements=[B.c.key], set_=_GRANT, where=_WITHIN)
            .returning(B.c.tat, B.c.rate))


def _insert_ignore(session: Session, key: str, tat: float) -> None:
    session.execute(insert_ignore(session, B, unique=["key"]), {"key": key, "tat": tat})


def reserve(session: Session, key: str, rate: Rate, *, now: float, max_wait: float = 0.0) -> tuple[float | None, float]:
    """Reserve the next slot of `key`: (when the caller may call, or None if that is more than `max_wait`
    away; the earliest time a new reservation can succeed)."""
    params = {"b_key": key, "b_burst1": rate.burst - 1, "b_limit": now + max_wait, "b_now": now,
              "b_interval": rate.interval}
    statement = _reserve(session.get_bind().dialect.name)
    for _ in range(5):
        granted = session.execute(statement, params).first()
        if granted is not None:
            paced = _paced(rate, granted.rate)
            slot = max(now, granted.tat - paced.interval - paced.tolerance)
            return slot, slot
        current = session.execute(_CURRENT, {"b_key": key}).first()
        if current is not None and (ready := ready_at(current.tat, _paced(rate, current.rate), max_wait)) > now:
            return None, ready
        # else: the row changed (or went: pruned) between the two statements: try again
    raise RuntimeError(f"rate bucket {key!r} kept changing")  # pragma: no cover


def _paced(rate: Rate, learned: float | None) -> Rate:
    """The configured rate, slowed to the learned one (per second) if there is one."""
    if learned is None or learned * rate.per >= rate.count:
        return rate
    return replace(rate, count=learned * rate.per)


def hold(session: Session, key: str, until: float, rate: Rate | None = None) -> None:
    """Nobody reserves `key` before `until` (a 429's Retry-After, shared with every instance); with `rate`,
    its burst does not start before then either."""
    tat = until + (rate.tolerance if rate else 0.0)
    _insert_ignore(session, key, tat)
    session.execute(update(B).where(B.c.key == key, B.c.tat < tat).values(tat=tat))


def limited(session: Session, key: str, rate: Rate, *, now: float, hold_for: float,
            tuning: Tuning = DEFAULT) -> float | None:
    """Slack answered 429 for `key` (Retry-After `hold_for`): hold it for every instance and learn from it.
    Returns the new learned rate (per second) when this 429 changed it, else None."""
    _insert_ignore(session, key, 0.0)
    row = session.execute(select(*_LEARNED, B.c.grants).where(B.c.key == key).with_for_update()).one()
    new = adaptive.on_limited(_learned(row), now=now, hold=hold_for, grants=row.grants,
                              ceiling=rate.per_second, tuning=tuning)
    if new is not None:
        _store(session, key, new)
    hold(session, key, now + hold_for, _paced(rate, (new or _learned(row)).rate))
    return adaptive.current(new, rate.per_second) if new else None


def raise_quiet(session: Session, ceiling: Callable[[str], Rate], *, now: float,
                tuning: Tuning = DEFAULT) -> dict[str, float | None]:
    """Raise every learned rate that drew no 429 for `tuning.quiet` seconds; {key: new rate or None (back
    at the ceiling)}."""
    rows = session.execute(select(B.c.key, *_LEARNED).where(B.c.rate.is_not(None),
                                                             B.c.changed_at <= now - tuning.quiet)
                           .with_for_update(skip_locked=True)).all()
    raised: dict[str, float | None] = {}
    for row in rows:
        new = adaptive.on_quiet(_learned(row), now=now, ceiling=ceiling(row.key).per_second, tuning=tuning)
        if new is not None:
            _store(session, row.key, new)
            raised[row.key] = new.rate
    return raised


def learned_rates(session: Session, prefix: str = "") -> dict[str, float]:
    """{key: learned calls per second} of the buckets whose key starts with `prefix` (e.g. "T123:")."""
    stmt = select(B.c.key, B.c.rate).where(B.c.rate.is_not(None))
    if prefix:
        stmt = stmt.where(B.c.key.startswith(prefix, autoescape=True))
    return {k: r for k, r in session.execute(stmt)}


def _learned(row: Row[Any]) -> Learned:
    return Learned(rate=row.rate, changed_at=row.changed_at or 0.0, mark_at=row.mark_at,
                   mark_grants=row.mark_grants or 0)


def _store(session: Session, key: str, learned: Learned) -> None:
    session.execute(update(B).where(B.c.key == key).values(
        rate=learned.rate, changed_at=learned.changed_at, mark_at=learned.mark_at, mark_grants=learned.mark_grants))


def prune(session: Session, *, before: float, forget_before: float | None = None) -> int:
    """Forget buckets idle since `before` (a TAT in the past means "free", exactly like no row); one with a
    learned rate only once it is also unchanged since `forget_before` (default: `before` - FORGET_AFTER)."""
    forget = before - FORGET_AFTER if forget_before is None else forget_before
    result = session.execute(delete(B).where(B.c.tat < before, or_(
        B.c.rate.is_(None), and_(B.c.changed_at < forget, B.c.tat < forget))))
    return result.rowcount or 0
