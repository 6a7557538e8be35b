"""Encryption at rest: Fernet (AES-128-CBC + HMAC-SHA256), with key rotation through MultiFernet.

`HEARTH_ENCRYPTION_KEY` holds one or more keys, comma-separated, newest first: new data is encrypted
with the first key, and any listed key decrypts, so a key can be rotated without downtime
(prepend a new key, run `hearth keys rotate`, then drop the old one).

Opaque keys (`keyed_hash`): an HMAC-SHA256 of a text under a random secret that is itself stored sealed with
these keys (`storage.opaque`), so identifiers such as outbox dedupe keys can be matched without being readable
in a dump or in Slack, and stay the same across a key rotation.

Without HEARTH_ENCRYPTION_KEY, a key is generated only in explicit development mode, in the user's config
folder (never beside the database it protects); tests and `hearth simulate` use keys held in memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from storage.errors import SettingsError

log = logging.getLogger("hearth.crypto")

LEGACY_DEV_KEY_PATH = Path("var/hearth-dev.key")  # where older versions kept it: beside var/hearth.db
_KEYGEN_HINT = "generate one with `hearth keygen`; several keys may be given comma-separated, newest first"

# Dev key files already announced in this process: the warning is loud, so it is said once.
_warned: set[Path] = set()


class DecryptionError(Exception):
    """A token was tampered with, is not a Fernet token, or was made with a key that is not configured."""


class Crypto:
    """Authenticated encryption with the newest key; decryption with any configured key."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        fernets = [Fernet(k) for k in keys]  # ValueError on a malformed key
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)
        self.key_count = len(fernets)

    def __repr__(self) -> str:  # never show key material
        return f"Crypto(keys={self.key_count})"

    def encrypt(self, text: str) -> str:
        return self._all.encrypt(text.encode("utf-8")).decode("ascii")

    def encrypt_dated(self, text: str, day: date) -> str:
        """Like `encrypt`, but the token's timestamp (readable without the key) is `day`'s midnight UTC, not
        the second it was made: for anonymous data, whose rows may carry no time finer than the day."""
        at = int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())
        return self._all.encrypt_at_time(text.encode("utf-8"), at).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self.decrypt_bytes(token.encode("utf-8")).decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("the decrypted value is not UTF-8 text") from None

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._all.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        try:
            return self._all.decrypt(token)
        except (InvalidToken, ValueError, TypeError):
            raise DecryptionError(
                "cannot decrypt: the data was altered or was encrypted with a key not in HEARTH_ENCRYPTION_KEY"
            ) from None

    def needs_rotation(self, token: str) -> bool:
        """True when the newest key alone cannot read `token` (it was made with an older key)."""
        try:
            self._primary.decrypt(token.encode("utf-8"))
            return False
        except (InvalidToken, ValueError, TypeError):
            return True

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key; the original timestamp is kept."""
        try:
            return self._all.rotate(token.encode("utf-8")).decode("ascii")
        except (InvalidToken, ValueError, TypeError):
            raise DecryptionError("cannot rotate: the data was altered or its key is not configured") from None


def looks_encrypted(value: str) -> bool:
    """A Fernet token (version byte 0x80, so base64 "gAAAAA…"): told apart from ids and JSON without a key."""
    return value.startswith("gAAAAA") and len(value) >= 100


def keyed_hash(secret: bytes, text: str) -> str:
    """An opaque stand-in for `text`: equal texts match, and without `secret` nobody can tell what it was
    made from (a user id cannot be found by hashing every member of the workspace)."""
    digest = hmac.new(secret, text.encode("utf-8"), hashlib.sha256).digest()
    return "h1." + base64.urlsafe_b64encode(digest[:24]).decode("ascii")  # 192 bits, 35 characters


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def parse_keys(setting: str) -> Crypto:
    """Build a Crypto from a comma-separated key list; a malformed key becomes one SettingsError line."""
    keys = [k.strip() for k in setting.split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            which = f"key {position} of {len(keys)}" if len(keys) > 1 else "it"
            raise SettingsError(
                f"HEARTH_ENCRYPTION_KEY is not a valid key ({which} is not 32 url-safe base64-encoded bytes); "
                f"{_KEYGEN_HINT}."
            ) from None
    return Crypto(keys)


def default_dev_key_path() -> Path:
    """The development key's home: the user's config folder, never the project's `var/` beside the database."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hearth" / "dev.key"


def load_crypto(key_setting: object | None, *, development: bool = False, production: bool = False,
                dev_key_path: Path | None = None, database_path: Path | None = None) -> Crypto:
    """The Crypto for these settings: the configured keys, or, only in explicit development mode
    (HEARTH_ENV=development), a key generated once in the user's config folder.

    `key_setting` may be a str or a pydantic SecretStr. `database_path` (an SQLite file) is checked not to
    share a folder with the development key: a key kept beside the data it protects protects nothing."""
    if hasattr(key_setting, "get_secret_value"):
        key_setting = key_setting.get_secret_value()
    if isinstance(key_setting, str) and key_setting.strip(" ,"):
        return parse_keys(key_setting)
    if production or not development:
        why = "production keeps" if production else "Hearth keeps"
        raise SettingsError(
            f"HEARTH_ENCRYPTION_KEY is not set: {why} tokens, check-ins and queued messages encrypted with it. "
            "Generate one with `hearth keygen` and set it"
            + ("." if production else " (on a development machine, HEARTH_ENV=development uses a local key).")
        )
    path = dev_key_path or default_dev_key_path()
    if database_path is not None and path.resolve().parent == database_path.resolve().parent:
        raise SettingsError(
            f"the development key {path} would sit beside the database it protects; set HEARTH_ENCRYPTION_KEY "
            "or move the database."
        )
    if dev_key_path is None:
        _adopt_legacy_key(path)
    crypto = _dev_crypto(path)
    if path.resolve() not in _warned:
        _warned.add(path.resolve())
        log.warning(
            "!!! HEARTH_ENCRYPTION_KEY is not set: tokens and reports are encrypted with the DEVELOPMENT key in %s. "
            "That key is for local development only; in production HEARTH_ENCRYPTION_KEY must be set "
            "(generate one with `hearth keygen`) !!!",
            path,
        )
    return crypto


def _adopt_legacy_key(path: Path) -> None:
    """Move a development key older versions wrote beside the database to its new home (data stays readable)."""
    legacy = LEGACY_DEV_KEY_PATH
    if not legacy.is_file() or path.exists():
        return
    key = legacy.read_text(encoding="ascii")
    _create_key_file(path, key.strip())
    legacy.unlink(missing_ok=True)
    log.warning("the development key moved from %s to %s (it no longer sits beside the database)", legacy, path)


def _dev_crypto(path: Path) -> Crypto:
    if not path.exists():
        _create_key_file(path)
    try:
        return parse_keys(path.read_text(encoding="ascii"))
    except (SettingsError, ValueError):  # also an empty or non-ASCII file
        raise SettingsError(
            f"the development key file {path} is not a valid key; delete it (data encrypted with it becomes "
            "unreadable) or set HEARTH_ENCRYPTION_KEY."
        ) from None


def _create_key_file(path: Path, key: str | None = None) -> None:
    """Write a new key readable by the owner only; publish it with link() so two starting processes agree."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply if a stale temp file existed
        os.write(fd, ((key or generate_key()) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and never overwrites: a key someone else just wrote wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
