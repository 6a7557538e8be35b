"""Where old records go: a local folder or an S3 bucket. The only module that calls boto3.

Archives are write-once: an object is never silently replaced. Putting the same bytes again is a
no-op (so an interrupted archive job can simply be re-run); different bytes under an existing key
raise `ArchiveConflict`. Every object's SHA-256 is returned to the caller (to record next to the
batch) and, on S3, sent as a checksum the server verifies and kept in the object's metadata.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from storage.errors import SettingsError

PROBE_DIR = ".hearth-probe"  # hidden: keys may not have dot-segments, so probes never show in list()


@dataclass(frozen=True)
class ArchivedObject:
    key: str
    sha256: str  # hex
    size: int


class ArchiveError(Exception):
    """The archive could not do what was asked; the message is one line without object content."""


class ArchiveConflict(ArchiveError):
    """The key already holds different bytes; archives never overwrite."""


class ArchiveCorrupt(ArchiveError):
    """The bytes read back do not match the recorded SHA-256."""


class ArchiveNotFound(ArchiveError):
    """No object under that key."""


class InvalidKey(ArchiveError, ValueError):
    """A key that could escape the archive root or collide with Hearth's own files."""


class Archive(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> ArchivedObject: ...

    def get(self, key: str, *, sha256: str | None = None) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def check(self) -> str | None: ...

    def describe(self) -> str: ...

    def put_file(self, key: str, path: Path, *, sha256: str, size: int,
                 content_type: str = "application/gzip") -> ArchivedObject: ...

    def reader(self, key: str) -> AbstractContextManager[BinaryIO]: ...

    def delete(self, key: str) -> None: ...


CHUNK = 1 << 20  # streamed reads: bounded memory whatever an object's size


def digest(archive: Archive, key: str) -> ArchivedObject:
    """Read an object back in chunks: its size and SHA-256 as stored (what verification compares)."""
    h, size = hashlib.sha256(), 0
    with archive.reader(key) as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return ArchivedObject(key, h.hexdigest(), size)


def file_digest(path: Path) -> ArchivedObject:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return ArchivedObject(path.name, h.hexdigest(), size)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def validate_key(key: str) -> str:
    """Relative POSIX paths of plain segments: no '..', '.', hidden or empty segments, no backslashes."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise InvalidKey(f"invalid archive key {key!r}: use a relative path such as reports/2024/batch-1.json")
    for part in key.split("/"):
        if not part or part.startswith("."):
            raise InvalidKey(f"invalid archive key {key!r}: empty, '.', '..' and hidden path segments are not allowed")
    return key


def _verify(key: str, data: bytes, expected: str | None) -> bytes:
    if expected is not None and sha256_hex(data) != expected.lower():
        raise ArchiveCorrupt(f"archive object {key} does not match its recorded SHA-256")
    return data


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ---- local folder ---------------------------------------------------------------------------------------


class FolderArchive:
    """Objects as files under `root`. Written to a temp file, fsynced, then published atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        return f"folder {self.root}"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*PurePosixPath(validate_key(key)).parts)

    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> ArchivedObject:
        path = self._path(key)
        obj = ArchivedObject(key, sha256_hex(data), len(data))
        if path.exists():
            return self._same_or_conflict(obj, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # atomic and never clobbers, unlike os.replace, if two writers race
            except FileExistsError:
                return self._same_or_conflict(obj, path)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                os.replace(tmp, path)  # a filesystem without hard links: atomic, checked for existence above
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
        return obj

    def _same_or_conflict(self, obj: ArchivedObject, path: Path) -> ArchivedObject:
        if file_digest(path).sha256 != obj.sha256:
            raise ArchiveConflict(f"archive object {obj.key} already exists with different content")
        return obj

    def get(self, key: str, *, sha256: str | None = None) -> bytes:
        try:
            return _verify(key, self._path(key).read_bytes(), sha256)
        except (FileNotFoundError, IsADirectoryError):
            raise ArchiveNotFound(f"archive object {key} does not exist") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        keys = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                if not name.startswith(".") and key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def put_file(self, key: str, path: Path, *, sha256: str, size: int,
                 content_type: str = "application/gzip") -> ArchivedObject:
        target = self._path(key)
        obj = ArchivedObject(key, sha256, size)
        if target.exists():
            return self._same_or_conflict(obj, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, target)
            except FileExistsError:
                return self._same_or_conflict(obj, target)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return obj

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        try:
            f = open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise ArchiveNotFound(f"archive object {key} does not exist") from None
        with f:
            yield f

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def check(self) -> str | None:
        probe = self.root / PROBE_DIR / f"{uuid.uuid4().hex}.txt"
        payload = b"hearth archive probe"
        try:
            probe.parent.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(payload)
            ok = probe.read_bytes() == payload
            probe.unlink()
        except OSError as exc:
            return f"folder not writable ({exc.strerror or _one_line(exc)})"
        return None if ok else "folder returned different bytes than were written"


def _fsync_dir(path: Path) -> None:
    """Make the new directory entry durable too (POSIX); best effort elsewhere."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- S3 -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Options:
    """How archive objects are stored (ARCHIVE_S3_* settings): server-side encryption (`AES256` = SSE-S3, or
    `aws:kms` with `kms_key_id`), storage class, Object Lock retention, and when uploads go multipart."""

    sse: str | None = None
    kms_key_id: str | None = None
    storage_class: str | None = None
    lock_mode: str | None = None  # GOVERNANCE or COMPLIANCE (the bucket must have Object Lock enabled)
    lock_days: int = 0
    multipart_mb: int = 64

    def extra_args(self, now: datetime | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.sse:
            args["ServerSideEncryption"] = self.sse
        if self.sse == "aws:kms" and self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        if self.lock_mode and self.lock_days > 0:
            args["ObjectLockMode"] = self.lock_mode
            args["ObjectLockRetainUntilDate"] = (now or datetime.now(UTC)) + timedelta(days=self.lock_days)
        return args


class S3Archive:
    """Objects in `bucket` under `prefix`. Credentials, region and endpoint come from boto3's usual
    sources (AWS_* variables, profiles, instance roles), including AWS_ENDPOINT_URL for S3-compatible stores."""

    def __init__(self, bucket: str, prefix: str = "", client: Any | None = None,
                 options: S3Options | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.options = options or S3Options()
        if client is not None:
            self.client = client

    @cached_property
    def client(self) -> Any:
        # Made on first use, so a misconfiguration surfaces in check() rather than at start-up.
        import boto3
        from botocore.config import Config

        # An own session: boto3's default session caches credentials process-wide.
        return boto3.session.Session().client("s3", config=Config(retries={"mode": "standard", "max_attempts": 3},
                                                                connect_timeout=5, read_timeout=30))

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, *, content_type: str = "application/json") -> ArchivedObject:
        from botocore.exceptions import ClientError

        obj = ArchivedObject(validate_key(key), sha256_hex(data), len(data))
        existing = self._stored_sha256(key)
        if existing is not None:
            return self._same_or_conflict(obj, existing)
        digest = base64.b64encode(bytes.fromhex(obj.sha256)).decode("ascii")
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._full(key), Body=data, ContentType=content_type,
                ChecksumAlgorithm="SHA256", ChecksumSHA256=digest,  # S3 rejects a body that does not match, and keeps it
                Metadata={"sha256": obj.sha256},
                IfNoneMatch="*",  # and refuses to replace an object someone wrote since the check above
            )
        except ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise ArchiveError(f"cannot write {self.describe()}/{key}: {_problem(exc, self.bucket)}") from None
            return self._same_or_conflict(obj, self._stored_sha256(key) or "")
        return obj

    def _same_or_conflict(self, obj: ArchivedObject, stored_sha256: str) -> ArchivedObject:
        if stored_sha256 != obj.sha256:
            raise ArchiveConflict(f"archive object {obj.key} already exists with different content")
        return obj

    def _stored_sha256(self, key: str) -> str | None:
        """The SHA-256 of an existing object (from metadata, else by reading it); None when absent."""
        head = self._head(key)
        if head is None:
            return None
        return head.get("Metadata", {}).get("sha256") or sha256_hex(self.get(key))

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._full(validate_key(key)))
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise ArchiveError(f"cannot read {self.describe()}/{key}: {_problem(exc, self.bucket)}") from None

    def get(self, key: str, *, sha256: str | None = None) -> bytes:
        from botocore.exceptions import ClientError, FlexibleChecksumError

        try:
            # ChecksumMode makes botocore verify S3's stored checksum against the bytes received.
            resp = self.client.get_object(Bucket=self.bucket, Key=self._full(validate_key(key)), ChecksumMode="ENABLED")
            data = resp["Body"].read()
        except FlexibleChecksumError:
            raise ArchiveCorrupt(f"archive object {key} does not match the checksum S3 stored with it") from None
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise ArchiveNotFound(f"archive object {key} does not exist") from None
            raise ArchiveError(f"cannot read {self.describe()}/{key}: {_problem(exc, self.bucket)}") from None
        _verify(key, data, resp.get("Metadata", {}).get("sha256"))
        return _verify(key, data, sha256)

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def list(self, prefix: str = "") -> list[str]:
        from botocore.exceptions import ClientError

        base = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base + prefix):
                for item in page.get("Contents", []):
                    key = item["Key"].removeprefix(base)
                    if not any(part.startswith(".") for part in key.split("/")):  # probes and foreign dot-files
                        keys.append(key)
        except ClientError as exc:
            raise ArchiveError(f"cannot list {self.describe()}: {_problem(exc, self.bucket, 'list')}") from None
        return sorted(keys)

    def put_file(self, key: str, path: Path, *, sha256: str, size: int,
                 content_type: str = "application/gzip") -> ArchivedObject:
        """Upload a file: one PUT (checksum verified by S3, never replacing an object) up to the multipart
        threshold, boto3's multipart transfer above it. The SHA-256 travels in the metadata either way."""
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        obj = ArchivedObject(validate_key(key), sha256, size)
        existing = self._stored_sha256(key)
        if existing is not None:
            return self._same_or_conflict(obj, existing)
        extra = {"ContentType": content_type, "Metadata": {"sha256": sha256}, **self.options.extra_args()}
        threshold = max(5, self.options.multipart_mb) * 1024 * 1024
        try:
            if size < threshold:
                with open(path, "rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=body, ChecksumAlgorithm="SHA256",
                                           ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode("ascii"),
                                           IfNoneMatch="*", **extra)
            else:
                self.client.upload_file(str(path), self.bucket, self._full(key), ExtraArgs=extra,
                                        Config=TransferConfig(multipart_threshold=threshold, multipart_chunksize=threshold,
                                                              use_threads=False))
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                return self._same_or_conflict(obj, self._stored_sha256(key) or "")
            raise ArchiveError(f"cannot write {self.describe()}/{key}: {_problem(exc, self.bucket)}") from None
        except (BotoCoreError, OSError) as exc:  # upload_file wraps failures (S3UploadFailedError), endpoint down
            raise ArchiveError(f"cannot write {self.describe()}/{key}: {_one_line(exc)}") from None
        return obj

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        from botocore.exceptions import ClientError

        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._full(validate_key(key)))
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise ArchiveNotFound(f"archive object {key} does not exist") from None
            raise ArchiveError(f"cannot read {self.describe()}/{key}: {_problem(exc, self.bucket)}") from None
        body = resp["Body"]
        try:
            yield body
        finally:
            body.close()

    def delete(self, key: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._full(validate_key(key)))
        except ClientError as exc:  # Object Lock keeps an object until its retention ends
            raise ArchiveError(f"cannot delete {self.describe()}/{key}: {_problem(exc, self.bucket, 'delete from')}") from None

    def check(self) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        key = self._full(f"{PROBE_DIR}/{uuid.uuid4().hex}.txt")
        payload = b"hearth archive probe"
        try:
            step = "write to"
            self.client.put_object(Bucket=self.bucket, Key=key, Body=payload)
            step = "read from"
            ok = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read() == payload
            step = "delete from"
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            return _problem(exc, self.bucket, step)
        except NoCredentialsError:
            return "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or a role"
        except BotoCoreError as exc:  # unreachable endpoint, bad config
            return _one_line(exc)
        return None if ok else "the bucket returned different bytes than were written"


