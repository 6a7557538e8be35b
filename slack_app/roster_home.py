"""What admins see of the roster on App Home: members whose Slack profile could not be read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import blocks, roster

if TYPE_CHECKING:
    from slack_app.home import Viewer

SHOWN = 5


def section(viewer: Viewer) -> list[dict]:
    if not viewer.is_admin:
        return []
    missing = roster.unreadable(viewer.services, viewer.team_id)
    if not missing:
        return []
    errors = sorted({m.error for m in missing if m.error})[:3]
    return [blocks.divider(), blocks.section(viewer.services.copy.render(
        "home_roster_unreadable.j2", count=len(missing), users=[m.user_id for m in missing[:SHOWN]],
        errors=errors))]
