"""The first chapter of `hearth simulate`: App Home, `/hearth help`, a forged request, an event retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slack_app.simulator.driver import SlackDriver, wait_for
from slack_app.simulator.server import SlackSimulator
from slack_app.simulator.story import Story

if TYPE_CHECKING:
    from slack_app.app import Hearth


def getting_started(driver: SlackDriver, simulator: SlackSimulator, hearth: Hearth) -> list[str]:
    story = Story(simulator, hearth, deliver=False)
    lines = story.lines
    step = story.step

    alice = driver.as_member("UALICE")
    alice.open_home()
    _settle(lambda: simulator.home("UALICE"))
    step("Alice opens Hearth's App Home")

    answer = alice.command("/hearth", "help")
    step("Alice asks /hearth help")
    help_text = (answer.json or {}).get("text", "") if isinstance(answer.json, dict) else ""
    lines.extend(f"    only Alice sees: {line}" for line in help_text.splitlines()[:3])

    if driver.socket_mode:  # no endpoint to forge a request to: the connection itself needs the app-level token
        lines.append(f"▸ A connection without Hearth's app-level token is refused: {_forged_connection(simulator)}")
    else:
        forged = driver.post_raw("command=%2Fhearth&user_id=UALICE", content_type="application/x-www-form-urlencoded",
                                 sign=False)
        lines.append(f"▸ A request without Slack's signature is refused: HTTP {forged.status}")

    driver.app_home_opened("UBOB")
    _settle(lambda: simulator.home("UBOB"))
    publishes = len(simulator.calls_for("views.publish"))
    driver.app_home_opened("UBOB")  # carries the Home Slack shows, as Slack's event does
    wait_for(lambda: len(simulator.calls_for("views.publish")) > publishes, timeout=1.0)  # one would come by now
    lines.append("▸ Bob opens Home again and nothing in it changed: Hearth publishes nothing, sparing Slack's quota "
                 f"({len(simulator.calls_for('views.publish')) - publishes} extra App Home publishes)")
    return story.lines


def _forged_connection(simulator: SlackSimulator) -> str:
    try:
        WebClient(base_url=simulator.base_url).apps_connections_open(app_token="xapp-1-forged")
    except SlackApiError as exc:
        return str(exc.response["error"])
    return "accepted (it should not be)"


def _settle(predicate: Callable[[], object]) -> None:
    wait_for(predicate, timeout=5.0)
