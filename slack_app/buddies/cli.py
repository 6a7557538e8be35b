"""`hearth buddies …`: turn buddy introductions on for a channel, see them, run or plan a round."""

from __future__ import annotations

import click

from slack_app.buddies import rules
from slack_app.cli_support import CliContext, fail, friendly, pass_cli

ERRORS = {
    "size_out_of_range": "must be 2 to 8",
    "unknown_cadence": "is not one of weekly, biweekly, fourweekly",
    "unknown_day": "is not a weekday (mon … sun)",
    "bad_time": "is not a time like 10:00",
    "unknown_timezone": "is not a time zone like Europe/Berlin",
    "bad_channel": "is not a channel id (C… or G…)",
    "window_out_of_range": f"must be 1 to {rules.MAX_WINDOW} rounds",
    "unknown_field": "is not a profile field: `title`, or a custom field's id like Xf0123ABCD",
    "mix_both": "and --mix-with cannot both be given: mix by one of them",
}


@click.group("buddies", help="Buddy introductions: small groups of a channel's members meet on a rhythm.")
def buddies() -> None:
    pass


@buddies.command(help="Turn buddy introductions on for a channel (or change its settings).")
@click.option("--channel", required=True, help="channel id, e.g. C0123ABCD")
@click.option("--size", default=2, show_default=True, type=int, help="people per group, 2 to 8")
@click.option("--cadence", default=rules.DEFAULT_CADENCE, show_default=True, help="weekly, biweekly or fourweekly")
@click.option("--day", default="mon", show_default=True, help="weekday of the introductions (mon … sun)")
@click.option("--time", "local_time", default="10:00", show_default=True, help="local time of the introductions")
@click.option("--timezone", "tz", default=None, help="IANA zone; HEARTH_TIMEZONE when not given")
@click.option("--opt-in/--everyone", default=False, show_default=True,
              help="members join with /buddies join, instead of everyone in the channel")
@click.option("--mix-with", "mix_channel", default=None,
              help="a second channel (e.g. a team's): groups mix its members with everyone else")
@click.option("--mix-field", "mix_field", default=None,
              help="a profile field (title, or a custom field id Xf…): groups mix people whose values differ")
@click.option("--repeat-window", "window", default=rules.DEFAULT_WINDOW, show_default=True, type=int,
              help="no pair meets again within this many rounds, whenever the matching allows")
@friendly
@pass_cli
def enable(ctx: CliContext, channel: str, size: int, cadence: str, day: str, local_time: str, tz: str | None,
           opt_in: bool, mix_channel: str | None, mix_field: str | None, window: int) -> None:
    from slack_app.buddies import usecases

    if channel[:1] not in ("C", "G"):
        fail("--channel is not a channel id (C… or G…).")
    zone = tz or ctx.settings.HEARTH_TIMEZONE
    try:
        settings = rules.parse_settings(size=size, cadence=cadence, day=day, local_time=local_time, timezone=zone,
                                        opt_in=opt_in, mix_channel=mix_channel, mix_field=mix_field, window=window)
    except rules.SettingsError as exc:
        fail(f"--{exc.field} {ERRORS.get(exc.code, exc.code)}.")
    _, created = usecases.enable(ctx.services, ctx.team_id, channel, settings)
    verb = "on" if created else "updated"
    click.echo(f"Buddy introductions {verb} for {channel}: groups of {settings.size}, {settings.cadence} on {day} "
               f"at {settings.local_time} {zone}{', opt-in' if opt_in else ''}"
               f"{_mixing(settings.mix_channel, settings.mix_field)}; no repeats within {settings.window} rounds.")


def _mixing(channel: str | None, field: str | None) -> str:
    if channel:
        return f", mixing {channel} with everyone else"
    return f", mixing by profile field {field}" if field else ""


@buddies.command(help="Turn buddy introductions off for a channel (history is kept).")
@click.option("--channel", required=True)
@friendly
@pass_cli
def disable(ctx: CliContext, channel: str) -> None:
    from slack_app.buddies import usecases

    if not usecases.disable(ctx.services, ctx.team_id, channel):
        fail(f"buddy introductions are not set up for {channel}.")
    click.echo(f"Buddy introductions off for {channel}.")


@buddies.command(help="Show a channel's program and its recent rounds.")
@click.option("--channel", required=True)
@friendly
@pass_cli
def status(ctx: CliContext, channel: str) -> None:
    from slack_app.buddies import usecases
    from storage import buddies as repo

    prog = usecases.program(ctx.services, ctx.team_id, channel)
    if prog is None:
        fail(f"buddy introductions are not set up for {channel}.")
    state = "on" if prog.enabled else "off"
    click.echo(f"{channel}: {state}; groups of {prog.size}, {prog.cadence} on "
               f"{('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')[prog.weekday]} at {prog.local_time} "
               f"{prog.timezone}{', opt-in' if prog.opt_in else ''}{_mixing(prog.mix_channel, prog.mix_field)}; "
               f"no repeats within {prog.window} rounds.")
    with ctx.services.db.session() as s:
        recent = repo.rounds(s, prog.id, 5)
        if not recent:
            click.echo("No rounds yet.")
        for r in recent:
            click.echo(f"  round {r.id} {r.created_at:%Y-%m-%d %H:%M} UTC: {r.groups} groups, {r.left_out} left out, "
                       f"{r.repeats} repeats, repeat rate {rules.rate(r.repeat_groups, r.groups)} (seed {r.seed})")


@buddies.command(help="Run a round now: match the channel and send the introductions.")
@click.option("--channel", required=True)
@friendly
@pass_cli
def run(ctx: CliContext, channel: str) -> None:
    from slack_app.buddies import usecases

    result = usecases.plan_round(ctx.services, ctx.slack, ctx.team_id, channel)
    if result.status == "no_program":
        fail(f"buddy introductions are not set up for {channel}; run `hearth buddies enable --channel {channel}`.")
    if result.status == "disabled":
        fail(f"buddy introductions are off for {channel}; `hearth buddies enable --channel {channel}` turns them on.")
    assert result.plan is not None
    q = result.plan.quality
    click.echo(f"Round {result.round_id} in {channel}: {q.groups} introductions queued for {q.placed} members; "
               f"{q.left_out} left out (told kindly), {q.repeats} repeats.")


@buddies.command(help="Plan a round and print its groups and quality; sends nothing.")
@click.option("--channel", required=True)
@click.option("--dry-run", is_flag=True, help="required: this command never sends")
@friendly
@pass_cli
def match(ctx: CliContext, channel: str, dry_run: bool) -> None:
    from slack_app.buddies import usecases

    if not dry_run:
        fail("add --dry-run: `hearth buddies match` only plans (`hearth buddies run` sends).")
    result = usecases.plan_round(ctx.services, ctx.slack, ctx.team_id, channel, dry_run=True)
    if result.status == "no_program":
        fail(f"buddy introductions are not set up for {channel}.")
    assert result.plan is not None
    click.echo(f"Planned groups for {channel} (seed {result.plan.seed}, {result.participants} taking part):")
    for group in result.plan.groups:
        click.echo("  " + ", ".join(group))
    if result.plan.left_out:
        click.echo("  left out: " + ", ".join(result.plan.left_out))
    for line in result.plan.quality.lines():
        click.echo(line)
