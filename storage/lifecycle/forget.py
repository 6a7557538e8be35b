"""Forgetting a member: their personal data out of the database and out of every archive object that holds it.

The same per-kind specs that say what the archive takes say what names a person (`Part.people`, `owner`,
`sealed_people`), so the database and the archive are cleaned by one rule (`kinds.Forgetting`): rows the
member owns (their check-ins, their DMs) are removed, other mentions (facilitator, assignee) are blanked,
sealed lists of ids (buddy groups, an anonymous reporter's sealed identity) lose the id.

Archive objects are write-once: an object holding the member is rewritten under a new key, read back and
verified, named in a manifest that `replaces` the old key, and only then is the old object deleted. A crash
before the manifest leaves the old object in place (the rerun writes the same new key again); after it, the
rerun finds nothing left to rewrite and deletes what remains of the old.

What happened is recorded in `member_forgotten` under an opaque keyed hash of the member, never their id.
Anonymous survey answers are linked to nobody, so there is nothing of theirs to find (README).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, select, update

from storage.archive import Archive, ArchiveCorrupt, ArchiveError, digest, file_digest
from storage.db import Database
from storage.lifecycle.archiver import _pk, affected, manifest_body, new_run_id, tables, write_gzip
from storage.lifecycle.kinds import KINDS, MANIFESTS, Forgetting, Part, kind
from storage.lifecycle.lock import archive_lock
from storage.lifecycle.reader import manifests, objects, read_lines
from storage.models import ArchiveBatch, ForgottenMember, utcnow
from storage.opaque import cipher, opaque

log = logging.getLogger("hearth.archive")

# Personal tables the archive never takes (live state): cleaned by the same rule.
LIVE: tuple[Part, ...] = (
    Part("member", owner=("user_id",), people=("user_id",)),
    Part("member_preference", owner=("user_id",), people=("user_id",)),
    Part("member_opt_out", owner=("user_id",), people=("user_id",)),
    Part("channel_member", owner=("user_id",), people=("user_id",)),
    Part("buddy_member", owner=("user_id",), people=("user_id",)),
    Part("buddy_never_pair", owner=("user_id",), people=("user_id",), sealed_people=("others",)),
    Part("buddy_must_not_meet", sealed_people=("pair",)),
    Part("survey_participation", owner=("user_id",), people=("user_id",)),
    Part("checkin_circle", people=("next_facilitator_id", "created_by")),
    Part("survey_schedule", people=("created_by",)),
    Part("member_forgotten", people=("requested_by",)),  # an admin who asked to forget someone, later forgotten
)
PENDING, DONE = "pending", "done"


@dataclass
class ForgetReport:
    db_rows: int = 0
    objects_rewritten: int = 0
    objects_kept: list[str] = field(default_factory=list)  # old objects the archive would not delete (Object Lock)
    manifest: str | None = None


def subject(db: Database, team_id: str, user_id: str) -> str:
    with db.session() as s:
        return opaque(s, f"forgotten:{team_id}:{user_id}")[:64]


def request(db: Database, team_id: str, user_id: str, *, requested_by: str | None) -> None:
    """An admin asked (in Slack): the slow work runs in the archive job, off the request path."""
    with db.session() as s:
        s.add(ForgottenMember(team_id=team_id, subject=opaque(s, f"forgotten:{team_id}:{user_id}")[:64],
                              pending_user=cipher(s).encrypt(user_id), requested_by=requested_by, status=PENDING))


def run_pending(db: Database, archive: Archive) -> int:
    with db.session() as s:
        todo = [(r.id, r.team_id, cipher(s).decrypt(r.pending_user or ""))
                for r in s.scalars(select(ForgottenMember).where(ForgottenMember.status == PENDING))]
    for row_id, team_id, user_id in todo:
        forget(db, archive, team_id, user_id, record_id=row_id)
    return len(todo)


def forget(db: Database, archive: Archive, team_id: str, user_id: str, *, record_id: int | None = None,
           now: datetime | None = None) -> ForgetReport:
    now = now or utcnow()
    report = ForgetReport()
    with archive_lock(db):
        report.db_rows = _forget_in_db(db, user_id)
        _forget_in_archive(db, archive, team_id, user_id, now, report)
    with db.session() as s:
        values: dict[str, Any] = dict(status=DONE, pending_user=None, db_rows=report.db_rows,
                                      objects_rewritten=report.objects_rewritten, done_at=utcnow())
        if record_id is not None:
            s.execute(update(ForgottenMember).where(ForgottenMember.id == record_id).values(**values))
        else:
            s.add(ForgottenMember(team_id=team_id, subject=opaque(s, f"forgotten:{team_id}:{user_id}")[:64],
                                  requested_by=None, **values))
    log.info("members.forgotten db_rows=%d objects_rewritten=%d", report.db_rows, report.objects_rewritten)
    return report


def _parts() -> list[Part]:
    return [p for k in KINDS for p in k.parts] + list(LIVE)


def _forget_in_db(db: Database, user_id: str) -> int:
    ts = tables()
    changed = 0
    with db.session() as s:
        c = cipher(s)
        rule = Forgetting(user_id, c.decrypt, c.encrypt)
        for p in _parts():
            t = ts[p.table]
            for col in p.owner:
                changed += affected(s.execute(delete(t).where(t.c[col] == user_id),
                                              execution_options={"synchronize_session": False}))
            for col in (x for x in p.people if x not in p.owner):
                blank = "forgotten" if col == "actor" else None
                changed += affected(s.execute(update(t).where(t.c[col] == user_id).values({col: blank}),
                                              execution_options={"synchronize_session": False}))
            pk = _pk(t)
            for col in p.sealed_people:
                for r in s.execute(select(*pk, t.c[col]).where(t.c[col].is_not(None))).all():
                    new = rule._sealed(r[-1])
                    if new != r[-1]:
                        s.execute(update(t).where(*(k == v for k, v in zip(pk, r[:-1], strict=True)))
                                  .values({col: new}))
                        changed += 1
    return changed


def _forget_in_archive(db: Database, archive: Archive, team_id: str, user_id: str, now: datetime,
                       report: ForgetReport) -> None:
    run_id = new_run_id(now) + "-forget"
    tag = subject(db, team_id, user_id)[:10]
    with db.session() as s:
        c = cipher(s)
    written: list[dict] = []
    replaces: dict[str, str] = {}
    replaced = {old for _, m in manifests(archive) for old in m.get("replaces", {})}
    for name in objects(archive):
        if name.team != team_id:
            continue
        if name.key in replaced:  # a forget crashed after its manifest, before deleting the old object
            _delete_old(archive, name.key, report)
            continue
        k = kind(name.kind)
        parts = {p.table: p for p in k.parts}
        rule = Forgetting(user_id, c.decrypt, c.encrypt)
        path, rows = write_gzip(_cleaned(archive, name.key, rule, parts))
        try:
            if not rule.changed:
                continue
            obj = file_digest(path)
            new_key = name.key.removesuffix(".jsonl.gz") + f"-f{tag}.jsonl.gz"
            if archive.exists(new_key):
                archive.delete(new_key)  # an orphan of a crashed forget (no manifest names it): sealed values differ
            archive.put_file(new_key, path, sha256=obj.sha256, size=obj.size)
        finally:
            path.unlink(missing_ok=True)
        got = digest(archive, new_key)
        if (got.size, got.sha256) != (obj.size, obj.sha256):
            raise ArchiveCorrupt(f"rewritten object {new_key} read back differently; the old object is kept")
        written.append({"key": new_key, "team": name.team, "kind": name.kind, "day": name.day, "rows": rows,
                        "size": obj.size, "sha256": obj.sha256})
        replaces[name.key] = new_key
    if written:
        report.manifest = f"{MANIFESTS}/{run_id}.json"
        archive.put(report.manifest, manifest_body(run_id, now, written, replaces))
        with db.session() as s:
            for old, new in replaces.items():
                s.execute(update(ArchiveBatch).where(ArchiveBatch.object_key == old).values(object_key=new))
    report.objects_rewritten = len(written)
    for old in replaces:
        _delete_old(archive, old, report)


def _cleaned(archive: Archive, key: str, rule: Forgetting, parts: dict[str, Part]) -> Iterator[bytes]:
    for line in read_lines(archive, key):
        row = rule.row(parts[line["t"]], line["r"])
        if row is not None:
            yield orjson.dumps({"k": line["k"], "t": line["t"], "r": row}) + b"\n"


def _delete_old(archive: Archive, key: str, report: ForgetReport) -> None:
    try:
        archive.delete(key)
    except ArchiveError:  # under Object Lock retention: S3 refuses until it ends; said in the report
        report.objects_kept.append(key)
