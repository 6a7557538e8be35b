"""One archive writer at a time: the nightly job, `hearth archive run` and forgetting a member take this lock,
so two of them never cut overlapping batches or rewrite the same object.

PostgreSQL: a session-level advisory lock on a dedicated connection (released if the process dies).
SQLite (one host): an exclusive `flock` on a file beside the database.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from storage.archive import ArchiveError
from storage.db import Database, sqlite_path

LOCK_KEY = 0x4845415241524348  # "HEARARCH": Hearth's namespace, like the scheduler's leadership lock


class ArchiveBusy(ArchiveError):
    """Another archive run or forget is writing the archive now."""


@contextmanager
def archive_lock(db: Database) -> Iterator[None]:
    busy = ArchiveBusy("another archive run or forget is in progress; try again when it has finished")
    path = sqlite_path(db.url)
    if db.is_sqlite:
        if path is None:  # in-memory: one process by definition
            yield
            return
        fd = os.open(path.with_name(path.name + ".archive-lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise busy from None
            yield
        finally:
            os.close(fd)
        return
    with db.engine.connect() as conn:
        if not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({LOCK_KEY})").scalar():
            raise busy
        try:
            conn.commit()
            yield
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_KEY})")
            conn.commit()
