"""What `/report` and the *Report* shortcuts do until the intake exists: say so, and keep nothing.

Nothing here writes to the database or the log beyond the fact that the modal was shown: not who asked, not
which message they pointed at (a message shortcut's text and author are never read).
"""

from __future__ import annotations

import logging

from slack_app.reports import views
from slack_app.services import Services
from slack_app.slack_port import SlackError, SlackPort

log = logging.getLogger("hearth.reports")


def open_setting_up(services: Services, slack: SlackPort, trigger_id: str, *, about_message: bool) -> bool:
    """Open the interim modal; False when Slack refused it (the caller tells the member another way)."""
    view = views.setting_up_modal(services.copy, services.settings.admins, about_message=about_message)
    try:
        slack.open_view(trigger_id, view)
    except SlackError as exc:
        log.info("reports.modal_failed error=%s", exc.error)
        return False
    log.info("reports.setting_up_shown about_message=%s", about_message)
    return True


def setting_up_note(services: Services, *, about_message: bool) -> str:
    """The same words as the modal, for an ephemeral reply when the modal could not open."""
    return views.setting_up_text(services.copy, services.settings.admins, about_message=about_message)
