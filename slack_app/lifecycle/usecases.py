"""`/hearth forget @member`: an admin asks Hearth to forget a member. The request is recorded at once (the
member's id sealed) and carried out by the `archive.forget_requested` job, off the request path; the words
are in forget.j2."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from slack_app.admins import is_admin
from slack_app.slack_port import SlackError, SlackPort
from storage.lifecycle import forget

if TYPE_CHECKING:
    from slack_app.services import Services

_USER = re.compile(r"^(?:<@)?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$")


def user_id_of(text: str) -> str | None:
    """A user id from `U0123`, `<@U0123>` or `<@U0123|name>`; None for anything else."""
    match = _USER.match(text.strip())
    return match.group(1) if match else None


def forget_here(services: Services, slack: SlackPort, team_id: str, admin_id: str, words: list[str]) -> str:
    render = services.copy.render
    try:
        if not is_admin(services, slack, team_id, admin_id, strict=True):
            return render("forget.j2", case="not_admin")
    except SlackError:
        return render("forget.j2", case="busy")
    user_id = user_id_of(words[0]) if len(words) == 1 else None
    if user_id is None:
        return render("forget.j2", case="usage")
    forget.request(services.db, team_id, user_id, requested_by=admin_id)
    return render("forget.j2", case="requested", user_id=user_id)
