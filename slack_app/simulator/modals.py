"""views.open / push / update / publish: each member's stack of modals and their App Home tab.

Also what Slack does when a member submits or closes a modal (the driver reports those).
Not thread-safe by itself: the HTTP server calls it under its lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_app.simulator.errors import ApiError, invalid_arguments
from slack_app.simulator.transcript import Seen, count_inputs
from slack_app.simulator.views import Triggers, check_errors, stored_view, validate_view
from slack_app.simulator.workspace import Workspace

MAX_VIEW_STACK = 3  # Slack lets an app stack at most three modals


@dataclass
class ShownView:
    user: str
    view: dict
    open: bool = True


class Modals:
    def __init__(self, workspace: Workspace, clock: Callable[[], float], seen: list[Seen],
                 new_id: Callable[[str], str]) -> None:
        self.workspace = workspace
        self.seen = seen
        self.new_id = new_id
        self.triggers = Triggers(clock)
        self.shown: dict[str, ShownView] = {}  # every view ever shown, by id, open or closed
        self.homes: dict[str, str] = {}  # user -> Home tab view id

    # ---- Web API ---------------------------------------------------------------------------------------

    def views_open(self, p: dict, caller: Any = None) -> dict:
        trigger = self.triggers.check(str(p.get("trigger_id") or ""))
        view = self._stored(validate_view(p.get("view"), {"modal"}))
        trigger.used = True
        self.close(trigger.user)  # a new root modal replaces whatever the member had open
        self._show(trigger.user, view, "opened")
        return {"view": view}

    def views_push(self, p: dict, caller: Any = None) -> dict:
        trigger = self.triggers.check(str(p.get("trigger_id") or ""))
        view = self._push(trigger.user, validate_view(p.get("view"), {"modal"}))
        trigger.used = True
        return {"view": view}

    def views_update(self, p: dict, caller: Any = None) -> dict:
        current = self._find(p.get("view_id"), p.get("external_id"))
        if p.get("hash") and p["hash"] != current.view["hash"]:
            raise ApiError("hash_conflict")
        self._replace(current, validate_view(p.get("view"), {current.view["type"]}))
        return {"view": current.view}

    def views_publish(self, p: dict, caller: Any = None) -> dict:
        user = str(p.get("user_id") or "")
        if user not in self.workspace.users:
            raise ApiError("user_not_found")
        view = validate_view(p.get("view"), {"home"})
        home = self.shown.get(self.homes.get(user, ""))
        if home and p.get("hash") and p["hash"] != home.view["hash"]:
            raise ApiError("hash_conflict")
        if home:
            self._replace(home, view)
        else:
            stored = self._stored(view)
            self.homes[user] = stored["id"]
            self._show(user, stored, "home")
        return {"view": self.shown[self.homes[user]].view}

    # ---- what members do -----------------------------------------------------------------------------

    def stack(self, user: str) -> list[ShownView]:
        """The member's open modals, root first."""
        return [v for v in self.shown.values() if v.user == user and v.open and v.view["type"] == "modal"]

    def close(self, user: str, view_id: str | None = None) -> None:
        """Close one modal, or (without `view_id`) all of the member's modals."""
        for shown in self.stack(user):
            if view_id in (None, shown.view["id"]):
                shown.open = False

    def settle_submission(self, view_id: str, ack: dict | None) -> dict | None:
        """What Slack does with a view_submission's ack: close, update, push, clear, or keep showing errors.

        Returns Slack's error body when the ack carries an invalid view or errors (the modal then stays as
        it was, and the member sees Slack's generic "We had some trouble connecting").
        """
        submitted = self.shown[view_id]
        action = (ack or {}).get("response_action")
        try:
            if action == "errors":
                check_errors((ack or {}).get("errors"), submitted.view)
            elif action == "update":
                self._replace(submitted, validate_view((ack or {}).get("view"), {"modal"}))
            elif action == "push":
                self._push(submitted.user, validate_view((ack or {}).get("view"), {"modal"}))
        except ApiError as exc:
            return exc.body()
        if action == "clear":
            self.close(submitted.user)
        elif action not in ("errors", "update", "push"):
            submitted.open = False
        return None

    # ---- internals -----------------------------------------------------------------------------------

    def _stored(self, view: dict, *, view_id: str | None = None, root: str | None = None,
                previous: str | None = None) -> dict:
        ws = self.workspace
        return stored_view(view, view_id=view_id or self.new_id("V"), team_id=ws.team_id, app_id=ws.app_id,
                           bot_id=ws.bot_id, root_view_id=root, previous_view_id=previous)

    def _push(self, user: str, view: dict) -> dict:
        stack = self.stack(user)
        if len(stack) >= MAX_VIEW_STACK:
            raise ApiError("push_limit_reached")
        below = stack[-1].view if stack else None
        stored = self._stored(view, root=below and below["root_view_id"], previous=below and below["id"])
        self._show(user, stored, "pushed")
        return stored

    def _replace(self, shown: ShownView, view: dict) -> None:
        """New content and hash under the same id (views.update, an ack's `update`, a republished Home)."""
        old = shown.view
        shown.view = self._stored(view, view_id=old["id"], root=old["root_view_id"], previous=old["previous_view_id"])
        self._seen(shown.user, shown.view, "updated")

    def _show(self, user: str, view: dict, how: str) -> None:
        self.shown[view["id"]] = ShownView(user, view)
        self._seen(user, view, how)

    def _seen(self, user: str, view: dict, how: str) -> None:
        if view["type"] == "home":
            self.seen.append(Seen("home", user=user))
            return
        title = (view.get("title") or {}).get("text", "")
        self.seen.append(Seen(f"modal_{how}", f"{title} ({count_inputs(view['blocks'])} inputs)", user=user))

    def _find(self, view_id: Any, external_id: Any) -> ShownView:
        if not view_id and not external_id:
            raise invalid_arguments("either view_id or external_id is required [json-pointer:/]")
        for shown in self.shown.values():
            if shown.open and (shown.view["id"] == view_id if view_id else shown.view["external_id"] == external_id):
                return shown
        raise ApiError("not_found")
