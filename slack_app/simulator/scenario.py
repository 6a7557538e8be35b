"""`hearth simulate`: the real app in HTTP mode against the local Slack simulator, acting out a short story.

It runs on the embedded defaults (an SQLite file and the archive folder under ./var/) with a throwaway
signing secret and encryption key that only this process and its simulator know. Each step prints what
the people in the demo workspace saw in Slack. Workflow issues add their chapters at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from slack_app.app import Hearth, build_app
from slack_app.server import start_in_thread
from slack_app.settings import load_settings
from slack_app.simulator.driver import SlackDriver
from slack_app.simulator.server import SlackSimulator
from slack_app.simulator.workspace import demo_workspace
from storage.crypto import generate_key

Chapter = Callable[[SlackDriver, SlackSimulator, Hearth], list[str]]


def _chapters() -> list[tuple[str, Chapter]]:
    from slack_app.checkins.scenario import scenario_checkins

    return [("Getting started", _getting_started), ("A check-in round", scenario_checkins)]


def run_scenario(var_dir: str | os.PathLike = "var") -> Iterator[str]:
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
        )
        _fresh_database(var / "simulate.db")
        hearth = build_app(settings)
        server = start_in_thread(hearth)
        try:
            driver = SlackDriver(server.events_url, secret, simulator)
            yield f"Hearth is serving {server.events_url}; Slack is simulated at {simulator.base_url}."
            for title, chapter in _chapters():
                yield ""
                yield f"== {title}"
                yield from chapter(driver, simulator, hearth)
            yield ""
            yield f"That was everything. The database of this run is {var / 'simulate.db'}."
        finally:
            server.stop()
            hearth.services.db.dispose()


def _fresh_database(path: Path) -> None:
    # Each run tells the same story from the start: an earlier run's rounds would change it.
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)


def _getting_started(driver: SlackDriver, simulator: SlackSimulator, hearth: Hearth) -> list[str]:
    lines: list[str] = []
    seen = len(simulator.transcript())

    def step(title: str) -> None:
        nonlocal seen
        shown = simulator.transcript()
        lines.append(f"▸ {title}")
        lines.extend(f"    {line}" for line in shown[seen:])
        seen = len(shown)

    alice = driver.as_member("UALICE")
    alice.open_home()
    _settle(lambda: simulator.home("UALICE"))
    step("Alice opens Hearth's App Home")

    answer = alice.command("/hearth", "help")
    step("Alice asks /hearth help")
    help_text = (answer.json or {}).get("text", "") if isinstance(answer.json, dict) else ""
    lines.extend(f"    only Alice sees: {line}" for line in help_text.splitlines()[:3])

    forged = driver.post_raw("command=%2Fhearth&user_id=UALICE", content_type="application/x-www-form-urlencoded",
                             sign=False)
    lines.append(f"▸ A request without Slack's signature is refused: HTTP {forged.status}")

    home_opened = {"type": "app_home_opened", "user": "UBOB", "channel": simulator.state.dm_id("UBOB"), "tab": "home"}
    first = driver.event(home_opened)
    _settle(lambda: simulator.home("UBOB"))
    publishes = len(simulator.calls_for("views.publish"))
    driver.event(home_opened, event_id=first.event_id, retry_num=1)
    lines.append("▸ Slack retries an event it already delivered: Hearth handles it once "
                 f"({len(simulator.calls_for('views.publish')) - publishes} extra App Home publishes)")
    return lines


def _settle(predicate: Callable[[], object]) -> None:
    from slack_app.simulator.driver import wait_for

    wait_for(predicate, timeout=5.0)
