"""Check-in listeners: `/checkin`, the check-in and settings modals, and the buttons of check-in messages.

Thin: ack first (a modal is opened straight away, while the trigger_id is fresh), then call a use case
and answer with `respond` or the Slack port. Modal submissions answer in the ack itself (inline errors or
the thank-you view), from use cases that only touch the database.
"""

from __future__ import annotations

import json
import logging

from slack_bolt import App

from slack_app import blocks
from slack_app.checkins import home as checkin_home
from slack_app.checkins import rounds, usecases
from slack_app.checkins.ids import CheckinAction, CheckinBlock, CheckinView
from slack_app.ids import Command
from slack_app.slack_port import SlackError

log = logging.getLogger("hearth.handlers")


def _metadata(view: dict) -> dict:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _refresh_home(context, user_id: str) -> None:  # noqa: ANN001
    """Best effort: App Home shows whether the member checked in."""
    try:
        checkin_home.publish(context["services"], context["slack"], context["team_id"], user_id)
    except SlackError as exc:
        log.info("checkins.home_refresh_failed error=%s", exc.error)


def _open(context, trigger_id: str, plan: usecases.Plan, respond) -> None:  # noqa: ANN001
    if plan.view:
        context["slack"].open_view(trigger_id, plan.view)
    elif plan.note:
        respond(response_type="ephemeral", replace_original=False, text=plan.note)


def register(app: App) -> None:
    @app.command(Command.CHECKIN.value)
    def on_checkin(ack, command, respond, context):  # noqa: ANN001
        services, team_id, user_id = context["services"], context["team_id"], command["user_id"]
        word = (command.get("text") or "").strip().lower()
        if word in ("pause", "resume"):
            ack()
            change = usecases.pause if word == "pause" else usecases.resume
            respond(response_type="ephemeral", text=change(services, team_id, user_id))
            return
        plan = usecases.start_checkin(services, team_id, user_id)  # reads only: quick
        if plan.view is None:
            ack(response_type="ephemeral", text=plan.note)
            return
        ack()
        context["slack"].open_view(command["trigger_id"], plan.view)

    @app.action(CheckinAction.OPEN_MODAL.value)
    def on_open_modal(ack, body, action, respond, context):  # noqa: ANN001
        ack()
        plan = usecases.start_checkin(context["services"], context["team_id"], body["user"]["id"],
                                      round_id=int(action["value"]))
        _open(context, body["trigger_id"], plan, respond)

    @app.view(CheckinView.PICK_CIRCLE.value)
    def on_pick_circle(ack, body, view, context):  # noqa: ANN001
        values = blocks.view_answers(view)
        round_id = int(values.get(CheckinBlock.CIRCLE) or 0)
        ack(response_action="update",
            view=usecases.checkin_modal_for(context["services"], context["team_id"], body["user"]["id"], round_id))

    @app.view(CheckinView.SUBMIT.value)
    def on_submit(ack, body, view, context):  # noqa: ANN001
        user_id = body["user"]["id"]
        result = usecases.submit_checkin(context["services"], context["team_id"], user_id,
                                         int(_metadata(view).get("round_id") or 0),
                                         blocks.view_answers(view))
        if result.errors:
            ack(response_action="errors", errors=result.errors)
            return
        ack(response_action="update", view=result.view)
        _refresh_home(context, user_id)

    @app.action(CheckinAction.OFFER_HELP.value)
    def on_offer_help(ack, body, action, respond, context):  # noqa: ANN001
        ack()
        note = usecases.offer_help(context["services"], context["team_id"], body["user"]["id"], action["value"])
        respond(response_type="ephemeral", replace_original=False, text=note)

    @app.action(CheckinAction.ACCEPT_HELP.value)
    @app.action(CheckinAction.DECLINE_HELP.value)
    def on_answer_help(ack, body, action, respond, context):  # noqa: ANN001
        ack()
        answer = usecases.answer_help(context["services"], context["team_id"], body["user"]["id"], action["value"],
                                      accept=action["action_id"] == CheckinAction.ACCEPT_HELP.value)
        respond(replace_original=True, **answer.message)

    @app.action(CheckinAction.SNOOZE.value)
    def on_snooze(ack, body, action, respond, context):  # noqa: ANN001
        ack()
        note = usecases.snooze(context["services"], context["team_id"], body["user"]["id"], action["value"])
        respond(response_type="ephemeral", replace_original=False, text=note)

    @app.action(CheckinAction.OPT_OUT.value)
    def on_opt_out(ack, body, action, respond, context):  # noqa: ANN001
        ack()
        note = usecases.opt_out(context["services"], context["team_id"], body["user"]["id"], int(action["value"]))
        respond(response_type="ephemeral", replace_original=False, text=note)

    @app.action(CheckinAction.RESUME.value)
    def on_resume(ack, body, context):  # noqa: ANN001
        ack()
        usecases.resume(context["services"], context["team_id"], body["user"]["id"])
        _refresh_home(context, body["user"]["id"])

    @app.view(CheckinView.SETTINGS.value)
    def on_settings(ack, body, view, context):  # noqa: ANN001
        services, user_id = context["services"], body["user"]["id"]
        circle_id, errors = usecases.save_settings(services, context["team_id"], user_id,
                                                   blocks.view_answers(view))
        if errors or circle_id is None:
            ack(response_action="errors", errors=errors)
            return
        ack()
        usecases.confirm_circle(services, context["slack"], circle_id, by=user_id)

    @app.view(CheckinView.DONE.value)
    def on_done(ack):  # noqa: ANN001
        ack()

    @app.event("member_left_channel")
    def on_member_left(event, context):  # noqa: ANN001
        rounds.member_left(context["services"], context["team_id"], event["channel"], event["user"])
