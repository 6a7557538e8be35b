"""Block Kit of check-ins: messages, modals and the App Home section, built with `slack_app.blocks`.

Every word comes from a `checkin_*.j2` template (so communities can reword it); member text reaches
templates as plain variables, which `Copy` escapes, so nobody can ping @channel or inject formatting.
Messages are returned as outbox payloads (`{"text": …, "blocks": […]}`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from markupsafe import Markup

from slack_app import blocks
from slack_app.checkins import rules
from slack_app.checkins.ids import FIELD_BLOCKS, SETTINGS_FIELD_BLOCKS, CheckinAction, CheckinBlock, CheckinView
from slack_app.checkins.inputs import CheckinForm, SettingsInput
from slack_app.checkins.outcomes import Choice, Draft, NothingOpen, Refused, Start
from slack_app.checkins.rules import Cadence, Sharing

if TYPE_CHECKING:
    from slack_app.checkins.home import HomeData
    from slack_app.copy import Copy
    from storage.checkins import Checkin, CheckinCircle, CheckinRound, CheckinText, HelpOffer


# ---- words ----------------------------------------------------------------------------------------------

def label(copy: Copy, part: str, **ctx: object) -> str:
    return copy.render("checkin_labels.j2", part=part, **ctx).strip()


def error_text(copy: Copy, code: str, *, field: str | None = None) -> str:
    return copy.render("checkin_errors.j2", code=code, field=field, limit=rules.LIMITS.get(field or "", 0)).strip()


def slack_date(instant: datetime, token: str = "{date_short_pretty} at {time}") -> Markup:
    """A date Slack shows in each reader's own time zone (the fallback is UTC)."""
    utc = instant.astimezone(UTC)
    fallback = utc.strftime("%a %d %b %H:%M UTC")
    return Markup(f"<!date^{int(utc.timestamp())}^{token}|{fallback}>")


def _one_line(text: str) -> str:
    """For a quote (`> …`): Slack quotes one line, so the member's line breaks become spaces."""
    return " ".join(text.split())


def _message(text: str, body: list[dict]) -> dict:
    return blocks.message(text, body)


def _dm_footer(copy: Copy, circle: CheckinCircle, snooze: Snooze) -> dict:
    """Every check-in DM offers a way to rest (snooze) and a way out (opt out of this circle)."""
    local_day = snooze.until.astimezone(ZoneInfo(snooze.tz)).strftime("%a %d %b")  # a button shows plain text
    return blocks.actions(
        blocks.button(label(copy, "snooze_button", until=local_day), CheckinAction.SNOOZE,
                      value=snooze.until.isoformat()),
        blocks.button(label(copy, "opt_out_button"), CheckinAction.OPT_OUT, value=str(circle.id)),
    )


@dataclass(frozen=True)
class Snooze:
    """What a DM's "Snooze until …" offers: until when, shown on the member's own calendar."""

    until: datetime
    tz: str


def _check_in_button(copy: Copy, round_: CheckinRound) -> dict:
    return blocks.button(label(copy, "check_in_button"), CheckinAction.OPEN_MODAL, value=str(round_.id),
                         style="primary")


# ---- the channel ----------------------------------------------------------------------------------------

def round_message(copy: Copy, circle: CheckinCircle, round_: CheckinRound) -> dict:
    text = copy.render("checkin_round_open.j2", channel_id=circle.channel_id, facilitator=round_.facilitator_id,
                       closes=slack_date(round_.closes_at), number=round_.number)
    return _message(text, [blocks.section(text), blocks.actions(_check_in_button(copy, round_))])


def round_closed_message(copy: Copy, circle: CheckinCircle, round_: CheckinRound) -> dict:
    text = copy.render("checkin_round_closed.j2", channel_id=circle.channel_id, number=round_.number)
    return _message(text, [blocks.section(text)])


def share_message(copy: Copy, row: Checkin, text: CheckinText, *, named: bool) -> dict:
    body = copy.render("checkin_share.j2", named=named, user_id=row.user_id, gratitude=text.gratitude,
                       challenge=text.challenge, offer=text.offer)
    parts = [blocks.section(blocks.truncate(body, 3000))]
    if text.challenge:
        parts.append(blocks.actions(blocks.button(label(copy, "help_button"), CheckinAction.OFFER_HELP,
                                                  value=row.public_id)))
    return _message(blocks.truncate(body, 3000), parts)


