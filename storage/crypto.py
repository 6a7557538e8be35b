"""Encryption at rest: Fernet (AES-128-CBC + HMAC-SHA256), with key rotation through MultiFernet.

`HEARTH_ENCRYPTION_KEY` holds one or more keys, comma-separated, newest first: new data is encrypted
with the first key, and any listed key decrypts, so a key can be rotated without downtime
(prepend a new key, run the rotation, then drop the old one).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from storage.errors import SettingsError

log = logging.getLogger("hearth.crypto")

DEV_KEY_PATH = Path("var/hearth-dev.key")
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


def load_crypto(key_setting: str | None, *, production: bool, dev_key_path: Path = DEV_KEY_PATH) -> Crypto:
    """The Crypto for these settings: the configured keys, or in development a local key file."""
    if key_setting and key_setting.strip(" ,"):
        return parse_keys(key_setting)
    if production:
        raise SettingsError(
            "HEARTH_ENCRYPTION_KEY is not set: production keeps tokens and reports encrypted with it. "
            "Generate one with `hearth keygen`."
        )
    crypto = _dev_crypto(dev_key_path)
    if dev_key_path.resolve() not in _warned:
        _warned.add(dev_key_path.resolve())
        log.warning(
            "!!! HEARTH_ENCRYPTION_KEY is not set: tokens and reports are encrypted with the DEVELOPMENT key in %s. "
            "That key is for local development only; in production HEARTH_ENCRYPTION_KEY must be set "
            "(generate one with `hearth keygen`) !!!",
            dev_key_path,
        )
    return crypto


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


def _create_key_file(path: Path) -> None:
    """Write a new key readable by the owner only; publish it with link() so two starting processes agree."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply if a stale temp file existed
        os.write(fd, (generate_key() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and never overwrites: a key someone else just wrote wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
