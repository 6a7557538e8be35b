"""`hearth simulate`: the real app against the local Slack simulator, acting out a short story, in HTTP mode
or (`--socket-mode`, as `hearth run` connects) over Socket Mode; the story is the same.

It runs on the embedded defaults (an SQLite file and the archive folder under ./var/) with a throwaway
signing secret and encryption key that only this process and its simulator know. Each step prints what
the people in the demo workspace saw in Slack. Every workflow in `slack_app.workflows` that declares a
chapter tells it, in the list's order.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

from slack_app.app import build_app
from slack_app.server import start_in_thread
from slack_app.settings import load_settings
from slack_app.simulator.driver import SlackDriver
from slack_app.simulator.server import SlackSimulator
from slack_app.simulator.workspace import demo_workspace
from slack_app.socket_mode import SocketModeConnection
from slack_app.workflow import Workflow
from storage.crypto import generate_key


def run_scenario(var_dir: str | os.PathLike = "var", *, workflows: Sequence[Workflow] | None = None,
                 socket_mode: bool = False) -> Iterator[str]:
    """Yield the transcript, chapter by chapter."""
    var = Path(var_dir)
    var.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    with SlackSimulator(demo_workspace(), rate_limits=True) as simulator:
        settings = load_settings(
            env_file=None,
            SLACK_BOT_TOKEN=simulator.bot_token,
            SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=simulator.base_url,
            DATABASE_URL=f"sqlite:///{(var / 'simulate.db').resolve()}",
            ARCHIVE_URL=str((var / "archive").resolve()),
            HEARTH_ENCRYPTION_KEY=generate_key(),
            HEARTH_MODERATOR_CHANNEL="GMODS",
            SLACK_APP_TOKEN=simulator.socket_mode.app_token,
        )
        _fresh_database(var / "simulate.db")
        hearth = build_app(settings, workflows=workflows)
        if socket_mode:
            connection = SocketModeConnection(hearth, simulator.socket_mode.app_token).start()
            stop = connection.stop
            driver = SlackDriver(None, secret, simulator, socket_mode=True)
            opening = "Hearth is connected over Socket Mode"
        else:
            server = start_in_thread(hearth)
            stop = server.stop
            driver = SlackDriver(server.events_url, secret, simulator)
            opening = f"Hearth is serving {server.events_url}"
        try:
            yield f"{opening}; Slack is simulated at {simulator.base_url}."
            for title, chapter in [w.chapter for w in hearth.services.workflows if w.chapter]:
                yield ""
                yield f"== {title}"
                yield from chapter(driver, simulator, hearth)
            yield ""
            yield f"That was everything. The database of this run is {var / 'simulate.db'}."
        finally:
            stop()
            hearth.services.db.dispose()


def _fresh_database(path: Path) -> None:
    # Each run tells the same story from the start: an earlier run's rounds would change it.
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
