"""SQLite database files are readable by their owner only (the WAL and shared-memory files too)."""

import stat

from sqlalchemy import text

from storage.db import Database


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path):
    path = tmp_path / "var" / "hearth.db"
    db = Database(f"sqlite:///{path}")
    with db.session() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
        s.execute(text("INSERT INTO t VALUES (1)"))
    files = [p for p in path.parent.iterdir() if p.name.startswith("hearth.db")]
    assert {p.name for p in files} >= {"hearth.db", "hearth.db-wal"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert mode(path.parent) == 0o700
    db.dispose()


def test_an_existing_world_readable_database_is_made_private(tmp_path):
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    Database(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600
