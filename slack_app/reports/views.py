"""Block Kit for the reports workflow; every word comes from `report_setting_up.j2`."""

from __future__ import annotations

from collections.abc import Iterable

from slack_app import blocks
from slack_app.copy import Copy
from slack_app.reports.ids import ReportView


def _part(copy: Copy, part: str, **ctx: object) -> str:
    return copy.render("report_setting_up.j2", part=part, **ctx).strip()


def setting_up_text(copy: Copy, contacts: Iterable[str], *, about_message: bool) -> str:
    return _part(copy, "body", contacts=sorted(contacts), about_message=about_message)


def setting_up_modal(copy: Copy, contacts: Iterable[str], *, about_message: bool) -> dict:
    """No input, no submit button: the modal can only be closed, so it cannot collect anything."""
    body = setting_up_text(copy, contacts, about_message=about_message)
    return blocks.modal(_part(copy, "title"), [blocks.section(body)], callback_id=ReportView.SETTING_UP,
                        close=_part(copy, "close"))
