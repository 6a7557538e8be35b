"""Test helpers that read what a flow left behind the way the adversary of docs/privacy.md would."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import MetaData, select

from slack_app.log_privacy import redact
from storage.db import Database


def _text(record: logging.LogRecord) -> str:
    parts = [record.getMessage()]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


def assert_logs_carry_no_user_ids(records: Iterable[logging.LogRecord], ids: Iterable[str]) -> None:
    """No record names any of `ids` (the flow's members), nor anything shaped like a Slack user id.

    Give it `caplog.records` of a test that did *not* install the redacting filter: it checks what the code
    writes, so a line that would only be saved by the filter still fails here.
    """
    records = list(records)
    assert records, "no log records: was caplog's level set low enough to see the flow?"
    wanted = [i for i in ids if i]
    assert wanted, "give the user ids of the flow's members"
    pattern = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, wanted)) + r")(?![A-Za-z0-9])")
    leaks = []
    for record in records:
        text = _text(record)
        if pattern.search(text) or redact(text) != text:
            leaks.append(f"{record.name} {record.levelname}: {record.msg!r}")
    assert not leaks, "log lines naming members:\n" + "\n".join(leaks)


def database_dump(db: Database) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table (Alembic's record aside), as text, sorted: what a stolen dump shows.

    Compare two dumps taken around a flow to see exactly what it left behind, as the adversary would.
    """
    reflected = MetaData()
    reflected.reflect(db.engine)
    dump: dict[str, list[tuple[str, ...]]] = {}
    with db.engine.connect() as conn:
        for table in reflected.sorted_tables:
            if table.name != "alembic_version":
                dump[table.name] = sorted(tuple(map(str, row)) for row in conn.execute(select(table)))
    return dump


def sqlite_file_bytes(db: Database) -> bytes:
    """The raw bytes of an SQLite database's file and its write-ahead log: what a copy of the disk shows,
    deleted rows that were never overwritten included."""
    path = Path(str(db.engine.url.database))
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
