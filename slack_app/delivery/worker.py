"""The delivery worker: sends outbox rows to Slack, paced, retried and reconciled. Never in a request.

Per row: claim (a lease) → work out the conversation (open a group DM first; wait for a parent row's
ts when replying in its thread) → reserve pacing slots (per conversation and workspace-wide, shared by
every instance through the database) → mark the row `sending` and COMMIT → call Slack with message
metadata carrying the row's dedupe key → mark it `sent` with the channel and ts Slack answered.

A row found `sending` when claimed was being sent when its worker died, or got an answer that leaves
delivery uncertain (timeout, reset connection, 5xx): before anything is sent again it is reconciled —
the conversation's history since the row was created is searched for a message whose metadata carries
the key (for a DM addressed by user id, conversations.open finds the DM first); found → `sent`, else it
is sent again. See docs/delivery.md for the guarantee and its limits.

Errors: 429 → the workspace bucket of that method is held until Retry-After (for every instance), the
rate it paces to is lowered to what Slack really allows (`storage.adaptive`: learned, shared through the
bucket row, raised again after a long quiet stretch), and the row waits without using an attempt;
connection errors and 5xx → backoff with jitter, at most `max_attempts`, then `failed`; permanent errors
(user_not_found, is_archived, …) → `failed` at once.

A DM whose payload says `resolve_user` goes to someone whose profile Hearth did not know when the row was
written (a fan-out that started without looking anyone up): the worker reads the profile from the database
or asks Slack (users.info, paced) as the row's turn comes, keeps it, and drops the row for a bot or a
deactivated account. A group DM with the flag is opened with only its members who are people; the payload
may carry the words for each smaller group (`regroup`, keyed by its sorted comma-joined ids) and a note for
a member left alone (`alone`); with no one, or one and no note, the row is dropped.

Logs carry row ids, team ids, kinds, error codes, counts and latencies only — never text or payloads.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import NoReturn

from slack_app import roster
from slack_app.delivery import rules
from slack_app.delivery.pacing import SlackLimits
from slack_app.delivery.rules import Verdict
from slack_app.slack_port import HistoryMessage, PortFactory, Posted, SlackError, SlackPort
from storage import members, outbox, ratelimit
from storage.adaptive import Tuning
from storage.db import Database
from storage.gcra import Rate
from storage.outbox import FAILED, SENDING, SENT, OutboxRow

log = logging.getLogger("hearth.delivery")

EVENT_TYPE = "hearth_delivery"
RESOLVE_USER = "resolve_user"  # payload flag: the recipient's profile was unknown when the row was written
REGROUP = "regroup"  # group DM payloads: {"U1,U2": payload} for the group less members who are not people
ALONE = "alone"  # group DM payloads: the payload for the one member left when the others are not people


def resolving(payload: dict, unknown: bool) -> dict:
    """`payload`, flagged so the worker checks who its recipient is first when their profile is `unknown`."""
    return {**payload, RESOLVE_USER: True} if unknown else payload


def delivery_metadata(dedupe_key: str) -> dict:
    """The message metadata that lets reconciliation recognise a delivered row in history."""
    return {"event_type": EVENT_TYPE, "event_payload": {"key": dedupe_key}}


def delivered_key(message: HistoryMessage) -> str | None:
    meta = message.metadata or {}
    if meta.get("event_type") != EVENT_TYPE:
        return None
    key = (meta.get("event_payload") or {}).get("key")
    return key if isinstance(key, str) else None


@dataclass(frozen=True)
class WorkerOptions:
    threads: int = 4              # sending loops per worker; each has at most one reserved slot at a time
    batch: int = 8                # rows a loop claims at once
    claim_lease: float = 60.0     # how long claimed rows stay with a loop before others may take them
    send_lease: float = 60.0      # how long a `sending` row is left alone; must exceed the HTTP timeout
    max_attempts: int = 8         # transient failures before a row is failed
    poll_interval: float = 1.0    # idle wait between claims (jittered)
    max_wait: float = 2.0         # longest a loop waits for a reserved slot; further away → row deferred
    settle: float = 10.0          # minimum wait before reconciling a row whose delivery is uncertain
    history_pages: int = 5        # history pages searched when reconciling (×200 messages)
    history_margin: float = 300.0  # search from this long before the row was created (clock skew)
    backoff_base: float = 2.0
    backoff_cap: float = 600.0
    default_retry_after: float = 5.0
    limits: SlackLimits = field(default_factory=SlackLimits)
    adaptive: Tuning | None = field(default_factory=Tuning)  # how workspace-wide rates learn; None: fixed


@dataclass
class WorkerStats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    rate_limited: int = 0
    deferred: int = 0
    skipped: int = 0             # dropped: the recipient turned out to be a bot or a deactivated account
    reconciled: int = 0          # found already delivered by reconciliation
    resent: int = 0              # reconciled, not found, sent again
    lost_lease: int = 0
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


class _Done(Exception):
    """The row was settled (sent, failed, released or deferred): stop working on it."""


class _LeaseLost(Exception):
    pass


class _Refused(Exception):
    def __init__(self, ready: float, scope: str, key: str, interval: float) -> None:
        self.ready = ready
        self.scope = scope  # "channel" or "workspace"
        self.key = key
        self.interval = interval


def new_worker_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}"


class DeliveryWorker:
    def __init__(self, db: Database, port_for_team: PortFactory, *, worker_id: str | None = None,
                 options: WorkerOptions | None = None, clock: Callable[[], float] = time.time,
                 rand: random.Random | None = None) -> None:
        self.db = db
        self.ports = port_for_team
        self.id = worker_id or new_worker_id()
        self.o = options or WorkerOptions()
        self.clock = clock
        self.rand = rand or random.Random()
        self.stats = WorkerStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._blocked: dict[str, float] = {}  # team -> until (a workspace-wide hold seen by this worker)
        self._blocked_lock = threading.Lock()
        self._in_line: dict[str, float] = {}  # channel bucket -> when the next row this worker defers may try
        self._last_housekeeping = 0.0
        self._last_adapt = 0.0

    # ---- life cycle ----------------------------------------------------------------------------------

    def start(self) -> DeliveryWorker:
        self._stop.clear()
        for i in range(self.o.threads):
            t = threading.Thread(target=self._loop, args=(i,), name=f"hearth-delivery-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("delivery.started worker=%s threads=%d", self.id, self.o.threads)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        log.info("delivery.stopped worker=%s %s", self.id, _fmt(self.stats.snapshot()))

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _loop(self, index: int) -> None:
        while not self._stop.is_set():
            try:
                claimed = self.run_once()
                if index == 0:
                    self._adapt()
                    self._housekeeping()
            except Exception as exc:  # the database went away, …: wait and try again
                claimed = 0
                self.stats.add("errors")
                log.warning("delivery.loop_error worker=%s error=%s", self.id, type(exc).__name__)
            if not claimed:
                self._stop.wait(self.o.poll_interval * (0.5 + self.rand.random()))

    # ---- one round -----------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim up to `batch` due rows and work through them; returns how many were claimed."""
        now = self.clock()
        with self.db.session() as session:
            rows = outbox.claim(session, worker_id=self.id, limit=self.o.batch, lease=self.o.claim_lease,
                                now=_dt(now), exclude_teams=self._blocked_teams(now))
        for i, row in enumerate(rows):
            if self._stop.is_set() and self._threads:
                self._give_back(rows[i:])  # stopping: let the next worker take them at once
                break
            self.process(row)
        return len(rows)

    def drain(self, timeout: float = 60.0) -> dict[str, int]:
        """Work in the calling thread until no row is pending or sending (tests, `hearth worker --drain`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_once():
                continue
            with self.db.session() as session:
                due = outbox.next_due(session)
            if due is None:
                return self.stats.snapshot()
            time.sleep(min(max(0.005, due.timestamp() - self.clock()), 0.25, max(0.0, deadline - time.monotonic())))
        raise TimeoutError(f"outbox not drained within {timeout:.0f} s: {_fmt(self.stats.snapshot())}")

    def process(self, row: OutboxRow) -> None:
        started = time.perf_counter()
        try:
            with self._blocked_lock:
                until = self._blocked.get(row.team_id, 0.0)
            if until > (now := self.clock()):  # claimed before its workspace was held back: into the line
                at = self._in_line_for(f"{row.team_id}:chat.postMessage", until, self.o.limits.post_workspace.interval,
                                       now)
                self._release(row, at=at, uncertain=row.status == SENDING, counter="deferred")
            try:
                port = self.ports(row.team_id)
            except Exception as exc:
                log.warning("delivery.no_port id=%s team=%s error=%s", row.id, row.team_id, type(exc).__name__)
                self._fail(row, "not_installed")
            self._deliver(row, port)
        except _Done:
            pass
        except Exception as exc:  # a bug or the database: the row stays leased and comes back after its lease
            self.stats.add("errors")
            log.error("delivery.error id=%s team=%s error=%s", row.id, row.team_id, type(exc).__name__,
                      exc_info=log.isEnabledFor(logging.DEBUG))
        finally:
            log.debug("delivery.row id=%s ms=%.0f", row.id, (time.perf_counter() - started) * 1000)

    # ---- the steps of one row ------------------------------------------------------------------------

    def _deliver(self, row: OutboxRow, port: SlackPort) -> None:
        p = row.payload
        uncertain = row.status == SENDING  # an earlier attempt may have delivered it
        update_of, thread_of = p.get("update_of"), p.get("thread_of")
        parent = self._parent(row, update_of or thread_of, uncertain) if (update_of or thread_of) else None
        channel = parent.sent_channel if parent else row.sent_channel
        thread_ts = parent.sent_ts if thread_of else p.get("thread_ts")

        if uncertain and not update_of:  # chat.update is idempotent: no need to look
            channel = channel or self._conversation(row, port)
            found = self._find_delivered(row, port, channel, thread_ts)
            if found:
                self._mark_sent(row, found, counter="reconciled")
            if row.attempts >= self.o.max_attempts:
                self._fail(row, row.last_error or "unverified")
            self.stats.add("resent")
            uncertain = False  # checked: it is not in Slack, so a deferral from here on leaves it pending

        users = None
        if p.get(RESOLVE_USER) and rules.is_group_target(row.target):  # once opened: from the records only
            users, p = self._regroup(row, port, p, ask=channel is None)
        if channel is None and rules.is_group_target(row.target):
            channel = self._open(row, port, uncertain=False, users=users)
        if p.get(RESOLVE_USER) and rules.is_user_target(row.target) and not uncertain:
            self._resolve(row, port)

        team = row.team_id
        if update_of:
            method = "chat.update"
            keys = [(f"{team}:{method}", self.o.limits.for_method(method))]
        else:
            method = "chat.postMessage"
            conversation = channel or row.target
            if row.sensitive:  # the shared bucket table must not say whom it went to
                with self.db.session() as session:
                    conversation = outbox.stored_key(session, conversation)
            keys = [(f"{team}:{method}:{conversation}", self.o.limits.post_per_channel),
                    (f"{team}:{method}", self.o.limits.post_workspace)]
        self._pace(row, keys, uncertain=uncertain, begin_send=True)  # `sending` is committed before the call
        started = time.perf_counter()
        try:
            if update_of:
                port.update_message(channel, parent.sent_ts, p["text"], p.get("blocks"))
                posted = Posted(channel=channel, ts=parent.sent_ts)
            else:
                posted = port.post_message(channel or row.target, p["text"], p.get("blocks"), thread_ts=thread_ts,
                                           metadata=delivery_metadata(row.dedupe_key))
        except SlackError as err:
            maybe = method == "chat.postMessage" and rules.classify(err.error, err.status) is Verdict.UNCERTAIN
            self._after_error(row, err, uncertain=maybe)
        log.debug("delivery.sent id=%s team=%s kind=%s ms=%.0f", row.id, team, row.kind,
                  (time.perf_counter() - started) * 1000)
        self._mark_sent(row, posted, counter="sent")

    def _resolve(self, row: OutboxRow, port: SlackPort) -> None:
        """Make sure the DM's recipient is a person: from Hearth's records, else one paced users.info."""
        if not self._is_person(row, port, row.target, ask=True):
            self._skip(row)

    def _regroup(self, row: OutboxRow, port: SlackPort, payload: dict, *, ask: bool) -> tuple[list[str], dict]:
        """The members of a group DM who are people, and the payload for them (see the module docstring).
        With `ask`, unknown members cost one paced users.info each; without, they count as people."""
        everyone = rules.split_users(row.target)
        people = [u for u in everyone if self._is_person(row, port, u, ask=ask, lenient=True)]
        if len(people) == len(everyone):
            return people, payload
        if len(people) >= 2:
            return people, payload.get(REGROUP, {}).get(",".join(sorted(people)), payload)
        if len(people) == 1 and isinstance(payload.get(ALONE), dict):
            return people, payload[ALONE]
        self._skip(row)

    def _is_person(self, row: OutboxRow, port: SlackPort, user_id: str, *, ask: bool, lenient: bool = False) -> bool:
        """From Hearth's records, else (with `ask`) one paced users.info, kept. `lenient`: someone Slack says
        it cannot DM (user_not_found, …) is not a person to write to, rather than a failed row."""
        with self.db.session() as session:
            known = members.by_id(session, row.team_id, [user_id]).get(user_id)
        if known is not None and known.profile_at is not None:
            return not (known.is_bot or known.is_deleted) and user_id != roster.SLACKBOT
        if not ask:
            return True
        method = "users.info"
        self._pace(row, [(f"{row.team_id}:{method}", self.o.limits.for_method(method))], uncertain=False)
        try:
            profile = roster.profile_of(port.user_info(user_id))
        except SlackError as err:
            if lenient and rules.classify(err.error, err.status) is Verdict.PERMANENT:
                return False
            self._after_error(row, err, uncertain=False)
        members.store_profiles(self.db, row.team_id, [profile])
        return roster.is_human(profile)

    def _skip(self, row: OutboxRow) -> NoReturn:
        """Drop a row whose recipients turned out not to be people (bots, deactivated accounts)."""
        with self.db.session() as session:
            if not outbox.drop(session, row.id, self.id):
                self._lost(row)
        self.stats.add("skipped")
        log.info("delivery.skipped id=%s team=%s kind=%s reason=not_a_person", row.id, row.team_id, row.kind)
        raise _Done

    def _parent(self, row: OutboxRow, ref: str, uncertain: bool) -> OutboxRow:
        with self.db.session() as session:
            parent = outbox.find_stored(session, row.team_id, ref)
        if parent is None:
            self._fail(row, "parent_missing")
        if parent.status == FAILED:
            self._fail(row, "parent_failed")
        if parent.status != SENT:
            wait_until = max(self.clock() + 1.0, parent.next_attempt_at.timestamp())
            self._release(row, at=wait_until, uncertain=uncertain, counter="deferred")
        return parent

    def _open(self, row: OutboxRow, port: SlackPort, *, uncertain: bool, users: list[str] | None = None) -> str:
        """Open the DM / group DM of a user target (or of `users`, those of it who are people) and remember
        its id on the row."""
        method = "conversations.open"
        self._pace(row, [(f"{row.team_id}:{method}", self.o.limits.for_method(method))], uncertain=uncertain)
        try:
            channel = port.open_dm(users or rules.split_users(row.target))
        except SlackError as err:
            self._after_error(row, err, uncertain=uncertain)
        with self.db.session() as session:
            if not outbox.record_channel(session, row.id, self.id, channel):
                self._lost(row)
        return channel

    def _conversation(self, row: OutboxRow, port: SlackPort) -> str:
        if rules.is_group_target(row.target) or rules.is_user_target(row.target):
            return self._open(row, port, uncertain=True)
        return row.target

    def _find_delivered(self, row: OutboxRow, port: SlackPort, channel: str, thread_ts: str | None,
                        ) -> Posted | None:
        method = "conversations.replies" if thread_ts else "conversations.history"
        oldest = f"{row.created_at.timestamp() - self.o.history_margin:.6f}"
        cursor = None
        for _ in range(self.o.history_pages):
            self._pace(row, [(f"{row.team_id}:{method}", self.o.limits.for_method(method))], uncertain=True)
            try:
                if thread_ts:
                    page = port.replies(channel, thread_ts, oldest=oldest, limit=200, cursor=cursor)
                else:
                    page = port.history(channel, oldest=oldest, limit=200, cursor=cursor)
            except SlackError as err:
                self._after_error(row, err, uncertain=True)
            for message in page.messages:
                if delivered_key(message) == row.dedupe_key:
                    return Posted(channel=channel, ts=message.ts)
            cursor = page.next_cursor
            if not cursor:
                return None
        log.warning("delivery.unverified id=%s team=%s pages=%d", row.id, row.team_id, self.o.history_pages)
        self._fail(row, "unverified")  # too much history to be sure: an admin decides (retry-failed)

    # ---- pacing --------------------------------------------------------------------------------------

    def _pace(self, row: OutboxRow, keys: list[tuple[str, Rate]], *, uncertain: bool,
              begin_send: bool = False) -> None:
        """Wait for a slot of every key (at most `max_wait`), or defer the row to when one is free.

        With `begin_send`, the row is marked `sending` in the same transaction as the reservation (one
        commit fewer per message); if the lease was lost meanwhile, the reservation is rolled back too."""
        now = self.clock()
        try:
            with self.db.session() as session:
                slot = now
                for i, (key, rate) in enumerate(keys):
                    got, ready = ratelimit.reserve(session, key, rate, now=now, max_wait=self.o.max_wait)
                    if got is None:
                        scope = "channel" if i < len(keys) - 1 else "workspace"
                        raise _Refused(ready, scope, key, rate.interval)
                    slot = max(slot, got)
                if begin_send and not outbox.begin_send(session, row.id, self.id, lease=self.o.send_lease,
                                                        now=_dt(now)):
                    raise _LeaseLost
        except _LeaseLost:
            self._lost(row)
        except _Refused as refused:
            if refused.scope == "workspace":  # this worker claims none of its rows until then
                with self._blocked_lock:
                    self._blocked[row.team_id] = max(self._blocked.get(row.team_id, 0.0), refused.ready)
            at = self._in_line_for(refused.key, refused.ready, refused.interval, now)
            self._release(row, at=at, uncertain=uncertain, counter="deferred")
        delay = slot - self.clock()
        if delay > 0:
            time.sleep(delay)  # at most max_wait, in the worker's own thread

    def _in_line_for(self, key: str, ready: float, interval: float, now: float) -> float:
        """When a row refused a slot (of its channel, or of the workspace) tries again: behind the rows this
        worker already deferred for that bucket, one slot each. Deferred all to the bucket's next free slot,
        they woke together and all but one were deferred again, every slot, for as long as the backlog lasted
        (a busy check-in thread, a round's invitations: hundreds of wasted claims a second, in bursts, on the
        process that acks)."""
        with self._blocked_lock:
            if len(self._in_line) > 1000:  # forget channels whose line has gone
                self._in_line = {k: t for k, t in self._in_line.items() if t > now}
            at = max(ready, self._in_line.get(key, 0.0))
            self._in_line[key] = at + interval
        return at

    def _blocked_teams(self, now: float) -> list[str]:
        with self._blocked_lock:
            for team in [t for t, until in self._blocked.items() if until <= now]:
                del self._blocked[team]
            return list(self._blocked)

    # ---- outcomes ------------------------------------------------------------------------------------

    def _after_error(self, row: OutboxRow, err: SlackError, *, uncertain: bool) -> NoReturn:
        verdict = rules.classify(err.error, err.status)
        now = self.clock()
        if verdict is Verdict.RATE_LIMITED:
            wait = err.retry_after if err.retry_after is not None else self.o.default_retry_after
            key = f"{row.team_id}:{err.method}"
            learned = None
            with self.db.session() as session:  # for every instance: hold the key, learn a lower rate
                if self.o.adaptive is None:
                    ratelimit.hold(session, key, now + wait, self.o.limits.for_method(err.method))
                else:
                    learned = ratelimit.limited(session, key, self.o.limits.for_method(err.method), now=now,
                                                hold_for=wait, tuning=self.o.adaptive)
            if learned is not None:
                log.info("delivery.rate_learned team=%s method=%s per_minute=%.1f", row.team_id, err.method,
                         learned * 60)
            if err.method == "chat.postMessage":  # this worker stops claiming the team's rows until then
                with self._blocked_lock:
                    self._blocked[row.team_id] = max(self._blocked.get(row.team_id, 0.0), now + wait)
            log.info("delivery.rate_limited id=%s team=%s method=%s retry_after=%.1f", row.id, row.team_id,
                     err.method, wait)
            self._release(row, at=now + wait, error="ratelimited", uncertain=uncertain, counter="rate_limited")
        if verdict is Verdict.PERMANENT:
            self._fail(row, err.error)
        attempts = row.attempts + 1
        if attempts >= self.o.max_attempts:
            self._fail(row, "unverified" if uncertain else err.error, attempts_used=1)
        delay = rules.backoff(attempts, base=self.o.backoff_base, cap=self.o.backoff_cap, rand=self.rand)
        if uncertain:
            delay = max(delay, self.o.settle)
        log.info("delivery.retry id=%s team=%s method=%s error=%s attempt=%d in=%.1f uncertain=%s", row.id,
                 row.team_id, err.method, err.error, attempts, delay, uncertain)
        self._release(row, at=now + delay, error=err.error, attempts_used=1, uncertain=uncertain, counter="retried")

    def _mark_sent(self, row: OutboxRow, posted: Posted, *, counter: str) -> NoReturn:
        with self.db.session() as session:
            ok = outbox.mark_sent(session, row.id, self.id, channel=posted.channel, ts=posted.ts, now=self._now(),
                                  sensitive=row.sensitive)
        if not ok:
            self._lost(row)
        self.stats.add(counter)
        raise _Done

    def _fail(self, row: OutboxRow, error: str, *, attempts_used: int = 0) -> NoReturn:
        with self.db.session() as session:
            ok = outbox.mark_failed(session, row.id, self.id, error, attempts_used=attempts_used)
        if ok:
            self.stats.add("failed")
            log.warning("delivery.failed id=%s team=%s kind=%s error=%s", row.id, row.team_id, row.kind, error)
        raise _Done

    def _release(self, row: OutboxRow, *, at: float, error: str | None = None, attempts_used: int = 0,
                 uncertain: bool = False, counter: str) -> NoReturn:
        with self.db.session() as session:
            ok = outbox.release(session, row.id, self.id, at=_dt(at), error=error, attempts_used=attempts_used,
                                uncertain=uncertain)
        if ok:
            self.stats.add(counter)
        raise _Done

    def _give_back(self, rows: list[OutboxRow]) -> None:
        now = self.clock()
        for row in rows:
            try:
                self._release(row, at=max(now, row.next_attempt_at.timestamp()), uncertain=row.status == SENDING,
                              counter="deferred")
            except _Done:
                pass

    def _lost(self, row: OutboxRow) -> NoReturn:
        self.stats.add("lost_lease")
        log.warning("delivery.lost_lease id=%s worker=%s", row.id, self.id)
        raise _Done

    # ---- housekeeping --------------------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = self.clock()
        if now - self._last_housekeeping < 60:
            return
        self._last_housekeeping = now
        with self.db.session() as session:
            pruned = ratelimit.prune(session, before=now - 60)
        log.info("delivery.summary worker=%s pruned_buckets=%d %s", self.id, pruned, _fmt(self.stats.snapshot()))

    def _adapt(self) -> None:
        """Raise learned rates after a quiet stretch (checked ten times per stretch)."""
        now = self.clock()
        if self.o.adaptive is None or now - self._last_adapt < self.o.adaptive.quiet / 10:
            return
        self._last_adapt = now
        with self.db.session() as session:
            raised = ratelimit.raise_quiet(session, self._ceiling, now=now, tuning=self.o.adaptive)
        for key, rate in raised.items():
            log.info("delivery.rate_raised key=%s per_minute=%s", key, "ceiling" if rate is None else f"{rate * 60:.1f}")

    def _ceiling(self, key: str) -> Rate:
        """The configured rate of a workspace-wide key ("T123:chat.postMessage")."""
        return self.o.limits.for_method(key.split(":", 2)[1])

    def _now(self) -> datetime:
        return _dt(self.clock())


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _fmt(stats: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in stats.items())
