"""Migration 0005 on a database that already holds outbox rows: plain payloads stay readable, sent rows keep
nothing, and the downgrade goes back (SQLite, and PostgreSQL with HEARTH_TEST_DATABASE_URL)."""

import json
import uuid
from contextlib import contextmanager

from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage import migrate, outbox
from storage.crypto import Crypto, generate_key
from storage.db import Database, normalise_url
from tests.conftest import PG_URL

INSERT = text("INSERT INTO outbox (team_id, kind, target, payload, dedupe_key, status, attempts, next_attempt_at, "
              "created_at) VALUES ('T1', 'k', 'UBOB', :payload, :key, :status, 0, :now, :now)")


@contextmanager
def blank_database(tmp_path):
    if not PG_URL:
        db = Database(f"sqlite:///{tmp_path / 'old.db'}", crypto=Crypto([generate_key()]))
        yield db
        db.dispose()
        return
    admin_url = normalise_url(PG_URL)
    name = f"hearth_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(admin_url).set(database=name).render_as_string(hide_password=False),
                  crypto=Crypto([generate_key()]))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_rows_written_before_0005_survive_the_upgrade_and_the_downgrade(tmp_path):
    with blank_database(tmp_path) as db:
        migrate.upgrade(db, "0003")
        now = "2026-12-01 09:00:00+00:00"
        with db.engine.begin() as conn:
            conn.execute(INSERT, dict(payload=json.dumps({"text": "queued before"}), key="old:UBOB", status="pending",
                                      now=now))
            conn.execute(INSERT, dict(payload="{}", key="sent:UBOB", status="sent", now=now))
        migrate.upgrade(db)
        with db.session() as s:
            pending, sent = outbox.rows(s)
            assert (pending.payload, pending.sensitive) == ({"text": "queued before"}, False)
            assert sent.payload == {}
            assert outbox.find(s, "T1", "old:UBOB").id == pending.id  # keys stored in clear are still found
            assert outbox.exists(s, "T1", "old:UBOB")
            assert outbox.enqueue_many(s, [dict(team_id="T1", kind="k", target="UBOB", payload={"text": "x"},
                                                dedupe_key="old:UBOB")]) == 0  # and still deduplicate
            outbox.enqueue_sensitive(s, team_id="T1", kind="k", recipient="UDEV", payload={"text": "s"},
                                     dedupe_key="s")
        command.downgrade(migrate._config(db), "0003")
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT dedupe_key, status FROM outbox ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [("old:UBOB", "pending"), ("sent:UBOB", "sent")]  # sensitive: gone
        migrate.upgrade(db)
        assert migrate.is_up_to_date(db)
