"""What buddy messages look like (Block Kit), rendered from the templates."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup

from slack_app import blocks
from slack_app.copy import Copy


def label(copy: Copy, part: str, **ctx: object) -> str:
    """A button's words (`buddies_labels.j2`)."""
    return copy.text("buddies_labels.j2", part=part, **ctx)


def prompts(copy: Copy) -> list[str]:
    """The prompt bank (`buddies_prompts.j2`, which a community may reword): its non-blank lines."""
    return [line.strip() for line in copy.render("buddies_prompts.j2").splitlines() if line.strip()]


def intro(copy: Copy, members: list[str], prompt: str) -> dict:
    # The prompt is template text, already rendered to Slack's escaping: not escaped a second time.
    text = copy.render("buddies_intro.j2", members=members, prompt=Markup(prompt))
    return blocks.message(text, [blocks.section(blocks.truncate(text, 3000))])


def left_out(copy: Copy) -> dict:
    text = copy.render("buddies_left_out.j2")
    return blocks.message(text, [blocks.section(text)])


def command_answer(copy: Copy, outcome: str, channel_id: str | None, people: list[str] | None = None, *,
                   until: datetime | None = None) -> str:
    return copy.render("buddies_command.j2", outcome=outcome, channel_id=channel_id, people=people or [],
                       until=until.strftime("%A %d %B %Y") if until else None)


SKIP_ACTION = "buddies.skip_round"


def heads_up(copy: Copy, channel_id: str, program_id: int, occurrence_local: str) -> dict:
    text = copy.render("buddies_heads_up.j2", channel_id=channel_id, when=occurrence_local)
    return blocks.message(text, [blocks.section(text), blocks.actions(
        blocks.button(copy.text("buddies_skip_button.j2"), SKIP_ACTION, value=str(program_id)))])


MET_ACTIONS = {"buddies.met_yes": "yes", "buddies.met_not_yet": "not_yet", "buddies.met_couldnt": "couldnt"}
MET_ACTIONS_YES = "buddies.met_yes"
RESUME_ACTION = "buddies.resume"


def follow_up(copy: Copy, group_id: int) -> dict:
    text = copy.render("buddies_follow_up.j2")
    return blocks.message(text, [blocks.section(text), blocks.actions(
        *(blocks.button(label(copy, f"met_{answer}"), action_id, value=str(group_id))
          for action_id, answer in MET_ACTIONS.items()))])


def answered(copy: Copy, answer: str) -> dict:
    text = copy.render("buddies_answered.j2", answer=answer)
    return blocks.message(text, [blocks.section(text)])


def paused_notice(copy: Copy, program_id: int) -> dict:
    text = copy.render("buddies_paused_notice.j2")
    return blocks.message(text, [blocks.section(text), blocks.actions(
        blocks.button(label(copy, "resume_button"), RESUME_ACTION, value=str(program_id), style="primary"))])


JOIN_ACTION = "buddies.join"


def join_invitation(copy: Copy, program_id: int, size: int) -> dict:
    text = copy.render("buddies_join.j2", size=size)
    return blocks.message(text, [blocks.section(text), blocks.actions(
        blocks.button(label(copy, "join_button"), JOIN_ACTION, value=str(program_id), style="primary"))])


VOLUNTEER_ACTION = "buddies.volunteer"


def welcome(copy: Copy, newcomer: str, welcomer: str, channel_id: str) -> dict:
    text = copy.render("buddies_welcome.j2", newcomer=newcomer, welcomer=welcomer, channel_id=channel_id)
    return blocks.message(text, [blocks.section(text)])
