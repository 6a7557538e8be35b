"""Catch-alls, registered last: anything no workflow claimed is acknowledged, logged by id, and answered kindly."""

import logging
import re

from slack_bolt import App

from slack_app.ids import Command

log = logging.getLogger("hearth.handlers")
ANY = re.compile(".*")


def register(app: App) -> None:
    @app.command(ANY)
    def on_command(ack, command, context):  # noqa: ANN001
        name = command.get("command", "")
        log.info("command.unclaimed command=%s", name)
        template = "not_ready.j2" if name in set(Command) else "unknown_action.j2"
        ack(response_type="ephemeral", text=context["services"].copy.render(template, command=name))

    @app.action(ANY)
    def on_action(ack, body, respond, context):  # noqa: ANN001
        ack()
        action_id = (body.get("actions") or [{}])[0].get("action_id")
        log.info("action.unclaimed action_id=%s", action_id)
        if body.get("response_url"):
            respond(response_type="ephemeral", replace_original=False,
                    text=context["services"].copy.render("unknown_action.j2"))

    @app.view(ANY)
    def on_view_submission(ack, view):  # noqa: ANN001
        log.info("view.unclaimed callback_id=%s", view.get("callback_id"))
        ack()

    @app.view_closed(ANY)
    def on_view_closed(ack, view):  # noqa: ANN001
        log.info("view_closed.unclaimed callback_id=%s", view.get("callback_id"))
        ack()

    @app.shortcut(ANY)
    def on_shortcut(ack, shortcut):  # noqa: ANN001
        log.info("shortcut.unclaimed callback_id=%s", shortcut.get("callback_id"))
        ack()

    @app.options(ANY)
    def on_options(ack):  # noqa: ANN001
        ack(options=[])

    @app.event(ANY)
    def on_event(event):  # noqa: ANN001
        log.debug("event.ignored type=%s", event.get("type"))
