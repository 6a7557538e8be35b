"""What admins see of delivery on App Home: messages that could not be delivered, and how to resend them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import blocks
from storage import outbox

if TYPE_CHECKING:
    from slack_app.home import Viewer


def section(viewer: Viewer) -> list[dict]:
    if not viewer.is_admin:
        return []
    with viewer.services.db.session() as session:
        status = outbox.status(session, viewer.team_id)
    failed = status.counts.get(outbox.FAILED, 0)
    if not failed:
        return []
    reasons = list(status.failed_by_error)[:3]
    return [blocks.divider(), blocks.section(viewer.services.copy.render(
        "home_delivery_failed.j2", failed=failed, reasons=reasons))]
