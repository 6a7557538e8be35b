"""Archive runs: old records → gzip JSON Lines objects under ARCHIVE_URL, then out of the database.

One batch (up to `batch` roots of one kind, one workspace and one day) goes through these steps, each of
which may be the last before a crash:

    pending     the ledger row (`archive_batch`) names the roots and the object key; committed first
    serialised  the rows are streamed into a temporary gzip file; its size and SHA-256 go to the ledger
    uploaded    the object is written (write-once: the same bytes again are a no-op)
    verified    size and SHA-256 are read back from the archive and compared with the ledger
    deleted     the rows are deleted and the batch marked `archived` in ONE transaction
    manifest    after the run: manifests/<run>.json lists every object archived since the last manifest

A run first resumes pending batches (so a crash loses nothing, and the same roots are never put in a second
object), then cuts new ones; the object key comes from the ledger id, so a rerun writes the same key. Rows
are deleted only when the number deleted equals the number archived; otherwise (a record changed meanwhile)
the stale object, which no manifest names yet, is removed and the batch is written again.

Memory stays bounded: rows stream from the database into the gzip file and objects stream back when verified.
Speed (bench/archive.py): up to WORKERS batches are archived at once on worker threads while the main thread
cuts the next (`_Pipeline`); the database writes each row's JSON (`row_json`; parts with privacy rules go
through Python); on PostgreSQL rows come straight from a psycopg cursor; gzip runs at level 1 (three times as
fast as 6 on these lines, for objects an eighth larger). A crash leaves up to WORKERS + 1 batches pending.
Logs carry ids and counts only. HEARTH_ARCHIVE_FAULT=<step> kills the process at that step (crash tests).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import secrets
import signal
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from storage.archive import Archive, ArchiveCorrupt, ArchivedObject, digest, file_digest
from storage.db import Database
from storage.lifecycle.kinds import ALL_TEAMS, KINDS, MANIFESTS, Kind, Part, Row, Via
from storage.models import ArchiveBatch, Base, utcnow

log = logging.getLogger("hearth.archive")

PENDING, ARCHIVED = "pending", "archived"
STEPS = ("pending", "serialised", "uploaded", "verified", "deleted", "manifest")
BATCH = 10_000
WORKERS = 3  # batches in flight: reading, uploading and deleting overlap (SQLite still writes one at a time)
Hook = Callable[[str, ArchiveBatch], None]


def tables() -> dict[str, Table]:
    """Every model's table (the workflow modules put theirs on Base when imported)."""
    from storage import buddies, checkins, members, preferences, reports, survey_schedules, surveys  # noqa: F401

    return dict(Base.metadata.tables)


@dataclass
class RunReport:
    run_id: str
    objects: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # per kind
    resumed: int = 0
    manifest: str | None = None

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def add(self, kind: str, rows: int) -> None:
        """One batch archived (batches finish on several threads)."""
        with self._lock:
            self.objects += 1
            self.rows[kind] = self.rows.get(kind, 0) + rows


