"""Archives: a local folder, and S3 spoken over HTTP to moto's server on loopback."""

import base64
import hashlib
import os
import stat
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from slack_app.settings import SettingsError
from storage.archive import (
    ArchiveConflict,
    ArchiveCorrupt,
    ArchivedObject,
    ArchiveError,
    ArchiveNotFound,
    FolderArchive,
    InvalidKey,
    S3Archive,
    open_archive,
)
from tests.s3server import s3_endpoint, unique_prefix  # noqa: F401  (fixture)

BATCH = b'{"rows": [1, 2, 3]}'
OTHER = b'{"rows": [4]}'


@pytest.fixture(params=["folder", "s3"])
def archive(request, tmp_path):
    if request.param == "folder":
        return FolderArchive(tmp_path / "archive")
    endpoint = request.getfixturevalue("s3_endpoint")
    return S3Archive(endpoint.bucket, f"hearth/{unique_prefix()}")


def test_put_returns_the_content_address_and_get_returns_the_bytes(archive):
    obj = archive.put("reports/2024/batch-1.json", BATCH)
    assert obj == ArchivedObject("reports/2024/batch-1.json", hashlib.sha256(BATCH).hexdigest(), len(BATCH))
    assert archive.get("reports/2024/batch-1.json") == BATCH
    assert archive.get("reports/2024/batch-1.json", sha256=obj.sha256) == BATCH
    with pytest.raises(ArchiveCorrupt):
        archive.get("reports/2024/batch-1.json", sha256=hashlib.sha256(OTHER).hexdigest())


def test_exists_and_list_by_prefix(archive):
    assert archive.list() == [] and not archive.exists("a/one.json")
    for key in ("a/one.json", "a/two.json", "b/three.json"):
        archive.put(key, BATCH)
    assert archive.exists("a/one.json") and not archive.exists("a/four.json")
    assert archive.list() == ["a/one.json", "a/two.json", "b/three.json"]
    assert archive.list("a/") == ["a/one.json", "a/two.json"]
    assert archive.list("c/") == []


def test_objects_are_never_overwritten(archive):
    first = archive.put("checkins/batch.json", BATCH)
    assert archive.put("checkins/batch.json", BATCH) == first  # re-running a job is harmless
    with pytest.raises(ArchiveConflict):
        archive.put("checkins/batch.json", OTHER)
    assert archive.get("checkins/batch.json") == BATCH


def test_missing_object(archive):
    with pytest.raises(ArchiveNotFound):
        archive.get("nope.json")


@pytest.mark.parametrize("key", ["", "../escape.json", "a/../../escape.json", "/etc/passwd", "a//b", "a/./b",
                                 ".hidden", "a/.hearth-probe/x", "a\\b", "a/"])
def test_keys_that_could_escape_or_collide_are_rejected(archive, key):
    with pytest.raises(InvalidKey):
        archive.put(key, BATCH)
    with pytest.raises(InvalidKey):
        archive.get(key)


def test_check_passes_and_leaves_nothing_behind(archive):
    assert archive.check() is None
    assert archive.list() == []


# ---- folder specifics -----------------------------------------------------------------------------------


def test_folder_writes_atomically_without_leftovers(tmp_path):
    root = tmp_path / "archive"
    FolderArchive(root).put("x/batch.json", BATCH)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["x", "x/batch.json"]
    assert not (tmp_path / "escape.json").exists()


def test_folder_check_reports_an_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    problem = FolderArchive(blocker / "archive").check()
    assert problem and problem.startswith("folder not writable") and "\n" not in problem

    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            assert FolderArchive(locked).check().startswith("folder not writable")
        finally:
            locked.chmod(stat.S_IRWXU)


def test_folder_detects_bytes_changed_on_disk(tmp_path):
    archive = FolderArchive(tmp_path)
    obj = archive.put("batch.json", BATCH)
    (tmp_path / "batch.json").write_bytes(OTHER)
    with pytest.raises(ArchiveCorrupt):
        archive.get("batch.json", sha256=obj.sha256)


# ---- S3 specifics ---------------------------------------------------------------------------------------


def test_s3_object_carries_its_checksum_and_content_type(s3_endpoint):
    prefix = unique_prefix()
    S3Archive(s3_endpoint.bucket, prefix).put("batch.csv", BATCH, content_type="text/csv")
    head = boto3.client("s3").head_object(Bucket=s3_endpoint.bucket, Key=f"{prefix}/batch.csv")
    assert head["ContentType"] == "text/csv"
    assert head["Metadata"]["sha256"] == hashlib.sha256(BATCH).hexdigest()
    # The SHA-256 travelled with the upload (S3 rejects a body that does not match it) and is kept.
    head = boto3.client("s3").head_object(Bucket=s3_endpoint.bucket, Key=f"{prefix}/batch.csv", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(BATCH).digest()).decode()