def withdrawn_share(copy: Copy) -> dict:
    text = copy.render("checkin_share_withdrawn.j2")
    return _message(text, [blocks.section(text)])


def summary(copy: Copy, round_: CheckinRound, counts: rules.Summary, next_facilitator: str | None) -> dict:
    text = copy.render("checkin_summary.j2", number=round_.number, checked_in=counts.checked_in,
                       challenges_shared=counts.challenges_shared, help_offered=counts.help_offered,
                       help_accepted=counts.help_accepted, next_facilitator=next_facilitator)
    return _message(text, [blocks.section(text)])


# ---- direct messages ------------------------------------------------------------------------------------

def invitation(copy: Copy, circle: CheckinCircle, round_: CheckinRound, user_id: str, snooze: Snooze) -> dict:
    text = copy.render("checkin_invite.j2", user_id=user_id, channel_id=circle.channel_id,
                       closes=slack_date(round_.closes_at))
    return _message(text, [blocks.section(text), blocks.actions(_check_in_button(copy, round_)),
                           _dm_footer(copy, circle, snooze)])


def facilitator_guide(copy: Copy, circle: CheckinCircle, round_: CheckinRound, snooze: Snooze) -> dict:
    text = copy.render("checkin_guide.j2", user_id=round_.facilitator_id, channel_id=circle.channel_id,
                       closes=slack_date(round_.closes_at), sharing=circle.sharing)
    return _message(text, [blocks.section(text), blocks.actions(_check_in_button(copy, round_)),
                           _dm_footer(copy, circle, snooze)])


def reminder(copy: Copy, circle: CheckinCircle, round_: CheckinRound, user_id: str, snooze: Snooze) -> dict:
    text = copy.render("checkin_reminder.j2", user_id=user_id, channel_id=circle.channel_id,
                       closes=slack_date(round_.closes_at))
    return _message(text, [blocks.section(text), blocks.actions(_check_in_button(copy, round_)),
                           _dm_footer(copy, circle, snooze)])


def facilitator_share(copy: Copy, circle: CheckinCircle, row: Checkin, text: CheckinText, snooze: Snooze) -> dict:
    body = copy.render("checkin_facilitator_share.j2", user_id=row.user_id, channel_id=circle.channel_id,
                       gratitude=text.gratitude, challenge=text.challenge, offer=text.offer)
    parts = [blocks.section(blocks.truncate(body, 3000))]
    if text.challenge:
        parts.append(blocks.actions(blocks.button(label(copy, "help_button"), CheckinAction.OFFER_HELP,
                                                  value=row.public_id)))
    return _message(blocks.truncate(body, 3000), [*parts, _dm_footer(copy, circle, snooze)])


def help_request(copy: Copy, circle: CheckinCircle, offer: HelpOffer, helper_id: str, challenge: str, *,
                 named: bool, snooze: Snooze) -> dict:
    text = copy.render("checkin_help_request.j2", helper_id=helper_id, challenge=_one_line(challenge), named=named)
    return _message(blocks.truncate(text, 3000), [
        blocks.section(blocks.truncate(text, 3000)),
        blocks.actions(
            blocks.button(label(copy, "accept_button"), CheckinAction.ACCEPT_HELP, value=offer.public_id,
                          style="primary"),
            blocks.button(label(copy, "decline_button"), CheckinAction.DECLINE_HELP, value=offer.public_id),
        ),
        _dm_footer(copy, circle, snooze),
    ])


def help_answered(copy: Copy, status: str, helper_id: str | None) -> dict:
    text = copy.render("checkin_help_answered.j2", status=status, helper_id=helper_id)
    return _message(text, [blocks.section(text)])


def help_intro(copy: Copy, owner_id: str, helper_id: str, challenge: str) -> dict:
    text = copy.render("checkin_help_intro.j2", owner_id=owner_id, helper_id=helper_id, challenge=_one_line(challenge))
    return _message(blocks.truncate(text, 3000), [blocks.section(blocks.truncate(text, 3000))])


def admin_problem(copy: Copy, circle: CheckinCircle, problem: str) -> dict:
    text = copy.render("checkin_admin_problem.j2", channel_id=circle.channel_id, problem=problem)
    return _message(text, [blocks.section(text)])


