"""The reports chapter of `hearth simulate`: until the intake exists, an honest modal and nothing kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app.simulator.driver import SlackDriver, wait_for
from slack_app.simulator.server import SlackSimulator

if TYPE_CHECKING:
    from slack_app.app import Hearth


def scenario_reports(driver: SlackDriver, simulator: SlackSimulator, hearth: Hearth) -> list[str]:
    seen = len(simulator.transcript())
    driver.message_shortcut("UBOB", "report.message", "CGENERAL", "1700000000.000100")
    # the modal opens after the ack; the transcript records it once the call has been answered
    wait_for(lambda: any("modal opened" in line for line in simulator.transcript()[seen:]), timeout=5.0)
    lines = ["▸ Bob picks *Report this message* on a message in #general"]
    lines.extend(f"    {line}" for line in simulator.transcript()[seen:])
    lines.append("    Reporting is still being set up: the modal says whom to ask meanwhile, and Hearth kept nothing "
                 "(no row, no copy of the message, no name in its logs)")
    return lines
