"""`hearth checkins …`: turn check-ins on for a channel, open or close a round by hand, see how circles are.

Admin-facing, so its words live here; what members see lives in the templates.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click

from slack_app.checkins import rules
from slack_app.checkins.inputs import SettingsInput
from slack_app.cli_support import CliContext, fail, friendly, pass_cli

PROBLEM_FIXES = {
    "not_in_channel": "Hearth is not a member of that channel: type `/invite @hearth` in it.",
    "archived": "that channel is archived: unarchive it, or enable check-ins in another channel.",
    "channel_gone": "Slack cannot find that channel (deleted, or private without Hearth): "
                    "check the id, or `/invite @hearth` in the private channel.",
}
FIELD_NAMES = {"remind_before": "remind-before", "time": "time", "timezone": "timezone"}
ERRORS = {
    "bad_channel": "is not a channel id (C… or G…)",
    "unknown_cadence": "is not one of weekly, biweekly, fourweekly, monthly",
    "unknown_day": "is not a weekday (mon … sun)",
    "bad_time": "is not a time like 10:00",
    "unknown_timezone": "is not a time zone like Europe/Berlin",
    "bad_duration": "is not a duration like 48h or 2d",
    "window_out_of_range": "must be at least 1h and fit between two rounds",
    "reminder_out_of_range": "must be shorter than the window",
    "unknown_sharing": "is not one of named, anonymous, facilitator",
    "facilitator_needs_rotation": "facilitator-only sharing needs a rotating facilitator (drop --no-rotate)",
}


def _when(instant: datetime | None, tz: str) -> str:
    if instant is None:
        return "—"
    return instant.astimezone(ZoneInfo(tz)).strftime("%a %d %b %Y %H:%M ") + tz


@click.group("checkins", help="Gratitude-and-challenge check-ins: a weekly ritual in a channel.")
def checkins() -> None:
    pass


@checkins.command(help="Turn check-ins on for a channel (or change its settings).")
@click.option("--channel", required=True, help="channel id, e.g. C0123ABCD")
@click.option("--cadence", default="weekly", show_default=True, help="weekly, biweekly, fourweekly or monthly")
@click.option("--day", default="mon", show_default=True, help="weekday the round opens (mon … sun)")
@click.option("--time", "local_time", default="10:00", show_default=True, help="local time the round opens")
@click.option("--timezone", "tz", default=None, help="IANA zone; HEARTH_TIMEZONE when not given")
@click.option("--window", default="48h", show_default=True, help="how long a round stays open")
@click.option("--remind-before", default=None, help="reminder this long before closing (default: 24h, or half "
              "the window)")
@click.option("--sharing", default="named", show_default=True, help="named, anonymous or facilitator")
@click.option("--rotate/--no-rotate", default=True, show_default=True, help="rotating facilitator")
@friendly
@pass_cli
def enable(ctx: CliContext, channel: str, cadence: str, day: str, local_time: str, tz: str | None, window: str,
           remind_before: str | None, sharing: str, rotate: bool) -> None:
    from slack_app.checkins import usecases

    given = SettingsInput(cadence=cadence, day=day, local_time=local_time, tz=tz, window=window,
                                   remind_before=remind_before, sharing=sharing, rotate=rotate)
    result = usecases.enable_circle(ctx.services, ctx.team_id, channel, given)
    if result.errors or result.circle_id is None:
        field, code = next(iter(result.errors.items()))
        fail(f"--{FIELD_NAMES.get(field, field)} {ERRORS.get(code, code)}.")
    problem = usecases.confirm_circle(ctx.services, ctx.slack, result.circle_id)
    zone = tz or ctx.settings.HEARTH_TIMEZONE
    verb = "on" if result.created else "updated"
    click.echo(f"Check-ins {verb} for {channel}: {cadence} on {day} at {local_time} {zone}, open for {window}; "
               f"next round opens {_when(result.next_open_at, zone)}.")
    if problem:
        click.echo(f"Warning: {PROBLEM_FIXES.get(problem, problem)}")


@checkins.command(help="Turn check-ins off for a channel (history is kept).")
@click.option("--channel", required=True)
@friendly
@pass_cli
def disable(ctx: CliContext, channel: str) -> None:
    from slack_app.checkins import usecases

    if not usecases.disable_circle(ctx.services, ctx.team_id, channel):
        fail(f"check-ins are not set up for {channel}.")
    click.echo(f"Check-ins off for {channel}.")


@checkins.command("open", help="Open a round now (or retry one waiting for its channel).")
@click.option("--channel", required=True)
@friendly
@pass_cli
def open_(ctx: CliContext, channel: str) -> None:
    from slack_app.checkins import rounds

    result = rounds.open_round(ctx.services, ctx.slack, ctx.team_id, channel)
    if result.status == "no_circle":
        fail(f"check-ins are not set up for {channel}; run `hearth checkins enable --channel {channel}` first.")
    if result.status == "already_open":
        click.echo(f"A round is already open in {channel}.")
    elif result.status == "deferred":
        fail(f"Slack is busy ({result.problem}); the round opens within a minute or two, or run this again.")
    elif result.status == "blocked":
        fail(f"the round is waiting: {PROBLEM_FIXES.get(result.problem or '', result.problem)} "
              "It opens as soon as that is fixed (or run this command again).")
    else:
        who = f"; {result.facilitator} facilitates" if result.facilitator else ""
        click.echo(f"Round opened in {channel}: {result.invited} invitations queued{who}.")


@checkins.command(help="Close the open round now and post its summary.")
@click.option("--channel", required=True)
@friendly
@pass_cli
def close(ctx: CliContext, channel: str) -> None:
    from slack_app.checkins import rounds

    result = rounds.close_round(ctx.services, ctx.team_id, channel)
    if result.status == "no_circle":
        fail(f"check-ins are not set up for {channel}.")
    if result.status != "closed" or result.summary is None:
        click.echo(f"No round is open in {channel}.")
        return
    s = result.summary
    click.echo(f"Round closed in {channel}: {s.checked_in} checked in, {s.challenges_shared} challenges shared, "
               f"{s.help_offered} offers of help, {s.help_accepted} accepted.")
    if result.next_facilitator:
        click.echo(f"Next facilitator: {result.next_facilitator}.")


@checkins.command(help="Show each circle: settings, next opening, the current round, any problem.")
@click.option("--channel", default=None, help="only this channel")
@friendly
@pass_cli
def status(ctx: CliContext, channel: str | None) -> None:
    from slack_app.checkins import home

    rows = home.circle_status(ctx.services, ctx.team_id)
    rows = [r for r in rows if channel in (None, r.channel_id)]
    if not rows:
        click.echo("No check-in circles yet; start one with `hearth checkins enable --channel C…`.")
        return
    for r in rows:
        state = "on" if r.enabled else "off"
        click.echo(f"{r.channel_id} [{state}] {r.cadence} {rules.WEEKDAYS[r.weekday]} {r.local_time} {r.timezone}, "
                   f"window {r.window}, sharing {r.sharing}, rotation {'on' if r.rotate else 'off'}")
        click.echo(f"  next opening: {_when(r.next_open_at, r.timezone)}")
        if r.round_number is not None:
            click.echo(f"  round {r.round_number}: {r.round_status}, closes {_when(r.closes_at, r.timezone)}, "
                       f"{r.checked_in} of {r.participants} checked in")
        if r.problem:
            click.echo(f"  problem: {PROBLEM_FIXES.get(r.problem, r.problem)}")
