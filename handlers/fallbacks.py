"""Catch-alls, registered last: anything no workflow claimed is acknowledged, logged by id, and answered kindly."""

import logging
import re

from slack_bolt import Ack, App, Respond

from slack_app.ids import Command
from slack_app.services import Services

log = logging.getLogger("hearth.handlers")
ANY = re.compile(".*")


def register(app: App) -> None:
    @app.command(ANY)
    def on_command(ack: Ack, command: dict, services: Services) -> None:
        name = command.get("command", "")
        log.info("command.unclaimed command=%s", name)
        template = "not_ready.j2" if name in set(Command) else "unknown_action.j2"
        ack(response_type="ephemeral", text=services.copy.render(template, command=name))

    @app.action(ANY)
    def on_action(ack: Ack, body: dict, respond: Respond, services: Services) -> None:
        ack()
        action_id = (body.get("actions") or [{}])[0].get("action_id")
        log.info("action.unclaimed action_id=%s", action_id)
        if body.get("response_url"):
            respond(response_type="ephemeral", replace_original=False,
                    text=services.copy.render("unknown_action.j2"))

    @app.view(ANY)
    def on_view_submission(ack: Ack, view: dict) -> None:
        log.info("view.unclaimed callback_id=%s", view.get("callback_id"))
        ack()

    @app.view_closed(ANY)
    def on_view_closed(ack: Ack, view: dict) -> None:
        log.info("view_closed.unclaimed callback_id=%s", view.get("callback_id"))
        ack()

    @app.shortcut(ANY)
    def on_shortcut(ack: Ack, shortcut: dict) -> None:
        log.info("shortcut.unclaimed callback_id=%s", shortcut.get("callback_id"))
        ack()

    @app.options(ANY)
    def on_options(ack: Ack) -> None:
        ack(options=[])

    @app.event(ANY)
    def on_event(event: dict) -> None:
        log.debug("event.ignored type=%s", event.get("type"))
