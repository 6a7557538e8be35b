"""What buddy messages look like (Block Kit), rendered from the templates."""

from __future__ import annotations

from slack_app import blocks
from slack_app.copy import Copy


def intro(copy: Copy, members: list[str], prompt: str) -> dict:
    text = copy.render("buddies_intro.j2", members=members, prompt=prompt)
    return blocks.message(text, [blocks.section(blocks.truncate(text, 3000))])


def left_out(copy: Copy) -> dict:
    text = copy.render("buddies_left_out.j2")
    return blocks.message(text, [blocks.section(text)])


def command_answer(copy: Copy, outcome: str, channel_id: str | None, people: list[str] | None = None) -> str:
    return copy.render("buddies_command.j2", outcome=outcome, channel_id=channel_id, people=people or [])
