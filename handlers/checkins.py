"""Check-in listeners: `/checkin`, the check-in and settings modals, and the buttons of check-in messages.

Thin: ack first (a modal is opened straight away, while the trigger_id is fresh), then call a use case
and answer with `respond` or the Slack port. Modal submissions answer in the ack itself (inline errors or
the thank-you view), from use cases that only touch the database. Bolt injects `services`, `slack` and
`team_id` (set by `build_app`'s middleware) by parameter name.
"""

from __future__ import annotations

from slack_bolt import Ack, App, Respond

from slack_app import blocks, request_path
from slack_app.checkins import home as checkin_home
from slack_app.checkins import usecases, views
from slack_app.checkins.ids import CheckinAction, CheckinView
from slack_app.checkins.outcomes import NothingOpen, Refused, Start
from slack_app.ids import Command
from slack_app.request_path import AfterAck
from slack_app.services import Services
from slack_app.slack_port import SlackPort


def _refresh_home(after_ack: AfterAck, services: Services, slack: SlackPort, team_id: str, user_id: str) -> None:
    """Best effort, after the ack and off the listener threads: App Home shows whether the member checked in."""
    after_ack.low_priority("checkins.home_refresh", checkin_home.publish, services, slack, team_id, user_id)


def _show(start: Start, services: Services, slack: SlackPort, user_id: str, trigger_id: str,
          respond: Respond, *, from_home: bool = False) -> None:
    view = views.start_view(services.copy, start, from_home=from_home)
    if view is not None:
        request_path.open_or_explain(slack, services.copy, respond, user_id, trigger_id, view)
    elif isinstance(start, NothingOpen):
        respond(response_type="ephemeral", replace_original=False, text=views.start_note(services.copy, start))


def register(app: App) -> None:
    @app.command(Command.CHECKIN.value)
    def on_checkin(ack: Ack, command: dict, respond: Respond, services: Services, slack: SlackPort,
                   team_id: str) -> None:
        user_id = command["user_id"]
        word = (command.get("text") or "").strip().lower()
        if word in ("pause", "resume"):
            ack()
            change = usecases.pause if word == "pause" else usecases.resume
            respond(response_type="ephemeral", text=change(services, team_id, user_id))
            return
        start = usecases.start_checkin(services, team_id, user_id)  # reads only: quick
        if isinstance(start, NothingOpen):
            ack(response_type="ephemeral", text=views.start_note(services.copy, start))
            return
        ack()
        _show(start, services, slack, user_id, command["trigger_id"], respond)

    @app.action(CheckinAction.OPEN_MODAL.value)
    def on_open_modal(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, slack: SlackPort,
                      team_id: str) -> None:
        ack()
        round_id = blocks.as_int(action.get("value"))
        start = Refused("round_missing") if round_id is None else \
            usecases.start_checkin(services, team_id, body["user"]["id"], round_id=round_id)
        _show(start, services, slack, body["user"]["id"], body["trigger_id"], respond,
              from_home=(body.get("view") or {}).get("type") == "home")

    @app.view(CheckinView.PICK_CIRCLE.value)
    def on_pick_circle(ack: Ack, body: dict, view: dict, services: Services, team_id: str) -> None:
        round_id = views.read_picked_round(blocks.view_answers(view))
        if round_id is None:
            ack(response_action="update", view=views.notice_modal(services.copy, "round_missing"))
            return
        start = usecases.start_checkin(services, team_id, body["user"]["id"], round_id=round_id)
        ack(response_action="update", view=views.start_view(services.copy, start))

    @app.view(CheckinView.SUBMIT.value)
    def on_submit(ack: Ack, body: dict, view: dict, services: Services, slack: SlackPort, team_id: str,
                  after_ack: AfterAck) -> None:
        user_id = body["user"]["id"]
        meta = views.CheckinMeta.read(view)
        result = usecases.submit_checkin(services, team_id, user_id, meta.round_id if meta else None,
                                         views.read_checkin(blocks.view_answers(view)))
        if result.errors:
            ack(response_action="errors", errors=views.checkin_errors(services.copy, result.errors))
            return
        ack(response_action="update", view=views.thanks_modal(services.copy, result.closes_at, edited=result.edited))
        if meta is not None and meta.home:
            _refresh_home(after_ack, services, slack, team_id, user_id)

    @app.action(CheckinAction.OFFER_HELP.value)
    def on_offer_help(ack: Ack, body: dict, action: dict, respond: Respond, services: Services,
                      team_id: str) -> None:
        ack()
        note = usecases.offer_help(services, team_id, body["user"]["id"], str(action.get("value") or ""))
        respond(response_type="ephemeral", replace_original=False, text=note)

    @app.action(CheckinAction.ACCEPT_HELP.value)
    @app.action(CheckinAction.DECLINE_HELP.value)
    def on_answer_help(ack: Ack, body: dict, action: dict, respond: Respond, services: Services,
                       team_id: str) -> None:
        ack()
        answer = usecases.answer_help(services, team_id, body["user"]["id"], str(action.get("value") or ""),
                                      accept=action["action_id"] == CheckinAction.ACCEPT_HELP.value)
        respond(replace_original=True, **views.help_answered(services.copy, answer.status, answer.helper_id))

    @app.action(CheckinAction.SNOOZE.value)
    def on_snooze(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, team_id: str) -> None:
        ack()
        note = usecases.snooze(services, team_id, body["user"]["id"], str(action.get("value") or ""))
        respond(response_type="ephemeral", replace_original=False, text=note)

    @app.action(CheckinAction.OPT_OUT.value)
    def on_opt_out(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, team_id: str) -> None:
        ack()
        circle_id = blocks.as_int(action.get("value"))
        if circle_id is None:
            respond(response_type="ephemeral", replace_original=False,
                    text=services.copy.render("unknown_action.j2"))
            return
        note = usecases.opt_out(services, team_id, body["user"]["id"], circle_id)
        respond(response_type="ephemeral", replace_original=False, text=note)

    @app.action(CheckinAction.RESUME.value)
    def on_resume(ack: Ack, body: dict, services: Services, slack: SlackPort, team_id: str,
                  after_ack: AfterAck) -> None:
        ack()
        usecases.resume(services, team_id, body["user"]["id"])
        _refresh_home(after_ack, services, slack, team_id, body["user"]["id"])

    @app.view(CheckinView.SETTINGS.value)
    def on_settings(ack: Ack, body: dict, view: dict, services: Services, slack: SlackPort, team_id: str) -> None:
        user_id = body["user"]["id"]
        values = blocks.view_answers(view)
        result = usecases.save_settings(services, team_id, user_id, views.read_settings_channel(values),
                                        views.read_settings(values))
        if result.errors or result.circle_id is None:
            ack(response_action="errors", errors=views.settings_errors(services.copy, result.errors))
            return
        ack()
        usecases.confirm_circle(services, slack, result.circle_id, by=user_id)

    @app.view(CheckinView.DONE.value)
    def on_done(ack: Ack) -> None:
        ack()