def test_s3_get_detects_bytes_that_do_not_match_the_stored_checksum(s3_endpoint):
    prefix = unique_prefix()
    wrong = base64.b64encode(hashlib.sha256(OTHER).digest()).decode()
    boto3.client("s3").put_object(Bucket=s3_endpoint.bucket, Key=f"{prefix}/batch.json", Body=BATCH,
                                  ChecksumAlgorithm="SHA256", ChecksumSHA256=wrong)  # moto keeps it: a corrupted store
    with pytest.raises(ArchiveCorrupt):
        S3Archive(s3_endpoint.bucket, prefix).get("batch.json")


def test_s3_put_never_replaces_an_object_written_by_a_concurrent_writer(s3_endpoint, monkeypatch):
    prefix = unique_prefix()
    archive = S3Archive(s3_endpoint.bucket, prefix)
    boto3.client("s3").put_object(Bucket=s3_endpoint.bucket, Key=f"{prefix}/batch.json", Body=OTHER,
                                  Metadata={"sha256": hashlib.sha256(OTHER).hexdigest()})
    real, calls = archive._stored_sha256, []

    def first_check_misses(key):
        # The other writer lands between our existence check and our upload: only If-None-Match stops us.
        calls.append(key)
        return None if len(calls) == 1 else real(key)

    monkeypatch.setattr(archive, "_stored_sha256", first_check_misses)
    with pytest.raises(ArchiveConflict):
        archive.put("batch.json", BATCH)
    assert len(calls) == 2 and archive.get("batch.json") == OTHER


def test_s3_get_detects_an_object_replaced_behind_our_back(s3_endpoint):
    prefix = unique_prefix()
    archive = S3Archive(s3_endpoint.bucket, prefix)
    archive.put("batch.json", BATCH)
    boto3.client("s3").put_object(Bucket=s3_endpoint.bucket, Key=f"{prefix}/batch.json", Body=OTHER,
                                  Metadata={"sha256": hashlib.sha256(BATCH).hexdigest()})
    with pytest.raises(ArchiveCorrupt):
        archive.get("batch.json")


def test_s3_check_names_a_missing_bucket(s3_endpoint):
    archive = S3Archive("no-such-hearth-bucket", "x")
    assert archive.check() == "bucket no-such-hearth-bucket does not exist"
    with pytest.raises(ArchiveError, match="bucket no-such-hearth-bucket does not exist"):
        archive.list()
    with pytest.raises(ArchiveError, match="bucket no-such-hearth-bucket does not exist"):
        archive.put("batch.json", BATCH)


@pytest.mark.parametrize("code, status, expected", [
    ("AccessDenied", 403, "access denied: the credentials may not write to bucket hearth-archive"),
    ("InvalidAccessKeyId", 403, "the AWS credentials were rejected (InvalidAccessKeyId)"),
])
def test_s3_check_explains_refusals(s3_endpoint, code, status, expected):
    client = boto3.client("s3")
    with Stubber(client) as stub:
        stub.add_client_error("put_object", service_error_code=code, http_status_code=status)
        assert S3Archive("hearth-archive", "x", client=client).check() == expected


def test_s3_check_without_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = boto3.session.Session().client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    assert S3Archive("hearth-archive", client=client).check().startswith("no AWS credentials found")


def test_s3_check_reports_an_unreachable_endpoint(s3_endpoint):
    client = boto3.client("s3", endpoint_url="http://127.0.0.1:9", config=Config(
        retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1))
    problem = S3Archive(s3_endpoint.bucket, client=client).check()
    assert problem and "127.0.0.1:9" in problem and "\n" not in problem


# ---- ARCHIVE_URL ----------------------------------------------------------------------------------------


def test_open_archive_understands_folders_file_urls_and_s3():
    folder = open_archive("var/archive")
    assert isinstance(folder, FolderArchive) and folder.root == Path("var/archive")
    assert folder.describe() == "folder var/archive"

    file_url = open_archive("file:///srv/hearth%20archive")
    assert isinstance(file_url, FolderArchive) and file_url.root == Path("/srv/hearth archive")

    s3 = open_archive("s3://hearth-archive/community/old/")
    assert isinstance(s3, S3Archive) and (s3.bucket, s3.prefix) == ("hearth-archive", "community/old")
    assert s3.describe() == "s3://hearth-archive/community/old"
    assert open_archive("s3://hearth-archive").describe() == "s3://hearth-archive"


@pytest.mark.parametrize("url", ["", "s3:///prefix", "ftp://host/x", "file://otherhost/x"])
def test_open_archive_rejects_unsupported_urls_in_one_line(url):
    with pytest.raises(SettingsError) as info:
        open_archive(url)
    assert str(info.value).startswith("ARCHIVE_URL") and "\n" not in str(info.value)


def test_open_archive_reaches_s3_through_the_aws_environment(s3_endpoint):
    archive = open_archive(f"s3://{s3_endpoint.bucket}/{unique_prefix()}")
    assert archive.check() is None
    archive.put("hello.json", BATCH)
    assert archive.get("hello.json") == BATCH
