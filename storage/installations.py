"""slack_sdk's SQLAlchemy OAuth stores, bound to our engine, with every token encrypted at rest.

slack_sdk keeps tokens in plain text. Rather than re-implementing its save/find/delete logic, the
token columns of its Table objects get a type that encrypts on the way in and decrypts on the way
out, so every read and write path of the store (including ones added in later slack_sdk
versions) sees plain tokens while the database only ever holds Fernet tokens.

The tables themselves come from the Alembic migration 0001; nothing here creates tables.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Table, Text, delete, select, type_coerce, update
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

from storage.crypto import Crypto, DecryptionError
from storage.db import Database
from storage.sealed import register

TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
# slack_sdk's tables are not our models: their encrypted columns are named here for `hearth keys rotate`.
register("slack_installations", ["id"], *TOKEN_COLUMNS)
register("slack_bots", ["id"], "bot_token", "bot_refresh_token")

log = logging.getLogger("hearth.installations")


class EncryptedToken(TypeDecorator[str]):
    """Text that is encrypted when bound and decrypted when read. Never used in WHERE equality:
    Fernet output is randomised, so only IS [NOT] NULL tests make sense on these columns."""

    impl = Text
    cache_ok = True  # the cache key includes `crypto` (by identity), so stores with different keys never share

    def __init__(self, crypto: Crypto) -> None:
        super().__init__()
        self.crypto = crypto

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.crypto.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.crypto.decrypt(value)


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """Multi-workspace installations (tables slack_installations, slack_bots) with encrypted tokens."""

    def __init__(self, client_id: str, db: Database, crypto: Crypto) -> None:
        super().__init__(client_id, db.engine, logger=logging.getLogger("hearth.installations.store"))
        self.crypto = crypto
        for table in (self.installations, self.bots):
            for name in TOKEN_COLUMNS:
                if name in table.c:
                    # Before any expression is built on the column, so nothing memoised the old type.
                    table.c[name].type = EncryptedToken(crypto)

    def create_tables(self) -> None:
        raise RuntimeError("Hearth's OAuth tables are created by its migrations: run `hearth db upgrade`")


def rotate_tokens(store: EncryptedInstallationStore) -> int:
    """Re-encrypt every stored token that is not under the newest key yet, for all client ids.

    Returns the number of rows rewritten (rows already on the newest key are left alone, so running
    it twice is harmless). Rows are locked while they are rewritten (FOR UPDATE on PostgreSQL).
    """
    crypto = store.crypto
    rewritten = 0
    with store.engine.begin() as conn:
        for table in (store.installations, store.bots):
            names = [n for n in TOKEN_COLUMNS if n in table.c]
            raw = [type_coerce(table.c[n], Text).label(n) for n in names]  # read ciphertext, not plain
            rows = conn.execute(select(table.c.id, *raw).order_by(table.c.id).with_for_update()).mappings().all()
            for row in rows:
                changes = _rotated(crypto, table, row, names)
                if changes:
                    conn.execute(update(table).where(table.c.id == row["id"]).values(changes))
                    rewritten += 1
    log.info("tokens.rotated rows=%d", rewritten)
    return rewritten


def _rotated(crypto: Crypto, table: Table, row, names: list[str]) -> dict:
    changes = {}
    for name in names:
        token = row[name]
        if token is None or not crypto.needs_rotation(token):
            continue
        try:
            changes[table.c[name]] = type_coerce(crypto.rotate(token), Text)  # already ciphertext: bind as is
        except DecryptionError:
            raise DecryptionError(
                f"{table.name} row {row['id']}: {name} cannot be decrypted with any key in HEARTH_ENCRYPTION_KEY"
            ) from None
    return changes


# Unconsumed states kept at most: far more than admins installing at once, small enough that a flood of
# unauthenticated `GET /slack/install` cannot grow the table. A flood pushes older states out, so at worst a
# real admin in the middle of installing has to start again.
MAX_OAUTH_STATES = 1000


class PrunedOAuthStateStore(SQLAlchemyOAuthStateStore):
    """slack_sdk's state store, which never deletes a state that is not consumed, made bounded: each new
    state deletes the expired ones and all but the newest `max_states`."""

    def __init__(self, *, expiration_seconds: int, engine: Engine, max_states: int = MAX_OAUTH_STATES,
                 logger: logging.Logger) -> None:
        super().__init__(expiration_seconds=expiration_seconds, engine=engine, logger=logger)
        self.max_states = max_states

    def issue(self, *args: Any, **kwargs: Any) -> str:
        state = super().issue(*args, **kwargs)
        self.prune()
        return state

    def prune(self) -> int:
        """Delete expired states, then all but the newest `max_states`; returns how many were deleted."""
        table = self.oauth_states
        now = normalize_datetime_for_db(datetime.now(tz=UTC))
        # The id of the oldest state still kept (NULL while fewer than max_states exist: nothing goes).
        oldest_kept = (select(table.c.id).order_by(table.c.id.desc())
                       .offset(self.max_states - 1).limit(1).scalar_subquery())
        with self.engine.begin() as conn:
            expired = conn.execute(delete(table).where(table.c.expire_at <= now)).rowcount
            over_cap = conn.execute(delete(table).where(table.c.id < oldest_kept)).rowcount
        if over_cap:
            log.info("oauth.states_capped deleted=%d max=%d", over_cap, self.max_states)
        return expired + over_cap


def oauth_state_store(db: Database, expiration_seconds: int = 600,
                      max_states: int | None = None) -> PrunedOAuthStateStore:
    """The OAuth `state` store on table slack_oauth_states (created by the migration), kept bounded."""
    return PrunedOAuthStateStore(expiration_seconds=expiration_seconds, engine=db.engine,
                                 max_states=max_states or MAX_OAUTH_STATES, logger=logging.getLogger("hearth.oauth"))