def settings_saved(copy: Copy, circle: CheckinCircle, problem: str | None) -> dict:
    text = copy.render(
        "checkin_settings_saved.j2", enabled=circle.enabled, channel_id=circle.channel_id,
        cadence=label(copy, f"cadence_{circle.cadence}"), day=label(copy, f"day_{circle.weekday}"),
        local_time=circle.local_time, timezone=circle.timezone, window_hours=int(circle.window.total_seconds() // 3600),
        next_open=slack_date(circle.next_open_at) if circle.next_open_at else "")
    if problem:
        text += "\n" + copy.render("checkin_settings_warning.j2", channel_id=circle.channel_id, problem=problem).strip()
    return _message(text, [blocks.section(text)])


# ---- modals ---------------------------------------------------------------------------------------------

def _sharing_options(copy: Copy, allowed: Sequence[Sharing]) -> list[tuple[str, str]]:
    return [(m.value, label(copy, f"sharing_{m.value}")) for m in allowed]


def start_view(copy: Copy, start: Start, *, from_home: bool = False) -> dict | None:
    """The modal answering `/checkin` or a *Check in* button; None when a short note says it better.
    `from_home`: opened from App Home, which is then redrawn after the check-in."""
    if isinstance(start, Draft):
        return checkin_modal(copy, start, from_home=from_home)
    if isinstance(start, Choice):
        return pick_circle_modal(copy, start.rounds)
    if isinstance(start, Refused):
        return notice_modal(copy, start.reason)
    return None


def start_note(copy: Copy, start: NothingOpen) -> str:
    return copy.render("checkin_no_open_round.j2", paused=start.paused)


def checkin_modal(copy: Copy, draft: Draft, *, from_home: bool = False) -> dict:
    allowed, existing = draft.allowed, draft.existing
    chosen = draft.existing_sharing if draft.existing_sharing in {m.value for m in allowed} else allowed[0].value
    body = [
        blocks.context(label(copy, "modal_intro", channel_id=draft.channel_id, closes=slack_date(draft.closes_at))),
        blocks.plain_text_input(CheckinBlock.GRATITUDE, label(copy, "gratitude_label"), multiline=True,
                                max_length=rules.LIMITS["gratitude"],
                                initial_value=existing.gratitude if existing else None,
                                placeholder=label(copy, "gratitude_placeholder")),
        blocks.plain_text_input(CheckinBlock.CHALLENGE, label(copy, "challenge_label"), multiline=True,
                                optional=True, max_length=rules.LIMITS["challenge"],
                                initial_value=existing.challenge if existing else None,
                                hint=label(copy, "challenge_hint")),
        blocks.plain_text_input(CheckinBlock.OFFER, label(copy, "offer_label"), optional=True,
                                max_length=rules.LIMITS["offer"],
                                initial_value=existing.offer if existing else None, hint=label(copy, "offer_hint")),
        blocks.radio_input(CheckinBlock.SHARING, label(copy, "sharing_label"), _sharing_options(copy, allowed),
                           initial=chosen),
    ]
    return blocks.modal(label(copy, "modal_title"), body, callback_id=CheckinView.SUBMIT,
                        submit=label(copy, "modal_submit"), close=label(copy, "modal_close"),
                        private_metadata=CheckinMeta(round_id=draft.round_id, home=int(from_home)))


@dataclass(frozen=True)
class CheckinMeta(blocks.Metadata):
    """What the check-in modal carries through the member's client: which round it belongs to, and whether it
    was opened from App Home (1), the only Home worth redrawing after the check-in: any other is redrawn
    when the member next opens it (`app_home_opened`), and redrawing after every check-in was about a third
    of the load mix's CPU (bench/request_costs.py)."""

    round_id: int
    home: int = 0  # modals opened before this field existed have none


def read_checkin(values: Mapping[str, object]) -> CheckinForm:
    """The check-in modal's answers as the use case's input (the rules validate them)."""
    def text(block: CheckinBlock) -> str | None:
        value = values.get(block)
        return value if isinstance(value, str) else None

    return CheckinForm(gratitude=text(CheckinBlock.GRATITUDE), challenge=text(CheckinBlock.CHALLENGE),
                       offer=text(CheckinBlock.OFFER), sharing=text(CheckinBlock.SHARING))


def read_picked_round(values: Mapping[str, object]) -> int | None:
    """The round chosen in "which circle?" (None when the value is not one Hearth offered)."""
    return blocks.as_int(values.get(CheckinBlock.CIRCLE))


def checkin_errors(copy: Copy, errors: Mapping[str, str]) -> dict[str, str]:
    """The use case's {field: code} as Slack's {block_id: message}; a problem with the round itself
    is shown on the first field."""
    return {FIELD_BLOCKS.get(f, CheckinBlock.GRATITUDE): error_text(copy, code, field=f if f in FIELD_BLOCKS else None)
            for f, code in errors.items()}


def read_settings_channel(values: Mapping[str, object]) -> str:
    channel = values.get(CheckinBlock.SETTINGS_CHANNEL)
    return channel if isinstance(channel, str) else ""


def settings_errors(copy: Copy, errors: Mapping[str, str]) -> dict[str, str]:
    return {SETTINGS_FIELD_BLOCKS[f]: error_text(copy, code, field=f) for f, code in errors.items()}


def pick_circle_modal(copy: Copy, choices: Sequence[tuple[int, str]]) -> dict:
    """Several rounds are open for this member: which circle's check-in?"""
    options = [(str(round_id), f"#{channel_id}") for round_id, channel_id in choices]
    return blocks.modal(label(copy, "pick_title"), [
        blocks.static_select_input(CheckinBlock.CIRCLE, label(copy, "pick_label"), options, initial=options[0][0]),
    ], callback_id=CheckinView.PICK_CIRCLE, submit=label(copy, "pick_submit"))


def thanks_modal(copy: Copy, closes_at: datetime, *, edited: bool) -> dict:
    text = copy.render("checkin_thanks.j2", edited=edited, closes=slack_date(closes_at))
    return blocks.modal(label(copy, "thanks_title"), [blocks.section(text)], callback_id=CheckinView.DONE,
                        close=label(copy, "close"))


def notice_modal(copy: Copy, reason: str) -> dict:
    text = copy.render("checkin_notice.j2", reason=reason)
    return blocks.modal(label(copy, "modal_title"), [blocks.section(text)], callback_id=CheckinView.DONE,
                        close=label(copy, "close"))


def settings_modal(copy: Copy, circle: CheckinCircle | None, channel_id: str | None, default_tz: str) -> dict:
    def opts(prefix: str, values: Sequence[str]) -> list[tuple[str, str]]:
        return [(v, label(copy, f"{prefix}_{v}")) for v in values]

    enabled = "on" if circle is None or circle.enabled else "off"
    body = [
        blocks.channel_select_input(CheckinBlock.SETTINGS_CHANNEL, label(copy, "settings_channel"),
                                    initial=channel_id if channel_id and channel_id[0] in "CG" else None),
        blocks.radio_input(CheckinBlock.SETTINGS_ENABLED, label(copy, "settings_enabled"),
                           [("on", label(copy, "settings_on")), ("off", label(copy, "settings_off"))], initial=enabled),
        blocks.static_select_input(CheckinBlock.SETTINGS_CADENCE, label(copy, "settings_cadence"),
                                   opts("cadence", [c.value for c in Cadence]),
                                   initial=circle.cadence if circle else Cadence.WEEKLY.value),
        blocks.static_select_input(CheckinBlock.SETTINGS_DAY, label(copy, "settings_day"),
                                   [(rules.WEEKDAYS[i], label(copy, f"day_{i}")) for i in range(7)],
                                   initial=rules.WEEKDAYS[circle.weekday] if circle else "mon"),
        blocks.plain_text_input(CheckinBlock.SETTINGS_TIME, label(copy, "settings_time"), max_length=5,
                                initial_value=circle.local_time if circle else "10:00"),
        blocks.plain_text_input(CheckinBlock.SETTINGS_TIMEZONE, label(copy, "settings_timezone"), max_length=64,
                                initial_value=circle.timezone if circle else default_tz),
        blocks.plain_text_input(CheckinBlock.SETTINGS_WINDOW, label(copy, "settings_window"), max_length=8,
                                initial_value=rules.format_duration(circle.window) if circle else "48h",
                                hint=label(copy, "settings_window_hint")),
        blocks.plain_text_input(CheckinBlock.SETTINGS_REMIND, label(copy, "settings_remind"), max_length=8,
                                optional=True,
                                initial_value=rules.format_duration(circle.remind_before) if circle else None,
                                hint=label(copy, "settings_remind_hint")),
        blocks.radio_input(CheckinBlock.SETTINGS_SHARING, label(copy, "settings_sharing"),
                           opts("sharing", [m.value for m in rules.SHARING_ORDER]),
                           initial=circle.sharing if circle else Sharing.NAMED.value),
        blocks.radio_input(CheckinBlock.SETTINGS_ROTATE, label(copy, "settings_rotate"),
                           [("on", label(copy, "rotate_on")), ("off", label(copy, "rotate_off"))],
                           initial="on" if circle is None or circle.rotate_facilitator else "off"),
    ]
    return blocks.modal(label(copy, "settings_title"), body, callback_id=CheckinView.SETTINGS,
                        submit=label(copy, "settings_submit"))


def read_settings(values: Mapping[str, object]) -> SettingsInput:
    def get(block: CheckinBlock, default: str = "") -> str:
        value = values.get(block)
        return default if value is None else str(value)

    return SettingsInput(
        cadence=get(CheckinBlock.SETTINGS_CADENCE, "weekly"), day=get(CheckinBlock.SETTINGS_DAY, "mon"),
        local_time=get(CheckinBlock.SETTINGS_TIME), tz=get(CheckinBlock.SETTINGS_TIMEZONE).strip() or None,
        window=get(CheckinBlock.SETTINGS_WINDOW), remind_before=get(CheckinBlock.SETTINGS_REMIND) or None,
        sharing=get(CheckinBlock.SETTINGS_SHARING, Sharing.NAMED.value),
        rotate=get(CheckinBlock.SETTINGS_ROTATE, "on") == "on",
        enabled=get(CheckinBlock.SETTINGS_ENABLED, "on") == "on",
    )


# ---- App Home -------------------------------------------------------------------------------------------

HOME_SECTION_ID = "checkin.home"  # the block_id of the section's header, to find it in a published home


def home_blocks(copy: Copy, data: HomeData) -> list[dict]:
    def words(part: str, **ctx: object) -> str:
        return copy.render("checkin_home.j2", part=part, **ctx).strip()

    out: list[dict] = [{**blocks.header(words("header")), "block_id": HOME_SECTION_ID}]
    if not data.circles:
        out.append(blocks.section(words("no_circles")))
    for card in data.circles:
        text = words("circle", channel_id=card.channel_id, opted_out=card.opted_out,
                     round_open=card.round_id is not None,
                     closes=slack_date(card.closes_at) if card.closes_at else "", checked_in=card.checked_in,
                     facilitating=card.facilitating, streak=card.streak)
        if card.round_id is not None and not card.opted_out:
            button = blocks.button(label(copy, "edit_button" if card.checked_in else "check_in_button"),
                                   CheckinAction.OPEN_MODAL, value=str(card.round_id))
            out.append(blocks.section(text, accessory=button))
        else:
            out.append(blocks.section(text))
    state = words("state", paused=data.paused,
                  snoozed_until=slack_date(data.snoozed_until, "{date_long}") if data.snoozed_until else None)
    opted_out = any(c.opted_out for c in data.circles)
    if data.paused or data.snoozed_until or opted_out:
        out.append(blocks.section(state, accessory=blocks.button(label(copy, "resume_button"), CheckinAction.RESUME,
                                                                  value="resume")))
    else:
        out.append(blocks.context(state))
    if data.past:
        out += [blocks.divider(), blocks.section(f"*{words('past_header')}*")]
        for past in data.past:
            out.append(blocks.context(blocks.truncate(words(
                "past", when=slack_date(past.opened_at, "{date_short}"), channel_id=past.channel_id,
                gratitude=blocks.truncate(past.text.gratitude, 300),
                challenge=blocks.truncate(past.text.challenge, 200) if past.text.challenge else None,
                offer=past.text.offer), 2900)))
    out += [blocks.divider(), blocks.section(f"*{words('offers_header')}*")]
    if not data.offers:
        out.append(blocks.context(words("no_offers")))
    for offer in data.offers:
        out.append(blocks.section(words("offer", user_id=offer.user_id, channel_id=offer.channel_id,
                                        offer=offer.offer)))
    if data.admin is not None:
        out += [blocks.divider(), blocks.section(f"*{words('admin_header')}*")]
        for stats in data.admin:
            out.append(blocks.context(words("admin_circle", channel_id=stats.channel_id, enabled=stats.enabled,
                                            rounds=stats.rounds, problem=stats.problem)))
    return out

