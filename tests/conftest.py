"""Shared fixtures: a migrated database (SQLite, or PostgreSQL via HEARTH_TEST_DATABASE_URL).

One database per test session, migrated once with Alembic; every table is emptied after each test.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from storage import migrate
from storage.db import Database, normalise_url

PG_URL = os.environ.get("HEARTH_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'hearth-test.db'}"
        return
    # A fresh database per run, so parallel runs and leftovers never collide.
    admin_url = normalise_url(PG_URL)
    name = f"hearth_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def db_key() -> str:
    """The test database's encryption key: held in memory, given to worker processes a test starts."""
    from storage.crypto import generate_key

    return generate_key()


@pytest.fixture(scope="session")
def migrated_db(database_url, db_key) -> Iterator[Database]:
    from storage.crypto import Crypto

    db = Database(database_url, crypto=Crypto([db_key]))
    migrate.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def db(migrated_db: Database, db_key: str) -> Iterator[Database]:
    from storage.crypto import Crypto

    migrated_db.crypto = Crypto([db_key])  # an app built by an earlier test bound its own key
    yield migrated_db
    _empty_all_tables(migrated_db)


EMPTY_ATTEMPTS = 5
EMPTY_LOCK_TIMEOUT = "5s"


def _empty_all_tables(db: Database) -> None:
    # Every table the migrations made (not only those on Base), children first, except Alembic's record.
    reflected = MetaData()
    reflected.reflect(db.engine)
    tables = [t.name for t in reversed(reflected.sorted_tables) if t.name != "alembic_version"]
    for attempt in range(EMPTY_ATTEMPTS):
        try:
            with db.engine.begin() as conn:
                if db.is_sqlite:
                    for name in tables:
                        conn.execute(text(f'DELETE FROM "{name}"'))
                else:
                    # A thread a test left running may hold a read transaction while it waits, in Python, for
                    # a write queued behind this TRUNCATE: PostgreSQL sees no cycle and all three would wait
                    # for ever. Giving up the lock after a while lets them finish; the next attempt succeeds.
                    conn.execute(text(f"SET LOCAL lock_timeout = '{EMPTY_LOCK_TIMEOUT}'"))
                    conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in tables) + " RESTART IDENTITY CASCADE"))
            return
        except OperationalError:
            # Also a deadlock's victim, when a test's after-ack work is still writing.
            if attempt == EMPTY_ATTEMPTS - 1:
                raise
            time.sleep(0.5)


# ---- the real app over HTTP, talking to the Slack simulator ---------------------------------------------

SIGNING_SECRET = "test-signing-secret"


@pytest.fixture
def simulator(request):
    """Slack on loopback; a test may pass SlackSimulator options with `indirect` parametrization."""
    from slack_app.simulator import SlackSimulator, demo_workspace

    with SlackSimulator(demo_workspace(), **{"rate_limits": False, **getattr(request, "param", {})}) as sim:
        yield sim


@pytest.fixture
def app_settings(simulator, database_url, tmp_path):
    from slack_app.settings import load_settings
    from storage.crypto import generate_key

    return load_settings(
        env_file=None,
        SLACK_BOT_TOKEN=simulator.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=simulator.base_url,
        DATABASE_URL=database_url,
        ARCHIVE_URL=str(tmp_path / "archive"),
        HEARTH_ENCRYPTION_KEY=generate_key(),
        HEARTH_MODERATOR_CHANNEL="GMODS",
        SLACK_APP_TOKEN=simulator.socket_mode.app_token,
    )


@pytest.fixture
def hearth(app_settings, db):
    from slack_app.app import build_app
    from slack_app.services import build_services
    from slack_app.workflows import WORKFLOWS

    app = build_app(app_settings, services=build_services(app_settings, db=db, workflows=WORKFLOWS))
    yield app
    app.settle()  # before `db` empties the tables: no listener of this test's may still hold a transaction


@pytest.fixture
def server(hearth):
    from slack_app.server import start_in_thread

    running = start_in_thread(hearth)
    yield running
    running.stop()


@pytest.fixture
def transport() -> str:
    """How Slack reaches the app: "http" (signed POSTs) or "socket" (Socket Mode envelopes). A test module
    runs both with `pytest.mark.parametrize("transport", TRANSPORTS)`."""
    return "http"


TRANSPORTS = ["http", "socket"]


@pytest.fixture
def socket_connection(hearth, simulator):
    from slack_app.socket_mode import SocketModeConnection

    connection = SocketModeConnection(hearth, simulator.socket_mode.app_token, ping_interval=1).start()
    yield connection
    connection.stop(timeout=5)


@pytest.fixture
def driver(request, server, simulator, transport):
    from slack_app.simulator import SlackDriver

    if transport == "socket":
        request.getfixturevalue("socket_connection")
    return SlackDriver(server.events_url, SIGNING_SECRET, simulator, socket_mode=transport == "socket")


@pytest.fixture
def slack(simulator):
    """The app's Web API port, talking to the simulator (a test module may define its own)."""
    from slack_app.slack_port import WebApiPort, make_client

    return WebApiPort(make_client(simulator.bot_token, simulator.base_url))


@pytest.fixture
def services(hearth):
    return hearth.services


@pytest.fixture
def deliver(services, slack):
    """Run the delivery worker until the outbox is empty, as `hearth serve` does in the background. Paced to
    Slack's limits 20 times over: at their real pace a fan-out to 45 members waits 27 s for users.info alone
    (Tier 4). Pacing has tests of its own (test_outbox_simulator, test_adaptive_delivery)."""
    from slack_app.delivery.pacing import SlackLimits
    from slack_app.delivery.worker import DeliveryWorker, WorkerOptions

    options = WorkerOptions(threads=1, limits=SlackLimits().scaled(20))
    worker = DeliveryWorker(services.db, lambda team: slack, options=options)
    return lambda: worker.drain(timeout=60)
