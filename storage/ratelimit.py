"""Shared pacing state: GCRA buckets (`storage.gcra`) as rows updated atomically.

Every instance and thread reserves slots through one conditional `UPDATE … RETURNING` per key (PostgreSQL,
and SQLite ≥ 3.35), the same arithmetic as `pacing.reserve`. The row lock of that UPDATE is held for a
moment only, and because each grant moves the key's TAT on by a full interval, all instances together
stay within the rate however many there are. Keys are strings such as "T123:chat.postMessage" or
"T123:chat.postMessage:D456"; a bucket whose TAT is in the past is the same as no bucket, so old rows
can be pruned at any time.
"""

from __future__ import annotations

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.orm import Session

from storage.db import insert_ignore
from storage.gcra import Rate, ready_at
from storage.models import RateBucket

B = RateBucket.__table__

# Built once: the delivery worker runs this twice per message.
_RESERVE = (
    update(B)
    .where(B.c.key == bindparam("b_key"), B.c.tat - bindparam("b_tol") <= bindparam("b_limit"))
    .values(tat=case((B.c.tat > bindparam("b_now"), B.c.tat), else_=bindparam("b_now")) + bindparam("b_interval"))
    .returning(B.c.tat)
)
_CURRENT = select(B.c.tat).where(B.c.key == bindparam("b_key"))


def _insert_ignore(session: Session, key: str, tat: float) -> None:
    session.execute(insert_ignore(session, B, unique=["key"]).values(key=key, tat=tat))


def reserve(session: Session, key: str, rate: Rate, *, now: float, max_wait: float = 0.0) -> tuple[float | None, float]:
    """Reserve the next slot of `key`: (when the caller may call, or None if that is more than `max_wait`
    away; the earliest time a new reservation can succeed)."""
    params = {"b_key": key, "b_tol": rate.tolerance, "b_limit": now + max_wait, "b_now": now,
              "b_interval": rate.interval}
    for _ in range(5):
        new_tat = session.execute(_RESERVE, params).scalar()
        if new_tat is not None:
            slot = max(now, new_tat - rate.interval - rate.tolerance)
            return slot, slot
        current = session.execute(_CURRENT, {"b_key": key}).scalar()
        if current is None:
            _insert_ignore(session, key, 0.0)  # a new key: create it, then reserve as usual
        elif (ready := ready_at(current, rate, max_wait)) > now:
            return None, ready
        # else: the row appeared (another transaction created it) after the UPDATE looked: try again
    raise RuntimeError(f"rate bucket {key!r} kept changing")  # pragma: no cover


def hold(session: Session, key: str, until: float) -> None:
    """Nobody reserves `key` before `until` (a 429's Retry-After, shared with every instance)."""
    _insert_ignore(session, key, until)
    session.execute(update(B).where(B.c.key == key, B.c.tat < until).values(tat=until))


def prune(session: Session, *, before: float) -> int:
    """Forget buckets idle since `before` (a TAT in the past means "free", exactly like no row)."""
    result = session.execute(delete(B).where(B.c.tat < before))
    return result.rowcount or 0