def _code(exc: Any) -> str:
    err = exc.response.get("Error", {})
    return str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _problem(exc: Any, bucket: str, step: str = "use") -> str:
    code = _code(exc)
    if code in ("NoSuchBucket", "404"):
        return f"bucket {bucket} does not exist"
    if code in ("AccessDenied", "403", "AllAccessDisabled"):
        return f"access denied: the credentials may not {step} bucket {bucket}"
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
        return f"the AWS credentials were rejected ({code})"
    return f"S3 answered {code}: {exc.response.get('Error', {}).get('Message', '')}".strip().rstrip(":")


# ---- from settings --------------------------------------------------------------------------------------


def open_archive(url: str, options: S3Options | None = None) -> Archive:
    """ARCHIVE_URL → an archive: `s3://bucket/prefix`, `file:///abs/path`, or a folder path."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise SettingsError("ARCHIVE_URL names no bucket; use s3://bucket/prefix.")
        return S3Archive(parsed.netloc, unquote(parsed.path), options=options)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost") or not parsed.path:
            raise SettingsError("ARCHIVE_URL is not a local file URL; use file:///absolute/path or a folder path.")
        return FolderArchive(Path(unquote(parsed.path)))
    if parsed.scheme or not url:
        raise SettingsError("ARCHIVE_URL is not supported; use a folder path (e.g. var/archive) or s3://bucket/prefix.")
    return FolderArchive(Path(url))
