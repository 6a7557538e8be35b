"""What a workflow plugs into Hearth, declared in one value; `slack_app.workflows` lists them all.

A workflow that is listed is wired everywhere: its listeners into every Bolt app `build_app` makes, its App
Home section into every member's home, its jobs into the scheduler and `hearth jobs`, its commands into the
`hearth` CLI and its chapter into `hearth simulate`. Nothing registers itself at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slack_app.scheduling.registry import Jobs

if TYPE_CHECKING:
    import click
    from slack_bolt import App

    from slack_app.app import Hearth
    from slack_app.home import Viewer
    from slack_app.simulator.driver import SlackDriver
    from slack_app.simulator.server import SlackSimulator

Listeners = Callable[["App"], None]                                       # registers Bolt listeners
Section = Callable[["Viewer"], list[dict]]                                # this viewer's App Home blocks
Chapter = Callable[["SlackDriver", "SlackSimulator", "Hearth"], list[str]]  # a story told by `hearth simulate`


@dataclass(frozen=True)
class Workflow:
    name: str
    listeners: Sequence[Listeners] = ()
    home: Section | None = None
    jobs: Jobs = field(default_factory=Jobs)
    commands: Sequence[click.Command] = ()      # added to the `hearth` CLI
    chapter: tuple[str, Chapter] | None = None  # (title, chapter) for `hearth simulate`
