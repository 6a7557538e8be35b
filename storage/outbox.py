"""The outbox: every message a workflow causes, stored with the change that caused it, sent by the worker.

Workflows call `enqueue` (or `enqueue_many`) INSIDE their own `db.session()` transaction, so the change
and the messages it causes commit or roll back together:

    with db.session() as session:
        round_ = open_round(session, program)                       # the state change
        for member in members:
            outbox.enqueue(session, team_id=program.team_id, kind="checkin.prompt", target=member.user_id,
                           payload={"text": "…", "blocks": [...]},
                           dedupe_key=outbox.key("checkin", round_.id, member.user_id, "prompt"))

A dedupe key names one message of one campaign to one recipient at one step; enqueueing the same key
again is ignored (insert-or-ignore), so a job or handler that runs twice causes each message once.

`target`: a conversation id (C…, G…, D…); a user id (U…/W…) for a DM; or a list of 2–8 user ids for a
group DM, which the worker opens first.

`payload` (JSON):
    text         str, required — the message (and notification) text
    blocks       list, optional — Block Kit blocks
    thread_ts    str, optional — reply in this thread of the target conversation
    thread_of    str, optional — reply in the thread of the message another row (this dedupe key, same team)
                 sent, once that row is sent; its conversation is used. Name a top-level message.
    update_of    str, optional — instead of posting, chat.update the message another row sent

The rest of this module is the worker's side: claims with leases (FOR UPDATE SKIP LOCKED on
PostgreSQL), fenced state changes (each one only succeeds while the caller still holds the row's lease),
and the operators' views (status counts, failed rows, retry).

At rest (the adversary holds a database dump, see docs/privacy.md): the payload of an unsent row is
encrypted with the database's key (`Database.crypto`), and dropped once sent; the dedupe key is stored as an
opaque keyed hash of the caller's key (`storage.opaque`), and that hash is also what Slack's message metadata
carries, so neither shows whom a message was for. Callers keep using readable keys (`key(...)`, `find`).

Sensitive messages (`enqueue_sensitive`: anonymous surveys, reports) also store their recipient encrypted,
and their row is deleted as soon as Slack confirms delivery: no trace of who received what remains. Their
dedupe guarantee therefore lasts until delivery; the caller's own state must say "already sent" after that.
A failed row's payload is erased after a retention period (`expire_failed`, run by housekeeping).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, case, delete, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

from storage.crypto import Crypto, looks_encrypted
from storage.db import insert_ignore
from storage.models import OutboxMessage, utcnow
from storage.opaque import cipher, hasher, opaque

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
STATUSES = (PENDING, SENDING, SENT, FAILED)
UNFINISHED = (PENDING, SENDING)
MAX_GROUP_DM = 8

T = OutboxMessage
TT = OutboxMessage.__table__  # Core statements on the hot path: no ORM bookkeeping per row
C = TT.c


def key(*parts: object) -> str:
    """A dedupe key from its parts, e.g. key("checkin", round_id, user_id, "prompt"). It may name people:
    the outbox stores and sends only its keyed hash (`stored_key`)."""
    text = ":".join(str(p) for p in parts)
    if not text or len(text) > 200:
        raise ValueError("a dedupe key is 1 to 200 characters")
    return text


@dataclass(frozen=True)
class OutboxRow:
    """A snapshot of one outbox row (what the worker and the operators' commands work with)."""

    id: int
    team_id: str
    kind: str
    target: str
    payload: dict                   # decrypted; {} once sent or erased
    dedupe_key: str                 # as stored: the opaque hash (what Slack's message metadata carries)
    status: str
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    sent_channel: str | None
    sent_ts: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    sensitive: bool = False         # recipient stored encrypted; the row is deleted once delivered


_COLUMNS = [getattr(T, f.name) for f in fields(OutboxRow)]
_CORE_COLUMNS = [TT.c[f.name] for f in fields(OutboxRow)]


def _row(r: Any, session: Session) -> OutboxRow:
    values = dict(r._mapping) if hasattr(r, "_mapping") else {f.name: getattr(r, f.name) for f in fields(OutboxRow)}
    for name in ("next_attempt_at", "lease_until", "created_at", "sent_at"):
        values[name] = aware(values[name])
    values["payload"] = _open_payload(session, values["payload"])
    values["sensitive"] = bool(values["sensitive"])
    if values["sensitive"]:
        values["target"] = cipher(session).decrypt(values["target"])
    return OutboxRow(**{f.name: values[f.name] for f in fields(OutboxRow)})


def stored_key(session: Session, dedupe_key: str) -> str:
    """The opaque form of a dedupe key, as the row stores it and Slack's message metadata carries it."""
    return opaque(session, dedupe_key)


def _open_payload(session: Session, value: Any) -> dict:
    if isinstance(value, dict):  # a JSON column's value (before migration 0005)
        return value
    if not value:
        return {}
    if looks_encrypted(value):
        return json.loads(cipher(session).decrypt(value))
    return json.loads(value)  # written in plain JSON before 0005: read it; `hearth keys rotate` seals it


def aware(dt: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every time Hearth stores is UTC."""
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


# ---- what workflows call ----------------------------------------------------------------------------------

def enqueue(session: Session, *, team_id: str, kind: str, target: str | Sequence[str], payload: dict,
            dedupe_key: str, not_before: datetime | None = None) -> None:
    """Add one message to the outbox in the caller's transaction; a known dedupe key is ignored."""
    enqueue_many(session, [dict(team_id=team_id, kind=kind, target=target, payload=payload,
                                dedupe_key=dedupe_key, not_before=not_before)])


def enqueue_sensitive(session: Session, *, team_id: str, kind: str, recipient: str | Sequence[str], payload: dict,
                      dedupe_key: str, not_before: datetime | None = None) -> bool:
    """Add a message whose recipient must not be recorded: a DM (user id) or group DM (user ids) for anonymous
    surveys, reports and the like. The recipient and payload are stored encrypted, the dedupe key as an
    opaque hash, and the row is deleted once Slack confirms delivery. Returns False for a known dedupe key.

    Build `dedupe_key` and the words so they do not say who it is for in clear anywhere else either
    (e.g. `key("survey", survey_id, user_id, "invite")` is fine: only its keyed hash is kept)."""
    return enqueue_many(session, [dict(team_id=team_id, kind=kind, target=recipient, payload=payload,
                                       dedupe_key=dedupe_key, not_before=not_before, sensitive=True)]) == 1


def enqueue_many(session: Session, messages: Iterable[dict[str, Any]], *, chunk: int = 1000) -> int:
    """Add many messages (dicts of `enqueue`'s arguments) in the caller's transaction.

    Returns how many were new (known dedupe keys are ignored)."""
    now = utcnow()
    crypto, hashed = cipher(session), hasher(session)
    rows = [_validated(session, crypto, hashed, m, now) for m in messages]
    clear = [r.pop("_in_clear") for r in rows]
    added = 0
    # The rows go as parameters of one statement built once, not as `.values(rows)`: a multi-row VALUES clause
    # has no cache key, so SQLAlchemy compiled it again at every enqueue (5 % of a check-in submission's CPU).
    # SQLAlchemy still sends them as multi-row VALUES ("insertmanyvalues"), RETURNING the rows added.
    insert = insert_ignore(session, T.__table__, unique=["team_id", "dedupe_key"], returning=T.id)
    look_up = keys_in_clear_remain(session)
    for start in range(0, len(rows), chunk):
        batch = rows[start:start + chunk]
        if look_up:
            batch = _not_known_in_clear(session, batch, clear[start:start + chunk])
        if batch:
            added += len(session.execute(insert, batch).all())
    return added


# Built once (storage/db.py says why): every message enqueued or looked up runs one of these.
_KEYS_KNOWN = select(C.dedupe_key).where(C.team_id == bindparam("team_id"),
                                         C.dedupe_key.in_(bindparam("keys", expanding=True)))
_KEY_KNOWN = _KEYS_KNOWN.limit(1)
_FIND = (select(*_COLUMNS).where(T.team_id == bindparam("team_id"), T.dedupe_key.in_(bindparam("keys", expanding=True)))
         .order_by(T.id.desc()).limit(1))


_IN_CLEAR = select(C.id).where(C.dedupe_key.not_like("h1.%")).limit(1)  # opaque keys: `storage.crypto.keyed_hash`
_in_clear: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()


def keys_in_clear_remain(session: Session) -> bool:
    """Whether rows written before migration 0005 (their dedupe key in clear) remain: only then do enqueues
    look their keys up, two statements each. Asked once per database and process (a full scan, which
    `build_services` makes at start-up, not a request); it can only turn false, since no key is written in
    clear any more, and a process that saw one keeps looking until it restarts."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    remain = _in_clear.get(engine)
    if remain is None:
        remain = _in_clear[engine] = session.scalar(_IN_CLEAR) is not None
    return remain


def _not_known_in_clear(session: Session, rows: list[dict[str, Any]], clear: list[str]) -> list[dict[str, Any]]:
    """Drop rows whose key (`clear`, each row's) a row written before migration 0005 holds in clear: the
    unique constraint only sees the opaque form."""
    older = {(r["team_id"], key): i for i, (r, key) in enumerate(zip(rows, clear, strict=True))}
    known: set[int] = set()
    for team in {t for t, _ in older}:  # (team_id, dedupe_key) is the unique index: look up through it
        keys = [k for t, k in older if t == team]
        for k in session.scalars(_KEYS_KNOWN, {"team_id": team, "keys": keys}):
            known.add(older[(team, k)])
    return [r for i, r in enumerate(rows) if i not in known]


def _validated(session: Session, crypto: Crypto, hashed: Callable[[str], str], m: dict[str, Any], now: datetime,
               ) -> dict[str, Any]:
    team_id, kind, dedupe_key, payload = m["team_id"], m["kind"], m["dedupe_key"], m["payload"]
    target = m["target"]
    if not (team_id and kind and dedupe_key) or len(dedupe_key) > 200 or len(kind) > 64:
        raise ValueError("team_id, kind (≤ 64) and dedupe_key (≤ 200) are required")
    if not isinstance(target, str):
        people = sorted(set(target))
        if not 1 <= len(people) <= MAX_GROUP_DM or not all(isinstance(u, str) and u for u in people):
            raise ValueError("a group DM target is 1 to 8 user ids")
        target = ",".join(people)
    if not target:
        raise ValueError("target is required")
    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str) or not payload["text"]:
        raise ValueError("payload needs a non-empty text (Slack's fallback and notification text)")
    if "blocks" in payload and payload["blocks"] is not None and not isinstance(payload["blocks"], list):
        raise ValueError("payload blocks must be a list")
    if payload.get("thread_of") and payload.get("update_of"):
        raise ValueError("a message either replies in a thread (thread_of) or updates one (update_of)")
    not_before = m.get("not_before")
    if not_before is not None and not_before.tzinfo is None:
        raise ValueError("not_before must be timezone-aware")
    sensitive = bool(m.get("sensitive"))
    if sensitive and (target[0] not in "UW"):
        raise ValueError("a sensitive message goes to people (user ids), not to a channel")
    for ref in ("thread_of", "update_of"):  # rows name their parent by its stored (opaque) key
        if payload.get(ref):
            payload = {**payload, ref: _stored_ref(session, team_id, payload[ref])}
    return dict(team_id=team_id, kind=kind, target=crypto.encrypt(target) if sensitive else target,
                payload=crypto.encrypt(json.dumps(payload, separators=(",", ":"))), dedupe_key=hashed(dedupe_key),
                sensitive=sensitive, status=PENDING, attempts=0, created_at=now,
                next_attempt_at=not_before.astimezone(UTC) if not_before else now,
                _in_clear=dedupe_key)


def _stored_ref(session: Session, team_id: str, ref: str) -> str:
    hashed = opaque(session, ref)
    if not keys_in_clear_remain(session):
        return hashed
    parent = session.scalar(_KEY_KNOWN, {"team_id": team_id, "keys": [hashed, ref]})
    return parent or hashed  # a parent written before 0005 is named by its key in clear


def exists(session: Session, team_id: str, dedupe_key: str) -> bool:
    """Whether a message of this dedupe key was queued (and its row kept): `find` without reading, or
    decrypting, the message."""
    forms = [opaque(session, dedupe_key), dedupe_key]  # the key in clear: rows written before 0005
    return session.scalar(_KEY_KNOWN, {"team_id": team_id, "keys": forms}) is not None


def find(session: Session, team_id: str, dedupe_key: str) -> OutboxRow | None:
    """The row of a dedupe key (e.g. to read the channel and ts a message was sent as). A delivered
    sensitive message has no row any more."""
    forms = [opaque(session, dedupe_key), dedupe_key]  # the key in clear: rows written before 0005
    r = session.execute(_FIND, {"team_id": team_id, "keys": forms}).first()
    return _row(r, session) if r else None


def rows(session: Session, *, team_id: str | None = None, kind: str | None = None) -> list[OutboxRow]:
    """Every row (of a team, of a kind), oldest first, decrypted: what tests and diagnostics read."""
    stmt = select(*_COLUMNS).where(*_filters(team_id, kind)).order_by(T.id)
    return [_row(r, session) for r in session.execute(stmt)]


def find_stored(session: Session, team_id: str, stored: str) -> OutboxRow | None:
    """The row of a stored (opaque) dedupe key, as rows name their parents (`thread_of`, `update_of`)."""
    r = session.execute(select(*_COLUMNS).where(T.team_id == team_id, T.dedupe_key == stored)).first()
    return _row(r, session) if r else None


# ---- the worker's side --------------------------------------------------------------------------------

def claim(session: Session, *, worker_id: str, limit: int, lease: float, now: datetime | None = None,
          exclude_teams: Sequence[str] = ()) -> list[OutboxRow]:
    """Lease up to `limit` due rows to `worker_id`: pending rows whose time has come, and `sending` rows
    whose lease expired (their worker died or gave up unsure: they are reconciled before any resend).

    PostgreSQL: the rows are picked with FOR UPDATE SKIP LOCKED, so concurrent claimers never pick the
    same row and never wait for each other; SQLite: one UPDATE, which SQLite serialises."""
    now = now or utcnow()
    due = (
        select(C.id)
        .where(C.status.in_(UNFINISHED), C.next_attempt_at <= now,
               or_(C.lease_until.is_(None), C.lease_until <= now))
        .order_by(C.next_attempt_at, C.id)
        .limit(limit)
    )
    if exclude_teams:  # workspaces this worker knows are held back (a 429's Retry-After)
        due = due.where(C.team_id.not_in(list(exclude_teams)))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(TT)
        .where(C.id.in_(due.scalar_subquery()))
        .values(lease_owner=worker_id, lease_until=now + timedelta(seconds=lease))
        .returning(*_CORE_COLUMNS)
    )
    rows = [_row(r, session) for r in session.execute(stmt)]
    return sorted(rows, key=lambda r: (r.next_attempt_at, r.id))


def _fenced(session: Session, row_id: int, worker_id: str, statuses: Sequence[str], **values: Any) -> bool:
    """Change a row only while `worker_id` still holds its lease (and it is in one of `statuses`)."""
    fence = {"f_id": row_id, "f_owner": worker_id}
    if any(isinstance(value, ClauseElement) for value in values.values()):  # `attempts + 1`: built as it comes
        result = session.execute(_fence(tuple(statuses)).values(**values), fence)
    else:
        result = session.execute(_fenced_update(tuple(statuses), tuple(sorted(values))),
                                 {**fence, **{f"v_{name}": value for name, value in values.items()}})
    return result.rowcount == 1


@cache
def _fence(statuses: tuple[str, ...]) -> Any:
    return update(TT).where(C.id == bindparam("f_id"), C.lease_owner == bindparam("f_owner"), C.status.in_(statuses))


@cache
def _fenced_update(statuses: tuple[str, ...], names: tuple[str, ...]) -> Any:
    """Each message's steps (`sending`, `sent`, …) as statements built once: building one and computing its
    cache key was about a fifth of the delivery worker's CPU per message."""
    return _fence(statuses).values({name: bindparam(f"v_{name}") for name in names})


def begin_send(session: Session, row_id: int, worker_id: str, *, lease: float, channel: str | None = None,
               now: datetime | None = None) -> bool:
    """Mark the row `sending` (to be committed BEFORE the Slack call); False if the lease was lost."""
    now = now or utcnow()
    values: dict[str, Any] = {"status": SENDING, "lease_until": now + timedelta(seconds=lease)}
    if channel:
        values["sent_channel"] = channel
    return _fenced(session, row_id, worker_id, UNFINISHED, **values)


def record_channel(session: Session, row_id: int, worker_id: str, channel: str) -> bool:
    """Remember the conversation a group DM was opened as, before anything is posted into it."""
    return _fenced(session, row_id, worker_id, UNFINISHED, sent_channel=channel)


def mark_sent(session: Session, row_id: int, worker_id: str, *, channel: str, ts: str,
              now: datetime | None = None, sensitive: bool | None = None) -> bool:
    """Record where the message went. Its words are dropped: Slack holds them now, and the outbox must not
    become a second copy of what members wrote (the key, channel and ts are all later steps need).
    A sensitive row is deleted instead: nothing is left that says who received it. (`sensitive`: the
    caller knows which the row is, saving a statement; None checks both.)"""
    if sensitive is not False:
        gone = session.execute(delete(TT).where(C.id == row_id, C.lease_owner == worker_id, C.status == SENDING,
                                                C.sensitive.is_(True)))
        if gone.rowcount == 1 or sensitive:
            return gone.rowcount == 1
    return _fenced(session, row_id, worker_id, (SENDING,), status=SENT, sent_channel=channel, sent_ts=ts,
                   sent_at=now or utcnow(), lease_owner=None, lease_until=None, last_error=None, payload="")


def drop(session: Session, row_id: int, worker_id: str) -> bool:
    """Delete a row that must not be sent after all (its recipient turned out to be a bot or a deactivated
    account); False if the lease was lost."""
    gone = session.execute(delete(TT).where(C.id == row_id, C.lease_owner == worker_id, C.status.in_(UNFINISHED)))
    return gone.rowcount == 1


def mark_failed(session: Session, row_id: int, worker_id: str, error: str, *, attempts_used: int = 0,
                now: datetime | None = None) -> bool:
    """A permanent failure: kept, with Slack's error code, for admins to see (and retry once fixed).
    `next_attempt_at` records when it failed, which starts its retention period (`expire_failed`)."""
    return _fenced(session, row_id, worker_id, UNFINISHED, status=FAILED, last_error=error[:64],
                   attempts=C.attempts + attempts_used, lease_owner=None, lease_until=None,
                   next_attempt_at=now or utcnow())


def expire_failed(session: Session, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Erase what failed rows still hold once they have been failed for `older_than`: the payload of an
    ordinary row (its kind, error and target stay for admins; it can no longer be retried), and a sensitive
    row altogether. Returns how many rows were erased or deleted."""
    cutoff = (now or utcnow()) - older_than
    old = [C.status == FAILED, C.next_attempt_at < cutoff]
    deleted = session.execute(delete(TT).where(*old, C.sensitive.is_(True))).rowcount or 0
    erased = session.execute(update(TT).where(*old, C.payload != "").values(payload="")).rowcount or 0
    return deleted + erased


def release(session: Session, row_id: int, worker_id: str, *, at: datetime, error: str | None = None,
            attempts_used: int = 0, uncertain: bool = False) -> bool:
    """Give the row back, to be tried again at `at`.

    `uncertain`: the message may have been delivered (a timeout, a 5xx, a crash): the row stays `sending`
    with no owner and a lease ending at `at`, so whoever claims it next reconciles before resending."""
    values: dict[str, Any] = {"lease_owner": None, "attempts": C.attempts + attempts_used}
    if error:
        values["last_error"] = error[:64]
    if uncertain:
        values.update(status=SENDING, lease_until=at)
    else:
        values.update(status=PENDING, next_attempt_at=at, lease_until=None)
    return _fenced(session, row_id, worker_id, UNFINISHED, **values)


def next_due(session: Session) -> datetime | None:
    """When the earliest unfinished row can next be claimed (None when nothing is left to do)."""
    claimable_at = case((T.lease_until > T.next_attempt_at, T.lease_until), else_=T.next_attempt_at)
    return aware(session.scalar(select(func.min(claimable_at)).where(T.status.in_(UNFINISHED))))


def unfinished(session: Session, team_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(T).where(T.status.in_(UNFINISHED))
    if team_id:
        stmt = stmt.where(T.team_id == team_id)
    return session.scalar(stmt) or 0


def unfinished_by_team(session: Session, team_id: str | None = None) -> dict[str, int]:
    """{team: rows still to send} (what a running fan-out still has to do)."""
    stmt = select(C.team_id, func.count()).where(C.status.in_(UNFINISHED)).group_by(C.team_id)
    if team_id:
        stmt = stmt.where(C.team_id == team_id)
    return {team: n for team, n in session.execute(stmt)}


# ---- operators ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutboxStatus:
    counts: dict[str, int]                  # status -> rows
    oldest_pending: datetime | None         # created_at of the oldest unfinished row
    failed_by_error: dict[str, int]         # Slack error code -> failed rows

    def oldest_pending_age(self, now: datetime | None = None) -> float | None:
        if self.oldest_pending is None:
            return None
        return ((now or utcnow()) - self.oldest_pending).total_seconds()


def status(session: Session, team_id: str | None = None) -> OutboxStatus:
    scope = [T.team_id == team_id] if team_id else []
    counts = {s: 0 for s in STATUSES}
    for st, n in session.execute(select(T.status, func.count()).where(*scope).group_by(T.status)):
        counts[st] = n
    oldest = session.scalar(select(func.min(T.created_at)).where(T.status.in_(UNFINISHED), *scope))
    failed = {err or "unknown": n for err, n in session.execute(
        select(T.last_error, func.count()).where(T.status == FAILED, *scope).group_by(T.last_error))}
    return OutboxStatus(counts, aware(oldest), dict(sorted(failed.items(), key=lambda kv: -kv[1])))


def failed(session: Session, *, team_id: str | None = None, kind: str | None = None, limit: int = 100,
           ) -> list[OutboxRow]:
    """Failed rows, newest first: what admins see (error codes, targets, kinds — the payload stays put)."""
    stmt = select(*_COLUMNS).where(T.status == FAILED, *_filters(team_id, kind)).order_by(T.id.desc()).limit(limit)
    return [_row(r, session) for r in session.execute(stmt)]


def failed_ids(session: Session, *, team_id: str | None = None, kind: str | None = None,
               error: str | None = None) -> list[int]:
    """Failed rows that can still be sent (their payload was not erased by the retention period)."""
    stmt = select(T.id).where(T.status == FAILED, T.payload != "", *_filters(team_id, kind)).order_by(T.id)
    if error:
        stmt = stmt.where(T.last_error == error)
    return list(session.scalars(stmt))


def retry_failed(session: Session, ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Send failed rows again (after an admin fixed the cause): back to pending with a fresh attempt budget."""
    ids = list(ids)
    if not ids:
        return 0
    result = session.execute(
        update(TT).where(C.id.in_(ids), C.status == FAILED, C.payload != "")
        .values(status=PENDING, attempts=0, next_attempt_at=now or utcnow(), lease_owner=None, lease_until=None,
                last_error=None))
    return result.rowcount or 0


def _filters(team_id: str | None, kind: str | None) -> list:
    out = []
    if team_id:
        out.append(T.team_id == team_id)
    if kind:
        out.append(T.kind == kind)
    return out


__all__ = [
    "PENDING", "SENDING", "SENT", "FAILED", "OutboxRow", "OutboxStatus", "key", "enqueue", "enqueue_many",
    "enqueue_sensitive", "stored_key", "cipher", "find", "find_stored", "rows", "expire_failed", "claim", "begin_send",
    "record_channel", "mark_sent", "mark_failed", "release", "next_due", "unfinished",
    "status", "failed", "failed_ids", "retry_failed",
]
