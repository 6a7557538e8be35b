"""Encrypted columns: one type that marks them, one registry that finds them, one rotation for all.

A column that holds ciphertext is declared with the `Sealed` type (Text underneath, so no schema change):

    gratitude: Mapped[str] = mapped_column(Sealed)                 # every value a Fernet token
    target: Mapped[str] = mapped_column(Sealed(partial=True))      # only some rows sealed (the rest are ids)

The caller encrypts (with `storage.crypto.Crypto`) before the value reaches the column; `Sealed` itself
converts nothing. It exists so `encrypted_columns()` can list every encrypted column of every model on
`Base.metadata`, and `rotate()` (behind `hearth keys rotate`) can re-encrypt them all under the newest key:
a workflow that declares its columns `Sealed` is rotated without touching this module. Tables that are not
ours (slack_sdk's installation tables) are registered with `register()`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import MetaData, Text, column, select, table, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import TypeDecorator

from storage.crypto import Crypto, DecryptionError, looks_encrypted
from storage.db import Database

log = logging.getLogger("hearth.crypto")


class Sealed(TypeDecorator[str]):
    """Text holding a Fernet token made by the caller. `partial`: only some rows are sealed (values that are
    not tokens are plain by design and left alone); otherwise a plain value is sealed by `rotate()`."""

    impl = Text
    cache_ok = True

    def __init__(self, partial: bool = False) -> None:
        super().__init__()
        self.partial = partial

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return value

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return value


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    key: tuple[str, ...]  # the primary key columns, to rewrite one row
    partial: bool = False

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


_registered: dict[tuple[str, str], EncryptedColumn] = {}


def register(table_name: str, key: Sequence[str], *columns: str, partial: bool = False) -> None:
    """Declare encrypted columns of a table that is not a model on `Base.metadata`."""
    for name in columns:
        _registered[(table_name, name)] = EncryptedColumn(table_name, name, tuple(key), partial)


def encrypted_columns(metadata: MetaData | None = None) -> list[EncryptedColumn]:
    """Every encrypted column: `Sealed` columns of the models (import a workflow's models before calling)
    and the registered ones, sorted by table and column."""
    if metadata is None:
        from storage.models import Base

        metadata = Base.metadata
    found = dict(_registered)
    for t in metadata.tables.values():
        for c in t.columns:
            if isinstance(c.type, Sealed):
                found[(t.name, c.name)] = EncryptedColumn(t.name, c.name, tuple(k.name for k in t.primary_key),
                                                          c.type.partial)
    return [found[k] for k in sorted(found)]


@dataclass
class RotationReport:
    rewritten: dict[str, int]  # "table.column" -> values re-encrypted (or sealed) under the newest key
    scanned: int = 0

    @property
    def total(self) -> int:
        return sum(self.rewritten.values())


def rotate(db: Database, crypto: Crypto, columns: Iterable[EncryptedColumn] | None = None, *,
           batch: int = 500) -> RotationReport:
    """Re-encrypt every value of every encrypted column that the newest key cannot read yet.

    Idempotent (values already under the newest key are left alone) and done in batches, each its own
    transaction with its rows locked (FOR UPDATE on PostgreSQL), so Hearth can keep running. A value no
    configured key can decrypt stops the rotation with the table, column and row named: dropping the old
    key then would lose it. Afterwards only the newest key is needed."""
    report = RotationReport(rewritten={})
    for col in columns if columns is not None else encrypted_columns():
        report.rewritten[str(col)] = 0
        t = table(col.table, *(column(k) for k in col.key), column(col.column))
        value, keys = t.c[col.column], [t.c[k] for k in col.key]
        after: tuple | None = None
        while True:
            with db.session() as session:
                stmt = select(*keys, value).where(value.is_not(None)).order_by(*keys).limit(batch)
                if after is not None:
                    stmt = stmt.where(_after(keys, after))
                if db.engine.dialect.name == "postgresql":
                    stmt = stmt.with_for_update()
                rows = session.execute(stmt).all()
                for row in rows:
                    pk, text = tuple(row[:-1]), row[-1]
                    new = _rotated(crypto, col, pk, text)
                    if new is not None:
                        session.execute(update(t).where(*(k == v for k, v in zip(keys, pk, strict=True)))
                                        .values({col.column: new}))
                        report.rewritten[str(col)] += 1
                report.scanned += len(rows)
            if len(rows) < batch:
                break
            after = tuple(rows[-1][:-1])
    log.info("keys.rotated values=%d scanned=%d", report.total, report.scanned)
    return report


def _after(keys: list, after: tuple) -> ColumnElement[bool]:
    from sqlalchemy import tuple_

    return tuple_(*keys) > tuple_(*after) if len(keys) > 1 else keys[0] > after[0]


def _rotated(crypto: Crypto, col: EncryptedColumn, pk: tuple, text: str) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    if not looks_encrypted(text):
        return None if col.partial else crypto.encrypt(text)  # plain where it should not be: seal it now
    if not crypto.needs_rotation(text):
        return None
    try:
        return crypto.rotate(text)
    except DecryptionError:
        raise DecryptionError(
            f"{col} of row {', '.join(map(str, pk))} cannot be decrypted with any key in HEARTH_ENCRYPTION_KEY; "
            "add the key it was made with (after the new one) and run the rotation again"
        ) from None


def still_on_old_keys(db: Database, crypto: Crypto, columns: Iterable[EncryptedColumn] | None = None) -> int:
    """How many sealed values the newest key alone cannot read (0 after a complete rotation)."""
    left = 0
    for col in columns if columns is not None else encrypted_columns():
        t = table(col.table, column(col.column))
        with db.session() as session:
            for text in session.scalars(select(t.c[col.column]).where(t.c[col.column].is_not(None))):
                if isinstance(text, str) and looks_encrypted(text) and crypto.needs_rotation(text):
                    left += 1
    return left
