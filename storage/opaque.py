"""Opaque keys: identifiers that can be matched but not read (outbox dedupe keys, Slack message metadata).

`opaque(session, text)` is an HMAC of `text` under a random 32-byte secret that lives in the database's
`hearth_secret` table, sealed with HEARTH_ENCRYPTION_KEY. A dump without the key shows neither the text nor
the secret; and since the secret itself never changes (a rotation only re-encrypts it), hashes made before
`hearth keys rotate` still match after the old key is dropped.

The secret is made on first use, inside the caller's transaction (insert-or-ignore, then read back), so it is
committed with the first row that uses it or not at all. Only a secret read back from the database is cached.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.crypto import Crypto, DecryptionError, keyed_hash
from storage.db import CRYPTO, insert_ignore
from storage.errors import SettingsError
from storage.models import Secret

NAME = "opaque-keys"
_cache: WeakKeyDictionary[Crypto, dict[str, bytes]] = WeakKeyDictionary()


def cipher(session: Session) -> Crypto:
    """The key of the database this session belongs to (`Database.crypto`)."""
    crypto = session.info.get(CRYPTO)
    if crypto is None:
        raise SettingsError("HEARTH_ENCRYPTION_KEY is needed here: Hearth's database is encrypted with it.")
    return crypto


def opaque(session: Session, text: str) -> str:
    return keyed_hash(_secret(session), text)


def hasher(session: Session) -> Callable[[str], str]:
    """`opaque` for many texts in one session (the secret is looked up once)."""
    secret = _secret(session)
    return lambda text: keyed_hash(secret, text)


def _secret(session: Session) -> bytes:
    crypto = cipher(session)
    url = str(session.get_bind().url)
    known = _cache.get(crypto, {}).get(url)
    if known is not None:
        return known
    stored = session.scalar(select(Secret.value).where(Secret.name == NAME))
    if stored is not None:
        value = _open(crypto, stored)
        _cache.setdefault(crypto, {})[url] = value
        return value
    fresh = crypto.encrypt(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii"))
    session.execute(insert_ignore(session, Secret.__table__, unique=["name"]).values(name=NAME, value=fresh))
    return _open(crypto, session.scalar(select(Secret.value).where(Secret.name == NAME)))  # ours or a racer's


def _open(crypto: Crypto, stored: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(crypto.decrypt(stored))
    except DecryptionError:
        raise SettingsError(
            "the database's secrets were sealed with a key that is not in HEARTH_ENCRYPTION_KEY; "
            "set the key this database was created with (several keys may be listed, newest first)."
        ) from None

