"""Named ids of the survey workflow's views, actions and blocks, namespaced `survey.*`."""

from enum import StrEnum


class SurveyView(StrEnum):
    SUBMIT = "survey.submit"  # the survey modal
    DONE = "survey.done"  # a confirmation or note shown in place of the modal


class SurveyAction(StrEnum):
    OPEN_MODAL = "survey.open_modal"  # "Answer the survey" in the invitation and reminder DMs


QUESTION_BLOCK = "survey.q."  # + question id: one input block per question


def question_block(question_id: str) -> str:
    return QUESTION_BLOCK + question_id


def question_of_block(block_id: str) -> str | None:
    return block_id[len(QUESTION_BLOCK):] if block_id.startswith(QUESTION_BLOCK) else None
