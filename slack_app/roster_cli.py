"""`hearth roster status|refresh`: which channels Hearth has listed and whose profile Slack would not give."""

from __future__ import annotations

import click

from slack_app.cli_support import CliContext, fail, friendly, pass_cli


@click.group("roster", help="Channel listings and member profiles Hearth keeps (ids, time zones; no names).")
def roster_group() -> None:
    pass


@roster_group.command("status", help="Listed channels, known members, and members whose profile is unreadable.")
@click.option("--team", "team_id", default=None, help="The workspace (team id); default: the bot token's.")
@friendly
@pass_cli
def roster_status(ctx: CliContext, team_id: str | None) -> None:
    from slack_app import roster

    team_id = team_id or ctx.team_id
    status = roster.status(ctx.services, team_id)
    click.echo(f"channels listed {len(status.channels):,}  members known {status.members:,}  "
               f"profiles unreadable {len(status.unreadable):,}")
    for channel_id, synced_at, count in status.channels:
        click.echo(f"  {channel_id}: {count:,} member(s), listed {synced_at:%Y-%m-%d %H:%M}Z")
    if status.unreadable:
        click.echo("Slack would not give these profiles; they are still invited (on UTC) and asked about again "
                   "at each listing:")
        for m in status.unreadable:
            click.echo(f"  {m.user_id}: {m.error or 'unknown error'}")


@roster_group.command("refresh", help="List a channel again now and read any unknown or stale profiles.")
@click.argument("channel_id")
@friendly
@pass_cli
def roster_refresh(ctx: CliContext, channel_id: str) -> None:
    from slack_app import roster
    from slack_app.slack_port import SlackError

    if not channel_id or channel_id[0] not in "CG":
        fail(f"{channel_id!r} is not a channel id (C… or G…).")
    try:
        result = roster.channel_roster(ctx.services, ctx.slack, ctx.team_id, channel_id)
    except SlackError as exc:
        fail(f"Slack refused to list {channel_id} ({exc.error}); is Hearth a member of it?")
    click.echo(f"{channel_id}: {len(result.humans):,} people, {len(result.unreadable):,} unreadable profile(s).")