def _step(name: str, batch: ArchiveBatch, hook: Hook | None) -> None:
    if os.environ.get("HEARTH_ARCHIVE_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)  # a crash exactly here (tests kill a subprocess at every step)
    if hook is not None:
        hook(name, batch)


def new_run_id(now: datetime) -> str:
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


# ---- selecting ----------------------------------------------------------------------------------------


def _pk(t: Table) -> list:
    return list(t.primary_key.columns)


def _key_of(values: Sequence[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def _in(t: Table, ids: Sequence[Any]) -> Any:
    cols = _pk(t)
    if len(cols) == 1:
        return cols[0].in_(ids)
    return tuple_(*cols).in_([tuple(i) for i in ids])


@dataclass(frozen=True)
class Span:
    """A batch's roots: one workspace's finished roots from `lo` to `hi` in (age, primary key) order. A range,
    not a list of ids, so every statement of a batch stays small and walks the age index."""

    team: str
    lo: tuple
    hi: tuple

    def to_json(self) -> str:
        return json.dumps({"team": self.team, "lo": list(self.lo), "hi": list(self.hi)}, default=str)

    @classmethod
    def parse(cls, text: str, columns: Sequence[Any]) -> Span:
        d = json.loads(text)
        lo, hi = (tuple(from_json(c, v) for c, v in zip(columns, d[end], strict=True)) for end in ("lo", "hi"))
        return cls(d["team"], lo, hi)


def _order(k: Kind, root: Table) -> list:
    return [root.c[k.age], *_pk(root)]


def _team_expr(k: Kind, ts: dict[str, Table]) -> tuple[Any, Any]:
    """(the team column, the FROM clause) of a kind's roots."""
    root = ts[k.root.table]
    if isinstance(k.team, Via):
        other = ts[k.team.table]
        return other.c[k.team.column], root.join(other, root.c[k.team.fk] == other.c.id)
    if k.team is None:
        return None, root
    return root.c[k.team], root


def _eligible(k: Kind, ts: dict[str, Table], cutoff: datetime, *, sqlite: bool = False) -> Any:
    root = ts[k.root.table]
    age = root.c[k.age]
    cond = age < (cutoff.date() if age.type.python_type is date else cutoff)
    if k.done is not None:
        # SQLite (without ANALYZE statistics) would answer "oldest first" through an index on the status and
        # sort every row; a unary + on the status keeps it on the age index (its documented way to say so).
        cond = cond & k.done(_unindexed(root) if sqlite else root)
    return cond


def _unindexed(t: Table) -> Any:
    return SimpleNamespace(c=SimpleNamespace(**{c.name: literal_column(f"+{t.name}.{c.name}", c.type) for c in t.columns}))


def _in_span(k: Kind, ts: dict[str, Table], span: Span) -> Any:
    root = ts[k.root.table]
    team, _ = _team_expr(k, ts)
    order = tuple_(*_order(k, root))
    age = root.c[k.age]
    # The plain bounds on the age let the index do the work (SQLite does not range-scan row values).
    cond = age.between(span.lo[0], span.hi[0]) & (order >= tuple_(*span.lo)) & (order <= tuple_(*span.hi))
    if team is not None:
        cond = cond & (team == span.team)
    if k.done is not None:
        cond = cond & k.done(root)
    return cond


def _root_ids(k: Kind, ts: dict[str, Table], span: Span) -> Any:
    root = ts[k.root.table]
    _, frm = _team_expr(k, ts)
    return select(root.c.id).select_from(frm).where(_in_span(k, ts, span))


def count_due(db: Database, k: Kind, cutoff: datetime) -> int:
    ts = tables()
    _, frm = _team_expr(k, ts)
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(frm).where(_eligible(k, ts, cutoff))) or 0


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    return value


def _next_span(s: Session, k: Kind, ts: dict[str, Table], cutoff: datetime, batch: int,
               after: Span | None = None) -> tuple[Span, date] | None:
    """The oldest due roots of one workspace and one day (at most `batch`): their span and day. A few short
    index walks (first, batch-th, else last), so no batch of keys travels to Python. `after`, the run's
    previous span, starts the walk where it ended: PostgreSQL keeps index entries of deleted rows until a
    vacuum, and walking past them from the start every batch would grow with the run."""
    root = ts[k.root.table]
    team, frm = _team_expr(k, ts)
    order = _order(k, root)
    teams = [team] if team is not None else []
    due = _eligible(k, ts, cutoff, sqlite=s.get_bind().dialect.name == "sqlite")
    first = None
    if after is not None:
        same_team = due & (root.c[k.age] >= after.hi[0]) & (tuple_(*order) > tuple_(*after.hi))
        if team is not None:
            same_team = same_team & (team == after.team)
        first = s.execute(select(*order, *teams).select_from(frm).where(same_team).order_by(*order).limit(1)).first()
        if first is None and team is not None:
            first = s.execute(select(*order, team).select_from(frm).where(due & (team > after.team))
                              .order_by(team, *order).limit(1)).first()
        elif first is None:
            return None
    else:
        first = s.execute(select(*order, *teams).select_from(frm).where(due).order_by(*teams, *order).limit(1)).first()
    if first is None:
        return None
    n = len(order)
    team_id = first[n] if team is not None else ALL_TEAMS
    day = _day(first[0])
    within = due & (root.c[k.age] < _day_end(first[0], day)) & (tuple_(*order) >= tuple_(*first[:n])) & \
        (root.c[k.age] >= first[0])
    if team is not None:
        within = within & (team == team_id)
    span_rows = select(*order).select_from(frm).where(within)
    hi = s.execute(span_rows.order_by(*order).offset(batch - 1).limit(1)).first() or \
        s.execute(span_rows.order_by(*(c.desc() for c in order)).limit(1)).first()
    assert hi is not None  # the first row itself is within
    return Span(team_id, tuple(first[:n]), tuple(hi)), day


def _day_end(age: Any, day: date) -> Any:
    """The first instant (or day) after `day`, in the form the age column gives (naive UTC on SQLite)."""
    if not isinstance(age, datetime):
        return day + timedelta(days=1)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    return end if age.tzinfo else end.replace(tzinfo=None)


# ---- serialising --------------------------------------------------------------------------------------


def _part_stmt(k: Kind, p: Part, ts: dict[str, Table], span: Span, *, as_json: Any = None) -> Any:
    """The rows of one part of a span's roots (children with their root's id last, as `_k`), in a stable
    order: random-id order for anonymous parts, so no submission order survives. `as_json` (the row's JSON
    text, as `row_json` writes it): each row is that, after the key's columns."""
    t = ts[p.table]
    root = ts[k.root.table]
    row: list[Any] = [as_json] if as_json is not None else [t]
    if p.link is None:
        _, frm = _team_expr(k, ts)
        keys = _pk(t) if as_json is not None else []
        return select(*keys, *row).select_from(frm).where(_in_span(k, ts, span)).order_by(*_pk(t))
    owner = t.c[p.link] if p.parent is None else ts[p.parent].c[k.parent_link(p)]
    cols: list[Any] = [owner.label("_k"), *row] if as_json is not None else [t, owner.label("_k")]
    stmt = select(*cols).select_from(t)
    if p.parent is not None:
        stmt = stmt.join(ts[p.parent], t.c[p.link] == ts[p.parent].c.id)
    roots = _root_ids(k, ts, span)
    if p.only is not None:
        roots = roots.where(p.only(root))
    return stmt.where(owner.in_(roots)).order_by(*_pk(t))


def _part_rows(s: Session, k: Kind, p: Part, ts: dict[str, Table], span: Span) -> Iterator[tuple[Any, Row]]:
    t = ts[p.table]
    names = [c.name for c in t.columns]
    pk = [names.index(c.name) for c in _pk(t)]
    for chunk in _chunks(s, _part_stmt(k, p, ts, span)):
        for r in chunk:
            yield (r[-1] if p.link is not None else _key_of([r[i] for i in pk])), dict(zip(names, r, strict=False))


def _chunks(s: Session, stmt: Any, size: int = 5000, *, typed: bool = True) -> Iterator[Sequence[Sequence[Any]]]:
    """A statement's rows as plain tuples, a chunk at a time. On PostgreSQL straight from a psycopg server-side
    cursor in the session's transaction: SQLAlchemy's rows and result processing cost a fifth of a run there and
    change nothing (psycopg already returns aware datetimes, bools and text; the Sealed columns pass through).
    On SQLite only when not `typed` (rows of keys and JSON text: nothing to convert), as the values of SQLite's
    own types; its bounds are written into the statement (times, ids and team ids, never member text)."""
    dialect = s.get_bind().dialect
    if dialect.name != "postgresql":
        if typed:
            yield from s.execute(stmt.execution_options(yield_per=size)).partitions()
            return
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        cursor = s.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql)
            while chunk := cursor.fetchmany(size):
                yield chunk
        finally:
            cursor.close()
        return
    compiled = stmt.compile(dialect=s.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    raw = s.connection().connection.driver_connection
    assert raw is not None  # a live connection: the session holds it for its transaction
    with raw.cursor(name=f"archive_{secrets.token_hex(4)}") as cur:
        cur.execute(str(compiled), compiled.params)
        while chunk := cur.fetchmany(size):
            yield chunk


def lines(s: Session, k: Kind, span: Span) -> Iterator[bytes]:
    """The JSON lines of a batch: {"k": root key, "t": table, "r": row}, roots first, privacy rules applied."""
    ts = tables()
    dialect = s.get_bind().dialect.name
    for p in k.parts:
        as_json = None if p.anonymous or p.clean is not None else row_json(ts[p.table], dialect)
        if as_json is not None:
            yield from _lines_from_database(s, k, p, ts, span, as_json)
            continue
        for key, row in _part_rows(s, k, p, ts, span):
            if p.anonymous:
                row.pop("id", None)
            if p.clean is not None:
                row = p.clean(row)
            yield orjson.dumps({"k": key, "t": p.table, "r": row}, option=orjson.OPT_NAIVE_UTC) + b"\n"


def row_json(t: Table, dialect: str) -> Any:
    """An expression for a row of `t` as the JSON text orjson would write of it (UTC times in ISO form, true/
    false), built by the database; None where a column's type has no such form there (the row goes through
    Python). Building a dict per row in Python was most of an archive run's time."""
    if dialect == "postgresql":
        return cast(func.row_to_json(literal_column(t.name)), Text)  # its session runs in UTC (below)
    if dialect != "sqlite":
        return None
    values: list[Any] = []
    value: Any
    for c in t.columns:
        kind = c.type.impl if isinstance(c.type, TypeDecorator) else c.type
        if isinstance(kind, DateTime):  # stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]', naive UTC
            value = func.replace(c, " ", "T").op("||")("+00:00")
        elif isinstance(kind, Boolean):
            value = func.json(case((c.is_(None), None), (c == 1, "true"), else_="false"))
        elif isinstance(kind, (String, Integer, Date)):  # Text, Sealed (its token), BigInteger too
            value = c
        else:
            return None
        values += [literal(c.name), value]
    return func.json_object(*values)


def _lines_from_database(s: Session, k: Kind, p: Part, ts: dict[str, Table], span: Span,
                         as_json: Any) -> Iterator[bytes]:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL TIME ZONE 'UTC'"))
    keys = 1 if p.link is not None else len(_pk(ts[p.table]))
    table = b',"t":' + orjson.dumps(p.table) + b',"r":'
    for chunk in _chunks(s, _part_stmt(k, p, ts, span, as_json=as_json), typed=False):
        for r in chunk:
            key = r[0] if keys == 1 else list(r[:keys])
            yield b'{"k":' + orjson.dumps(key, option=orjson.OPT_NAIVE_UTC) + table + r[keys].encode() + b"}\n"


def write_gzip(chunks: Iterator[bytes], directory: str | None = None) -> tuple[Path, int]:
    """Stream lines into a temporary gzip file (mtime 0: the same rows give the same bytes); (path, lines)."""
    fd, name = tempfile.mkstemp(suffix=".jsonl.gz", dir=directory)
    n = 0
    with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
        buf: list[bytes] = []
        for line in chunks:
            buf.append(line)
            n += 1
            if len(buf) >= 5000:
                gz.write(b"".join(buf))
                buf.clear()
        gz.write(b"".join(buf))
    return Path(name), n


# ---- deleting -----------------------------------------------------------------------------------------


def _delete(s: Session, k: Kind, ts: dict[str, Table], span: Span) -> int:
    """Delete the span's roots and every child (children first); the number of rows deleted."""
    n = 0
    for p in reversed(k.parts):
        t = ts[p.table]
        if p.link is None:
            where = t.c.id.in_(_root_ids(k, ts, span)) if isinstance(k.team, Via) else _in_span(k, ts, span)
        elif p.parent is None:
            where = t.c[p.link].in_(_root_ids(k, ts, span))
        else:
            parent = ts[p.parent]
            where = t.c[p.link].in_(select(parent.c.id).where(parent.c[k.parent_link(p)].in_(_root_ids(k, ts, span))))
        n += affected(s.execute(delete(t).where(where), execution_options={"synchronize_session": False}))
    return n


def affected(result: Any) -> int:
    """Rows an UPDATE or DELETE touched."""
    return int(getattr(result, "rowcount", 0) or 0)


def _archived_rows(s: Session, k: Kind, ts: dict[str, Table], span: Span) -> int:
    """How many rows the batch's object holds (parts filtered by `only` are deleted, not archived)."""
    return sum(s.scalar(select(func.count()).select_from(_part_stmt(k, p, ts, span).order_by(None).subquery())) or 0
               for p in k.parts)


# ---- one batch ----------------------------------------------------------------------------------------


class Archiver:
    def __init__(self, db: Database, archive: Archive, *, hook: Hook | None = None, batch: int = BATCH,
                 progress: Callable[[int], None] | None = None) -> None:
        self.db, self.archive, self.hook, self.batch, self.progress = db, archive, hook, batch, progress
        self.ts = tables()

    def run(self, kinds: Sequence[Kind] = KINDS, *, retention: dict[str, int], now: datetime | None = None,
            run_id: str | None = None) -> RunReport:
        from storage.lifecycle.lock import archive_lock

        with archive_lock(self.db):
            return self._run(kinds, retention, now or utcnow(), run_id)

    def _run(self, kinds: Sequence[Kind], retention: dict[str, int], now: datetime, run_id: str | None) -> RunReport:
        report = RunReport(run_id or new_run_id(now))
        names = {k.name for k in kinds}
        with _Pipeline(WORKERS) as pipeline:
            for b in self._pending(names):
                self._finish(b, report, pipeline)
                report.resumed += 1
            pipeline.wait()  # their rows are gone before new batches are cut, or those would take them again
            for k in kinds:
                cutoff = now - timedelta(days=retention[k.name])
                after: Span | None = None
                while (after := self._cut(k, cutoff, report, after, pipeline)) is not None:
                    pass
        report.manifest = self._manifest(report.run_id, now)
        log.info("archive.run run=%s objects=%d rows=%d resumed=%d", report.run_id, report.objects, report.total,
                 report.resumed)
        return report

    def _pending(self, names: set[str]) -> list[ArchiveBatch]:
        with self.db.session() as s:
            return list(s.scalars(select(ArchiveBatch).where(ArchiveBatch.status == PENDING, ArchiveBatch.kind.in_(names))
                                  .order_by(ArchiveBatch.id)))

    def _cut(self, k: Kind, cutoff: datetime, report: RunReport, after: Span | None,
             pipeline: _Pipeline) -> Span | None:
        """Archive the next batch after `after`; its span, or None when nothing more is due."""
        with self.db.session() as s:
            found = _next_span(s, k, self.ts, cutoff, self.batch, after)
            if found is None:
                return None
            span, day = found
            team = span.team
            b = ArchiveBatch(run_id=report.run_id, team_id=team, kind=k.name, day=day, status=PENDING,
                             object_key=f"pending-{secrets.token_hex(8)}", root_ids=span.to_json())
            s.add(b)
            s.flush()
            b.object_key = f"{team}/{k.name}/{day.isoformat()}/{report.run_id}-{b.id:08d}.jsonl.gz"
        _step("pending", b, self.hook)
        self._finish(b, report, pipeline)
        return span

    def _finish(self, b: ArchiveBatch, report: RunReport, pipeline: _Pipeline) -> None:
        k = next(x for x in KINDS if x.name == b.kind)
        ids = Span.parse(b.root_ids, _order(k, self.ts[k.root.table]))
        pipeline.submit(lambda: self._ship(b, k, ids, self._serialise(b, k, ids), report))

    def _ship(self, b: ArchiveBatch, k: Kind, ids: Span, written: Path | None, report: RunReport) -> None:
        for _attempt in range(3):
            obj = self._upload(b, written)
            written = None
            got = digest(self.archive, b.object_key)
            if (got.size, got.sha256) != (obj.size, obj.sha256):
                # No manifest names it yet: removed, so the next run writes it afresh from the rows kept here.
                self.archive.delete(b.object_key)
                raise ArchiveCorrupt(f"archive object {b.object_key} read back with a different size or SHA-256; "
                                     "its rows stay in the database")
            _step("verified", b, self.hook)
            try:
                deleted = self._delete_archived(b, k, ids)
                stale = False
            except _Changed:
                stale = True
            if not stale:
                _step("deleted", b, self.hook)
                report.add(k.name, b.rows or 0)
                if self.progress:
                    self.progress(b.rows or 0)
                log.info("archive.batch batch=%d kind=%s object_rows=%d deleted_rows=%d", b.id, k.name, b.rows or 0,
                         deleted)
                return
            # The records changed after they were written (a member forgotten, a case reopened): the object no
            # manifest names yet is replaced by a fresh one.
            self.archive.delete(b.object_key)
            with self.db.session() as s:
                s.execute(update(ArchiveBatch).where(ArchiveBatch.id == b.id).values(sha256=None, size=None, rows=None))
            b.sha256 = None
            written = self._serialise(b, k, ids)
        raise ArchiveCorrupt(f"batch {b.id} keeps changing while it is archived; try again later")

    def _delete_archived(self, b: ArchiveBatch, k: Kind, ids: Span) -> int:
        """Delete the batch's rows and mark it archived, in one transaction, if they are still the rows its
        object holds; else `_Changed` (and nothing is deleted). Where every row deleted is archived, the
        delete's own count says so; parts filtered by `only` (deleted, not archived) are counted first."""
        with self.db.session() as s:
            if any(p.only is not None for p in k.parts) and _archived_rows(s, k, self.ts, ids) != b.rows:
                raise _Changed
            deleted = _delete(s, k, self.ts, ids)
            if all(p.only is None for p in k.parts) and deleted != b.rows:
                raise _Changed  # rolls the delete back
            s.execute(update(ArchiveBatch).where(ArchiveBatch.id == b.id)
                      .values(status=ARCHIVED, root_ids="", archived_at=utcnow()))
            return deleted

    def _serialise(self, b: ArchiveBatch, k: Kind, ids: Span) -> Path | None:
        """The batch's gzip file, its size and SHA-256 in the ledger; None when it was uploaded before a crash
        (then the object is verified as it is)."""
        if b.sha256 is not None and self.archive.exists(b.object_key):
            return None
        with self.db.reader(streaming=True) as s:
            path, n = write_gzip(lines(s, k, ids))
        try:
            obj = file_digest(path)
            with self.db.session() as s:
                s.execute(update(ArchiveBatch).where(ArchiveBatch.id == b.id).values(sha256=obj.sha256, size=obj.size, rows=n))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        b.sha256, b.size, b.rows = obj.sha256, obj.size, n
        _step("serialised", b, self.hook)
        return path

    def _upload(self, b: ArchiveBatch, path: Path | None) -> ArchivedObject:
        if path is None:
            return ArchivedObject(b.object_key, b.sha256 or "", b.size or 0)  # uploaded before a crash: verify it
        try:
            self.archive.put_file(b.object_key, path, sha256=b.sha256 or "", size=b.size or 0)
        finally:
            path.unlink(missing_ok=True)
        _step("uploaded", b, self.hook)
        return ArchivedObject(b.object_key, b.sha256 or "", b.size or 0)

    def _manifest(self, run_id: str, now: datetime) -> str | None:
        """manifests/<run>.json: every object archived since the last manifest (a crashed run's too)."""
        with self.db.session() as s:
            done = list(s.scalars(select(ArchiveBatch).where(ArchiveBatch.status == ARCHIVED,
                                                             ArchiveBatch.manifest_key.is_(None))
                                  .order_by(ArchiveBatch.id)))
        if not done:
            return None
        key = f"{MANIFESTS}/{run_id}.json"
        body = manifest_body(run_id, now, [
            {"key": b.object_key, "team": b.team_id, "kind": b.kind, "day": b.day.isoformat(), "rows": b.rows,
             "size": b.size, "sha256": b.sha256} for b in done])
        self.archive.put(key, body)
        _step("manifest", done[-1], self.hook)
        with self.db.session() as s:
            s.execute(update(ArchiveBatch).where(ArchiveBatch.id.in_([b.id for b in done])).values(manifest_key=key))
        return key


class _Changed(Exception):
    """A batch's records changed after its object was written."""


class _Pipeline:
    """Batches in flight: each is read, compressed, uploaded, verified and deleted on a worker thread while
    the main thread cuts the next. The work waits mostly on the database, S3 and zlib, which release the
    GIL, so a few batches at once keep both cores (and PostgreSQL's) busy. At most `workers` are in flight;
    a failure surfaces at the next hand-over or at the end, before the manifest, and whatever was in flight
    stays pending in the ledger for the next run to resume."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="archive-batch")
        self._inflight: deque[Future[None]] = deque()

    def submit(self, work: Callable[[], None]) -> None:
        while len(self._inflight) >= self._workers:
            self._inflight.popleft().result()
        self._inflight.append(self._pool.submit(work))

    def wait(self) -> None:
        while self._inflight:
            self._inflight.popleft().result()

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)


def manifest_body(run_id: str, now: datetime, objects: list[dict], replaces: dict[str, str] | None = None) -> bytes:
    return json.dumps({"run": run_id, "created": now.astimezone(UTC).isoformat(), "objects": objects,
                       "replaces": replaces or {}}, indent=1, sort_keys=True).encode()


def from_json(column: Any, value: Any) -> Any:
    """A value as the column's type wants it (archived rows and ledger keys carry dates as ISO text)."""
    if value is None or not isinstance(value, str):
        return value
    type_ = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    try:
        kind = type_.python_type
        if kind is datetime:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if kind is date:
            return date.fromisoformat(value)
    except NotImplementedError:
        return value
    return value
