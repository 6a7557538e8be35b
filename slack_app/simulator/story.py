"""A `hearth simulate` chapter's transcript: each step delivers what the outbox holds (a real delivery worker),
then prints what the people of the demo workspace saw in Slack since the step before."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app.delivery.ports import single_workspace
from slack_app.delivery.worker import DeliveryWorker, WorkerOptions

if TYPE_CHECKING:
    from slack_app.app import Hearth
    from slack_app.simulator.server import SlackSimulator


class Story:
    def __init__(self, simulator: SlackSimulator, hearth: Hearth, *, deliver: bool = True) -> None:
        self.simulator = simulator
        self.ports = single_workspace(simulator.bot_token, simulator.base_url)
        self.worker = DeliveryWorker(hearth.services.db, self.ports, options=WorkerOptions(threads=1)) \
            if deliver else None
        self.lines: list[str] = []
        self._seen = len(simulator.transcript())

    def step(self, title: str) -> None:
        if self.worker is not None:
            self.worker.drain(timeout=30)
        shown = self.simulator.transcript()
        self.lines.append(f"▸ {title}")
        self.lines.extend(f"    {line}" for line in shown[self._seen:])
        self._seen = len(shown)
