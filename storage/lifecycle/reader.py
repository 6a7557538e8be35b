"""Reading the archive back: what is there (`objects`), whether it is intact (`verify`), and `restore` into the
database (idempotently: a unit whose root row exists is left alone) or into a JSON Lines file.

Manifests are the record of what must exist: `verify` re-reads every object every manifest names (as
amended by later manifests' `replaces`, written when forgetting a member rewrote an object) and compares
size and SHA-256.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

import orjson
from sqlalchemy import select

from storage.anonymity import opaque_id
from storage.archive import Archive, ArchiveCorrupt, ArchiveError, ArchiveNotFound, digest
from storage.db import Database
from storage.lifecycle.archiver import _in, _pk, from_json, tables
from storage.lifecycle.kinds import MANIFESTS, ObjectName, kind, parse_key


@dataclass(frozen=True)
class Expected:
    key: str
    size: int
    sha256: str
    rows: int
    kind: str
    manifest: str


def manifests(archive: Archive) -> Iterator[tuple[str, dict]]:
    """Every manifest, oldest first (run ids start with their UTC time)."""
    for key in archive.list(f"{MANIFESTS}/"):
        with archive.reader(key) as f:
            yield key, json.loads(f.read())


def expected_objects(archive: Archive) -> dict[str, Expected]:
    """What the manifests say must be in the archive now."""
    out: dict[str, Expected] = {}
    for key, m in sorted(manifests(archive), key=lambda km: (km[1]["created"], km[0])):  # a forget after the run
        for old in m.get("replaces", {}):
            out.pop(old, None)
        for o in m["objects"]:
            out[o["key"]] = Expected(o["key"], int(o["size"]), o["sha256"], int(o["rows"] or 0), o["kind"], key)
    return out


@dataclass(frozen=True)
class Problem:
    key: str
    what: str


def verify(archive: Archive) -> tuple[int, list[Problem]]:
    """(objects checked, problems): every expected object read back whole and compared."""
    expected = expected_objects(archive)
    problems = []
    for e in expected.values():
        try:
            got = digest(archive, e.key)
        except ArchiveNotFound:
            problems.append(Problem(e.key, "missing"))
            continue
        if got.size != e.size:
            problems.append(Problem(e.key, f"size {got.size} bytes, manifest says {e.size}"))
        elif got.sha256 != e.sha256:
            problems.append(Problem(e.key, "SHA-256 differs from the manifest (corrupted)"))
    return len(expected), problems


def objects(archive: Archive, *, kind_name: str | None = None, start: date | None = None,
            end: date | None = None) -> list[ObjectName]:
    """Data objects (not manifests) of a kind whose day is within [start, end]."""
    out = []
    for key in archive.list():
        name = parse_key(key)
        if name is None or (kind_name and name.kind != kind_name):
            continue
        day = date.fromisoformat(name.day)
        if (start and day < start) or (end and day > end):
            continue
        out.append(name)
    return out


def read_lines(archive: Archive, key: str) -> Iterator[dict]:
    try:
        with archive.reader(key) as f, gzip.GzipFile(fileobj=f, mode="rb") as gz:
            for line in gz:
                yield orjson.loads(line)
    except (OSError, EOFError, orjson.JSONDecodeError):  # BadGzipFile is an OSError
        raise ArchiveCorrupt(f"archive object {key} is not readable gzip JSON Lines; run `hearth archive verify`") from None


@dataclass
class Restored:
    objects: int = 0
    units: int = 0
    skipped: int = 0  # already in the database
    rows: int = 0


def restore_to_file(archive: Archive, names: list[ObjectName], out: IO[bytes]) -> Restored:
    done = Restored()
    for name in names:
        for line in read_lines(archive, name.key):
            out.write(orjson.dumps(line) + b"\n")
            done.rows += 1
        done.objects += 1
    return done


def restore_to_db(db: Database, archive: Archive, names: list[ObjectName], *, chunk: int = 2000) -> Restored:
    """Insert every archived unit whose root row is not in the database (so a second restore adds nothing).
    Anonymous rows were archived without their random ids: they get new ones."""
    ts = tables()
    done = Restored()
    for name in names:
        k = kind(name.kind)
        root = ts[k.root.table]
        wanted: set[Any] = set()
        seen: set[Any] = set()
        pending: dict[str, list[dict]] = {}
        with db.session() as s:
            for line in read_lines(archive, name.key):
                unit = _hashable(line["k"])
                if line["t"] == k.root.table and unit not in seen:
                    seen.add(unit)
                    key = tuple(from_json(c, v) for c, v in zip(_pk(root), _as_list(line["k"]), strict=True))
                    if s.execute(select(*_pk(root)).where(_in(root, [key if len(key) > 1 else key[0]]))).first():
                        done.skipped += 1
                    else:
                        wanted.add(unit)
                        done.units += 1
                if unit not in wanted:
                    continue
                t = ts[line["t"]]
                row = {c: from_json(t.c[c], v) for c, v in line["r"].items() if c in t.c}
                if "id" in t.c and "id" not in row and t.c.id.type.python_type is str:
                    row["id"] = opaque_id()
                pending.setdefault(line["t"], []).append(row)
                if len(pending[line["t"]]) >= chunk:
                    _flush(s, ts, k, pending)
                done.rows += 1
            _flush(s, ts, k, pending)
        done.objects += 1
    return done


def _flush(s: Any, ts: dict, k: Any, pending: dict[str, list[dict]]) -> None:
    for part in k.parts:  # parents before children
        rows = pending.pop(part.table, [])
        if rows:
            s.execute(ts[part.table].insert(), rows)


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


__all__ = ["ArchiveError", "Expected", "Problem", "Restored", "expected_objects", "objects", "read_lines",
           "restore_to_db", "restore_to_file", "verify"]
