"""The data lifecycle against a real archive (a folder, and moto's S3 server over HTTP): archive runs, privacy in
the objects, verify, restore, crashes at every step (a killed subprocess), faults, and forgetting a member."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import boto3
import pytest
from sqlalchemy import func, select

from storage.archive import ArchiveCorrupt, ArchiveError, FolderArchive, S3Archive
from storage.lifecycle import forget, reader
from storage.lifecycle.archiver import WORKERS, Archiver, tables
from storage.lifecycle.kinds import KINDS, retention
from storage.models import ArchiveBatch, ForgottenMember
from tests.lifecycle_seed import SECRET_WORDS, TEAM, seed_all
from tests.s3server import aws_env, s3_endpoint, unique_prefix  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["folder", "s3"])
def archive(request, tmp_path):
    if request.param == "folder":
        return FolderArchive(tmp_path / "archive")
    endpoint = request.getfixturevalue("s3_endpoint")
    return S3Archive(endpoint.bucket, f"hearth/{unique_prefix()}")


def counts(db) -> dict[str, int]:
    ts = tables()
    with db.session() as s:
        return {t: s.scalar(select(func.count()).select_from(ts[t])) for k in KINDS for t in (p.table for p in k.parts)}


def _when_free(run, seconds: float = 10.0):
    """`run()`, retried while a killed run's lock is still held: PostgreSQL frees a session's advisory lock
    when it notices the connection is gone, a moment after the process died."""
    import time

    from storage.lifecycle.lock import ArchiveBusy

    deadline = time.monotonic() + seconds
    while True:
        try:
            return run()
        except ArchiveBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def archived_lines(archive) -> list[dict]:
    return [line for name in reader.objects(archive) for line in reader.read_lines(archive, name.key)]


def raw_bytes(archive) -> bytes:
    out = b""
    for name in reader.objects(archive):
        with archive.reader(name.key) as f:
            out += gzip.decompress(f.read())
    return out


def unit_keys(lines: list[dict]) -> Counter:
    """Rows by identity; anonymous rows have none (their ids were dropped): counted by `anonymous_rows`."""
    return Counter((line["t"], json.dumps(line["k"]), json.dumps(line["r"], sort_keys=True)) for line in lines
                   if line["t"] not in ("survey_answer", "survey_comment"))


def anonymous_rows(lines: list[dict]) -> int:
    return sum(line["t"] in ("survey_answer", "survey_comment") for line in lines)


def test_a_run_moves_finished_old_records_into_partitioned_objects_with_a_manifest(db, archive):
    expected = seed_all(db, db.crypto)
    before = counts(db)
    report = Archiver(db, archive).run(retention=retention())
    assert report.rows == expected
    after = counts(db)
    # the open round, the open survey run, the open case, the pending message and the running job stay
    assert after["checkin_round"] == 1 and after["survey_run"] == 1 and after["report_case"] == 1
    assert after["outbox"] == 1 and after["job_run"] == 1 and after["buddy_round"] == 0
    assert sum(before.values()) - sum(after.values()) >= report.total  # below-minimum answers leave unarchived
    keys = [n.key for n in reader.objects(archive)]
    assert {k.split("/")[1] for k in keys} == {k.name for k in KINDS}
    assert all(k.split("/")[2] == "2023-01-15" for k in keys)
    assert all(k.startswith(f"{TEAM}/") for k in keys if "/jobruns/" not in k)
    manifest = json.loads(archive.get(report.manifest))
    assert sum(o["rows"] for o in manifest["objects"]) == report.total
    assert {o["key"] for o in manifest["objects"]} == set(keys)
    assert reader.verify(archive) == (len(keys), [])
    # a second run finds nothing due and writes nothing
    again = Archiver(db, archive).run(retention=retention())
    assert again.total == 0 and again.manifest is None


def test_retention_per_kind_and_recent_records_stay(db, archive):
    seed_all(db, db.crypto)
    report = Archiver(db, archive).run([k for k in KINDS if k.name == "delivery"],
                                       retention=dict(retention("delivery=10000d")))
    assert report.total == 0
    report = Archiver(db, archive).run(retention=retention("delivery=30d,checkins=3650d"))
    assert "delivery" in report.rows and "checkins" not in report.rows


def test_privacy_holds_in_the_archive(db, archive):
    seed_all(db, db.crypto)
    Archiver(db, archive).run(retention=retention())
    lines = archived_lines(archive)
    by_table: dict[str, list[dict]] = {}
    for line in lines:
        by_table.setdefault(line["t"], []).append(line["r"])
    assert SECRET_WORDS.encode() not in raw_bytes(archive)  # check-in, comment and report text stay sealed
    assert db.crypto.decrypt(by_table["checkin"][0]["gratitude"]) == SECRET_WORDS
    answers = by_table["survey_answer"]
    assert len(answers) == 12  # only the run that met its minimum; the run of 3 left its answers out
    assert all(set(a) == {"run_id", "question_id", "value", "labels"} for a in answers)  # no id, no member, no time
    assert len(by_table["survey_comment"]) == 1 and "id" not in by_table["survey_comment"][0]
    cases = {c["anonymous"]: c for c in by_table["report_case"]}
    assert cases[True]["reporter_sealed"] is None and cases[True]["reporter_id"] is None
    assert db.crypto.decrypt(cases[False]["reporter_sealed"]) == "UDAVE"
    anonymous_lines = [json.dumps(line) for line in lines if line["t"].startswith("report") and
                       line["k"] == cases[True]["id"]]
    assert anonymous_lines and not any("UDAVE" in text for text in anonymous_lines)


def test_restore_into_the_database_is_idempotent_and_to_a_file(db, archive, tmp_path):
    seed_all(db, db.crypto)
    before = counts(db)
    Archiver(db, archive).run(retention=retention())
    names = reader.objects(archive, kind_name="checkins")
    first = reader.restore_to_db(db, archive, names)
    assert first.units == 1 and first.rows == 7
    assert counts(db)["checkin"] == before["checkin"] and counts(db)["checkin_help_offer"] == before["checkin_help_offer"]
    second = reader.restore_to_db(db, archive, names)
    assert second.units == 0 and second.skipped == 1 and counts(db)["checkin"] == before["checkin"]
    surveys = reader.objects(archive, kind_name="surveys")
    assert reader.restore_to_db(db, archive, surveys).rows == 16
    assert counts(db)["survey_answer"] == before["survey_answer"] - 12  # the run of 3's answers were never kept
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as f:
        written = reader.restore_to_file(archive, reader.objects(archive, kind_name="reports"), f)
    assert written.rows == 6 and len(out.read_bytes().splitlines()) == 6
    assert reader.objects(archive, kind_name="reports", start=OLD_DAY_AFTER) == []


OLD_DAY_AFTER = __import__("datetime").date(2023, 1, 16)


# ---- crashes: a subprocess killed at each step, then a rerun --------------------------------------------------


@pytest.mark.parametrize("step", ["pending", "serialised", "uploaded", "verified", "deleted", "manifest"])
def test_a_crash_at_any_step_loses_nothing_and_a_rerun_duplicates_nothing(db, s3_endpoint, database_url, db_key,
                                                                          step):
    seed_all(db, db.crypto)
    from tests.lifecycle_seed import seed_delivery

    seed_delivery(db, 250)
    prefix = unique_prefix()
    env = {**os.environ, **aws_env(s3_endpoint.url), "DATABASE_URL": database_url, "HEARTH_ENCRYPTION_KEY": db_key,
           "ARCHIVE_URL": f"s3://{s3_endpoint.bucket}/{prefix}", "HEARTH_ARCHIVE_FAULT": step, "HEARTH_ENV": "production"}
    crashed = subprocess.run([sys.executable, "-c", "from slack_app.cli import main; main()", "archive", "run",
                              "--batch", "100"], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]
    archive = S3Archive(s3_endpoint.bucket, prefix)
    report = _when_free(lambda: Archiver(db, archive, batch=100).run(retention=retention()))
    # Batches are archived on worker threads while the next are cut: a crash leaves those in flight pending.
    assert report.resumed == 0 if step == "manifest" else report.resumed <= WORKERS + 1
    lines = archived_lines(archive)
    assert max(unit_keys(lines).values()) == 1  # every archived row exactly once, across all objects
    assert anonymous_rows(lines) == 13
    assert Counter(line["t"] for line in lines)["outbox"] == 252
    after = counts(db)
    assert after["outbox"] == 1 and after["checkin"] == 2 and after["survey_run"] == 1
    checked, problems = reader.verify(archive)
    assert problems == [] and checked == len(reader.objects(archive))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ArchiveBatch).where(ArchiveBatch.manifest_key.is_(None))) == 0


# ---- faults ---------------------------------------------------------------------------------------------------


def test_a_failed_upload_keeps_the_rows_and_a_rerun_finishes(db, s3_endpoint):
    expected = seed_all(db, db.crypto)
    before = counts(db)
    gone = S3Archive("hearth-no-such-bucket", "x")
    with pytest.raises(ArchiveError, match="does not exist"):
        Archiver(db, gone).run(retention=retention())
    assert counts(db) == before
    archive = S3Archive(s3_endpoint.bucket, unique_prefix())
    report = Archiver(db, archive).run(retention=retention())
    assert 1 <= report.resumed <= WORKERS + 1 and report.rows == expected  # the batches in flight
    assert max(unit_keys(archived_lines(archive)).values()) == 1


def test_a_checksum_mismatch_after_upload_keeps_the_rows_then_the_object_is_written_again(db, s3_endpoint):
    expected = seed_all(db, db.crypto)
    prefix = unique_prefix()
    archive = S3Archive(s3_endpoint.bucket, prefix)
    s3 = boto3.client("s3")

    def corrupt(step, batch):
        if step == "uploaded":  # someone (or a faulty store) changes the bytes before they are read back
            s3.put_object(Bucket=s3_endpoint.bucket, Key=f"{prefix}/{batch.object_key}", Body=b"garbage")

    before = counts(db)
    with pytest.raises(ArchiveCorrupt):
        Archiver(db, archive, hook=corrupt).run(retention=retention())
    assert counts(db) == before
    report = Archiver(db, archive).run(retention=retention())
    assert report.rows == expected and reader.verify(archive)[1] == []


def test_a_bucket_that_disappears_stops_the_run_without_losing_rows(db, s3_endpoint):
    seed_all(db, db.crypto)
    s3 = boto3.client("s3")
    bucket = f"hearth-vanishing-{unique_prefix()}"
    s3.create_bucket(Bucket=bucket)
    archive = S3Archive(bucket, "p")

    first = threading.Lock()  # steps run on the pipeline's threads, several batches at once

    def vanish(step, batch):
        if step == "deleted" and first.acquire(blocking=False):
            gone.append(batch.id)
            for _ in range(20):  # other batches may still be uploading into it
                for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=o["Key"])
                try:
                    s3.delete_bucket(Bucket=bucket)
                    return
                except s3.exceptions.ClientError:
                    continue

    gone: list[int] = []
    before = counts(db)
    with pytest.raises(ArchiveError, match=f"bucket {bucket} does not exist"):
        Archiver(db, archive, hook=vanish).run(retention=retention())
    after = counts(db)
    from storage.lifecycle import archiver
    from storage.lifecycle.kinds import BY_NAME

    assert sum(before.values()) - sum(after.values()) >= 7  # the batches archived before it went
    with db.session() as s:
        pending = list(s.scalars(select(ArchiveBatch).where(ArchiveBatch.status == "pending")))
        assert 1 <= len(pending) <= WORKERS + 1  # those in flight when it went, resumed by the next run
        for b in pending:  # every row they were written from is still here
            k = BY_NAME[b.kind]
            span = archiver.Span.parse(b.root_ids, archiver._order(k, tables()[k.root.table]))
            assert b.rows is None or archiver._archived_rows(s, k, tables(), span) == b.rows


def test_verify_names_a_corrupted_and_a_missing_object(db, archive):
    seed_all(db, db.crypto)
    Archiver(db, archive).run(retention=retention())
    keys = [n.key for n in reader.objects(archive)]
    if isinstance(archive, FolderArchive):
        (archive.root / keys[0]).write_bytes(b"corrupted")
        (archive.root / keys[1]).unlink()
    else:
        s3 = boto3.client("s3")
        s3.put_object(Bucket=archive.bucket, Key=f"{archive.prefix}/{keys[0]}", Body=b"corrupted")
        s3.delete_object(Bucket=archive.bucket, Key=f"{archive.prefix}/{keys[1]}")
    checked, problems = reader.verify(archive)
    assert checked == len(keys)
    assert {(p.key, p.what.split()[0]) for p in problems} == {(keys[0], "size"), (keys[1], "missing")}


# ---- forgetting a member ---------------------------------------------------------------------------------------


def test_forgetting_a_member_cleans_the_database_and_rewrites_the_objects_that_hold_them(db, archive):
    seed_all(db, db.crypto)
    Archiver(db, archive).run(retention=retention())
    old_keys = {n.key for n in reader.objects(archive)}
    report = forget.forget(db, archive, TEAM, "UBOB")
    assert report.db_rows > 0 and report.objects_rewritten >= 3  # check-ins, buddies, delivery
    ts = tables()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ts["checkin"]).where(ts["checkin"].c.user_id == "UBOB")) == 0
        assert s.scalar(select(func.count()).select_from(ts["outbox"]).where(ts["outbox"].c.target == "UBOB")) == 0
        record = s.scalars(select(ForgottenMember)).one()
        assert record.status == "done" and "UBOB" not in record.subject and record.pending_user is None
    assert b"UBOB" not in raw_bytes(archive)
    groups = [line["r"] for line in archived_lines(archive) if line["t"] == "buddy_group"]
    assert [json.loads(db.crypto.decrypt(g["members"])) for g in groups] == [["UALICE"]]
    assert b"UALICE" in raw_bytes(archive)  # others keep their records
    now_keys = {n.key for n in reader.objects(archive)}
    assert len(old_keys - now_keys) == report.objects_rewritten  # the old objects are gone
    assert reader.verify(archive) == (len(now_keys), [])
    assert forget.forget(db, archive, TEAM, "UBOB").objects_rewritten == 0  # nothing left to find


def test_a_forget_request_from_slack_is_carried_out_by_the_job(db, archive):
    seed_all(db, db.crypto)
    forget.request(db, TEAM, "UBOB", requested_by="UALICE")
    with db.session() as s:
        pending = s.scalars(select(ForgottenMember)).one()
        assert pending.status == "pending" and "UBOB" not in (pending.pending_user or "")
    assert forget.run_pending(db, archive) == 1
    with db.session() as s:
        done = s.scalars(select(ForgottenMember)).one()
        assert done.status == "done" and done.pending_user is None and done.db_rows > 0


# ---- the `hearth` commands, as an operator runs them -----------------------------------------------------------


def hearth_cli(*args, env, cwd=ROOT):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARTH_", "DATABASE_URL", "ARCHIVE_URL"))}
    return subprocess.run([sys.executable, "-c", "from slack_app.cli import main; main()", *args],
                          env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_archive_commands_end_to_end(db, database_url, db_key, tmp_path):
    seed_all(db, db.crypto)
    env = {"DATABASE_URL": database_url, "HEARTH_ENCRYPTION_KEY": db_key, "ARCHIVE_URL": str(tmp_path / "arch"),
           "HEARTH_ENV": "production", "HEARTH_ARCHIVE_RETENTION": "checkins=3650d"}
    run = hearth_cli("archive", "run", env=env)
    assert run.returncode == 0, run.stderr
    assert "checkins" not in run.stdout and "delivery: 2 rows archived" in run.stdout
    run = hearth_cli("archive", "run", "--kind", "checkins", "--older-than", "30d", env=env)
    assert run.returncode == 0 and "checkins: 7 rows archived" in run.stdout
    listed = hearth_cli("archive", "list", env=env)
    assert listed.returncode == 0 and "T0HEARTH/checkins/2023-01-15/" in listed.stdout
    assert hearth_cli("archive", "verify", env=env).returncode == 0
    checkin_object = next(p for p in (tmp_path / "arch").rglob("*.jsonl.gz") if "checkins" in str(p))
    good = checkin_object.read_bytes()
    checkin_object.write_bytes(b"oops")
    bad = hearth_cli("archive", "verify", env=env)
    assert bad.returncode == 1 and checkin_object.relative_to(tmp_path / "arch").as_posix() in bad.stderr
    refused = hearth_cli("archive", "restore", "--kind", "checkins", env=env)
    assert refused.returncode == 2 and "is not readable" in refused.stderr and "Traceback" not in refused.stderr
    checkin_object.write_bytes(good)
    out = tmp_path / "reports.jsonl"
    restored = hearth_cli("archive", "restore", "--kind", "reports", "--from", "2023-01-01", "--to", "2023-12-31",
                          "--to-file", str(out), env=env)
    assert restored.returncode == 0 and len(out.read_text().splitlines()) == 6
    restored = hearth_cli("archive", "restore", "--kind", "delivery", env=env)
    assert restored.returncode == 0 and "2 record(s) restored" in restored.stdout
    again = hearth_cli("archive", "restore", "--kind", "delivery", env=env)
    assert "0 record(s) restored" in again.stdout and "2 already in the database" in again.stdout
    forgot = hearth_cli("members", "forget", "UBOB", "--team", TEAM, env=env)
    assert forgot.returncode == 0 and "Forgotten:" in forgot.stdout and "UBOB" not in forgot.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("archive", "run", "--older-than", "soon"), "is not a span of days"),
    (("archive", "run", "--kind", "photos"), "unknown kind 'photos'"),
    (("archive", "restore", "--kind", "reports", "--from", "yesterday"), "is not a date"),
    (("members", "forget", "bob"), "is not a Slack user id"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/h.db", "ARCHIVE_URL": str(tmp_path / "arch"), "HEARTH_ENV": "development"}
    result = hearth_cli(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_lifecycle_settings_are_one_line(tmp_path):
    for name, value in (("HEARTH_ARCHIVE_RETENTION", "photos=3d"), ("ARCHIVE_S3_SSE", "rot13"),
                        ("ARCHIVE_S3_OBJECT_LOCK_MODE", "forever")):
        result = hearth_cli("archive", "list", env={name: value, "DATABASE_URL": f"sqlite:///{tmp_path}/h.db"},
                            cwd=tmp_path)
        assert result.returncode == 2 and name in result.stderr and "Traceback" not in result.stderr


# ---- the admins' action in Slack (signed requests through the real app into the Slack simulator) --------------


def test_an_admin_asks_in_slack_to_forget_a_member_and_the_job_does_it(driver, simulator, hearth, caplog):
    from slack_app.lifecycle.jobs import forget_requested
    from slack_app.scheduling.registry import JobContext
    from slack_app.simulator import wait_for
    from tests.privacy import assert_logs_carry_no_user_ids

    db = hearth.services.db
    seed_all(db, db.crypto)
    assert driver.command("UBOB", "/hearth", text="forget <@UCAROL>").status == 200  # not an admin
    assert wait_for(lambda: simulator.response_url_posts())
    assert "Only Hearth admins" in simulator.response_url_posts()[-1]["body"]["text"]
    assert driver.command("UALICE", "/hearth", text="forget").status == 200
    assert wait_for(lambda: len(simulator.response_url_posts()) == 2)
    assert "mention exactly one person" in simulator.response_url_posts()[-1]["body"]["text"]
    resp = driver.command("UALICE", "/hearth", text="forget <@UBOB|bob>")
    assert resp.status == 200 and not resp.late
    assert wait_for(lambda: len(simulator.response_url_posts()) == 3)
    assert "will forget <@UBOB>" in simulator.response_url_posts()[-1]["body"]["text"]
    with db.session() as s:
        assert s.scalars(select(ForgottenMember.status)).all() == ["pending"]
    caplog.set_level("DEBUG", logger="hearth")
    result = forget_requested(JobContext(db=db, params={}, services=hearth.services))
    assert result == {"forgotten_count": 1}
    ts = tables()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ts["checkin"]).where(ts["checkin"].c.user_id == "UBOB")) == 0
        assert s.scalars(select(ForgottenMember.status)).all() == ["done"]
    assert_logs_carry_no_user_ids(caplog.records, ["UBOB", "UALICE"])


# ---- S3 options against moto: encryption, storage class, Object Lock, multipart -------------------------------


def test_s3_options_reach_the_objects_and_large_objects_go_up_in_parts(s3_endpoint, tmp_path):
    from storage.archive import S3Options, digest, file_digest

    s3 = boto3.client("s3")
    bucket = f"hearth-locked-{unique_prefix()}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    options = S3Options(sse="AES256", storage_class="STANDARD_IA", lock_mode="GOVERNANCE", lock_days=1, multipart_mb=5)
    archive = S3Archive(bucket, "p", options=options)
    small = tmp_path / "small.jsonl.gz"
    small.write_bytes(gzip.compress(b'{"k":1}\n'))
    big = tmp_path / "big.jsonl.gz"
    big.write_bytes(os.urandom(6 * 1024 * 1024))  # above the 5 MB threshold: multipart
    for path in (small, big):
        obj = file_digest(path)
        archive.put_file(f"T/delivery/2023-01-01/{path.name}", path, sha256=obj.sha256, size=obj.size)
        head = s3.head_object(Bucket=bucket, Key=f"p/T/delivery/2023-01-01/{path.name}")
        assert head["ServerSideEncryption"] == "AES256" and head["StorageClass"] == "STANDARD_IA"
        assert head["Metadata"]["sha256"] == obj.sha256
        if path is small:  # moto (5.2) drops Object Lock settings of multipart uploads; AWS keeps them
            assert head["ObjectLockMode"] == "GOVERNANCE"
        assert digest(archive, f"T/delivery/2023-01-01/{path.name}") == obj.__class__(
            f"T/delivery/2023-01-01/{path.name}", obj.sha256, obj.size)
    big_head = s3.head_object(Bucket=bucket, Key="p/T/delivery/2023-01-01/big.jsonl.gz")
    assert "-" in big_head["ETag"]  # a multipart upload's ETag names its parts
    again = file_digest(big)  # write-once: the same bytes again are a no-op, other bytes a conflict
    assert archive.put_file("T/delivery/2023-01-01/big.jsonl.gz", big, sha256=again.sha256, size=again.size).size == again.size
    from storage.archive import ArchiveConflict

    with pytest.raises(ArchiveConflict):
        archive.put_file("T/delivery/2023-01-01/big.jsonl.gz", small, sha256=file_digest(small).sha256, size=small.stat().st_size)


def test_kms_options_name_the_key():
    from storage.archive import S3Options

    args = S3Options(sse="aws:kms", kms_key_id="arn:aws:kms:eu-west-1:1:key/abc").extra_args()
    assert args == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:aws:kms:eu-west-1:1:key/abc"}
    assert S3Options().extra_args() == {}


def test_one_archive_writer_at_a_time(db, tmp_path):
    from storage.lifecycle.lock import ArchiveBusy

    seed_all(db, db.crypto)
    archive = FolderArchive(tmp_path / "arch")
    refused = []
    first = threading.Lock()  # steps run on the pipeline's threads, several batches at once

    def second_writer(step, batch):
        if step == "uploaded" and first.acquire(blocking=False):
            with pytest.raises(ArchiveBusy):
                Archiver(db, archive).run(retention=retention())
            with pytest.raises(ArchiveBusy):
                forget.forget(db, archive, TEAM, "UBOB")
            refused.append(step)

    assert Archiver(db, archive, hook=second_writer).run(retention=retention()).total > 0
    assert refused == ["uploaded"]
    assert Archiver(db, archive).run(retention=retention()).total == 0  # the lock is released afterwards


def test_every_column_that_names_a_member_is_covered_by_forgetting():
    """A new table or column holding a member id (user_id, *_by) must be one word in a Part, or forgetting misses it."""
    covered = {(p.table, c) for p in forget._parts() for c in (*p.people, *p.sealed_people)}
    named = {(t.name, c.name) for t in tables().values() for c in t.columns
             if c.name == "user_id" or c.name.endswith("_by")}
    assert named - covered == set()


def test_rows_the_database_writes_as_json_read_back_as_the_python_path_writes_them(db, monkeypatch):
    """Most parts are turned into JSON by the database (`row_json`): every value, read back, must equal what
    the per-row Python path writes, on this backend, for every kind seeded."""
    from datetime import timedelta

    from storage.lifecycle import archiver
    from storage.models import utcnow
    from tests.lifecycle_seed import seed_delivery

    seed_all(db, db.crypto)
    seed_delivery(db, 30)
    ts = tables()

    def batches(k):
        cutoff, after = utcnow() - timedelta(days=retention()[k.name]), None
        while True:
            with db.session() as s:
                found = archiver._next_span(s, k, ts, cutoff, 7, after)
                if found is None:
                    return
                after = found[0]
                yield b"".join(archiver.lines(s, k, after)), after

    def parsed(data: bytes) -> list:
        out = []
        for line in data.splitlines():
            d = json.loads(line)
            t = ts[d["t"]]
            out.append((d["t"], d["k"], {c: archiver.from_json(t.c[c], v) for c, v in d["r"].items()}))
        return out

    in_database = 0
    for k in KINDS:
        for data, span in list(batches(k)):
            in_database += sum(archiver.row_json(ts[p.table], db.engine.dialect.name) is not None
                               and not p.anonymous and p.clean is None for p in k.parts)
            with monkeypatch.context() as m:
                m.setattr(archiver, "row_json", lambda t, dialect: None)
                with db.session() as s:
                    by_python = b"".join(archiver.lines(s, k, span))
            assert parsed(data) == parsed(by_python), k.name
    assert in_database > 5  # the database wrote most parts


def test_records_that_change_after_their_object_is_written_are_written_again_before_anything_is_deleted(db, archive):
    """A delivery row vanishes between the object's read-back and the delete: the delete counts one row fewer
    than the object holds, so it is rolled back, the object is written afresh and only then are rows deleted."""
    from tests.lifecycle_seed import seed_delivery

    seed_delivery(db, 30)
    outbox = tables()["outbox"]
    with db.session() as s:
        victim = s.scalar(select(func.min(outbox.c.id)))
    changed = []
    holding = []  # the victim's batch: the first delivery batch cut (batches are cut in id order, one by one)

    def change(step, batch):
        if step == "pending" and batch.kind == "delivery" and not holding:
            holding.append(batch.id)
        # Steps after "pending" run on the pipeline's threads, several batches at once: acting on whichever
        # batch is verified first could find the victim's batch already deleted.
        if step == "verified" and holding == [batch.id] and not changed:
            with db.session() as s:
                s.execute(outbox.delete().where(outbox.c.id == victim))
            changed.append(batch.id)

    report = Archiver(db, archive, hook=change, batch=10).run(retention=retention())
    assert changed and report.rows["delivery"] == 29
    ids = [line["r"]["id"] for line in archived_lines(archive) if line["t"] == "outbox"]
    assert sorted(ids) == sorted(set(ids)) and victim not in ids and len(ids) == 29
    assert counts(db)["outbox"] == 0
