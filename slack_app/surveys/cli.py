"""`hearth surveys …`: check a survey file, launch a survey, close it, read its results (by group), and
schedule launches on the shared cadence.

Admin-facing, so its words live here. Results go through the same disclosure rules as every outlet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from slack_app.cli_support import CliContext, fail, friendly, pass_cli
from surveys.cli import check
from surveys.groups import BreakdownError, parse_breakdowns
from surveys.loader import InstrumentError, builtin_names
from surveys.model import Instrument

if TYPE_CHECKING:
    from slack_app.surveys import usecases


@click.group("surveys", help="Anonymous belonging surveys.")
def surveys() -> None:
    pass


surveys.add_command(check)


def _audience(channel: str | None, workspace: bool) -> str | None:
    if workspace == bool(channel):
        fail("name the audience: --channel C… or --workspace (one of the two).")
    if channel and channel[:1] not in ("C", "G"):
        fail(f"--channel {channel} is not a channel id (C… or G…).")
    return channel


@surveys.command(help="Launch survey NAME (a shipped survey, or a YAML file) for a channel or the workspace.")
@click.argument("name")
@click.option("--channel", default=None, help="the audience: this channel's members, e.g. C0123ABCD")
@click.option("--workspace", is_flag=True, help="the audience: everyone in the workspace")
@click.option("--closes", default=None, help="how long it stays open, e.g. 5d or 36h (default: the survey's)")
@click.option("--min-responses", type=int, default=None, help="no result below this many respondents (3–10)")
@click.option("--by", "launched_by", default=None,
              help="the admin (user id) who gets the results by DM at close (default: HEARTH_ADMINS)")
@click.option("--breakdown", "breakdowns", multiple=True,
              help="results may later be broken down by: channel (workspace surveys) or field:tz; repeatable")
@friendly
@pass_cli
def launch(ctx: CliContext, name: str, channel: str | None, workspace: bool, closes: str | None,
           min_responses: int | None, launched_by: str | None, breakdowns: tuple[str, ...]) -> None:
    from slack_app.surveys import usecases

    channel_id = _audience(channel, workspace)
    instrument, source = _survey(name)
    length = _closes(closes, instrument)
    result = usecases.launch(ctx.services, ctx.slack, ctx.team_id, instrument, source, channel_id=channel_id,
                             closes=length, min_responses=min_responses, launched_by=launched_by,
                             breakdowns=_breakdowns(breakdowns, channel_id))
    if result.status != "launched":
        fail(result.message)
    where = f"#{channel_id}" if channel_id else "the workspace"
    click.echo(f"Survey '{instrument.name}' launched for {where} (id {result.run_id}): {result.invited} of "
               f"{result.audience} people invited by DM; closes in {length.days}d {length.seconds // 3600}h.")
    _say_if_nobody_gets_results(ctx, launched_by)


def _say_if_nobody_gets_results(ctx: CliContext, by: str | None) -> None:
    """Without --by, the results DM at close goes to HEARTH_ADMINS; with neither, say so now, not silently."""
    from slack_app.surveys import usecases

    if not usecases.results_recipients(ctx.settings, by):
        click.echo("No --by and no HEARTH_ADMINS: nobody gets the results by DM at close; they will be on "
                   "App Home and in `hearth surveys results` only.")


def _survey(name: str) -> tuple[Instrument, str]:
    """A shipped survey or a YAML file; every problem of a bad file on its own line, exit status 2."""
    from slack_app.surveys import usecases

    try:
        return usecases.load_survey(name)
    except InstrumentError as exc:
        for line in exc.lines() or [f"{name}: cannot read the file"]:
            click.echo(line, err=True)
        raise SystemExit(2) from None
    except KeyError:
        fail(f"no survey named {name!r}; shipped surveys: {', '.join(builtin_names())} (or give a .yml file).")


def _closes(closes: str | None, instrument: Instrument) -> timedelta:
    from surveys import timing

    length = timing.parse_closes(closes, instrument.settings.closes_after_days)
    if length is None:
        fail(f"--closes {closes} is not a duration from 1d to 30d (like 5d or 36h).")
    return length


def _breakdowns(words: tuple[str, ...], channel_id: str | None) -> tuple[str, ...]:
    try:
        return parse_breakdowns(words, workspace=channel_id is None)
    except BreakdownError as exc:
        fail(f"--breakdown: {exc}.")


def _run_id(ctx: CliContext, run_id: str | None, channel: str | None, workspace: bool, *, closed: bool) -> str:
    from slack_app.surveys import usecases

    if not run_id:
        _audience(channel, workspace)
    found = usecases.find_run(ctx.services, ctx.team_id, run_id=run_id, channel_id=channel, workspace=workspace,
                              closed=closed)
    if found is None:
        if run_id:
            fail(f"no survey {run_id} found.")
        fail(f"no {'closed' if closed else 'open'} survey found for that audience.")
    return found


@surveys.command(help="Close an open survey now: seal its answers and send the results to its admin (or HEARTH_ADMINS).")
@click.argument("run_id", required=False)
@click.option("--channel", default=None)
@click.option("--workspace", is_flag=True)
@friendly
@pass_cli
def close(ctx: CliContext, run_id: str | None, channel: str | None, workspace: bool) -> None:
    from slack_app.surveys import usecases

    found = _run_id(ctx, run_id, channel, workspace, closed=False)
    result = usecases.close(ctx.services, ctx.team_id, found, ctx.slack)
    if result.status != "closed":
        fail(f"survey {found} is not open.")
    click.echo(f"Survey {found} closed: {result.respondents} responses sealed.")
    if result.results is not None:
        click.echo(result.results.text(ctx.services.copy, plain=True))


@surveys.command(help="Show a survey's results (the latest closed one of an audience, or by ID).")
@click.argument("run_id", required=False)
@click.option("--channel", default=None)
@click.option("--workspace", is_flag=True)
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False), help="also write them as CSV")
@click.option("--by", "by", default=None,
              help="break down by channel or field:tz (only groups that, with their complement, meet the minimum)")
@friendly
@pass_cli
def results(ctx: CliContext, run_id: str | None, channel: str | None, workspace: bool, csv_path: str | None,
            by: str | None) -> None:
    from slack_app.surveys import usecases
    from surveys.export import breakdown_csv, comments_csv, results_csv

    found = _run_id(ctx, run_id, channel, workspace, closed=True)
    try:
        shown = usecases.results(ctx.services, ctx.team_id, found, by)
    except usecases.BreakdownUnavailable:
        fail(f"survey {found} was not launched with --breakdown {by}, so its answers cannot be broken down by it.")
    if shown is None:
        fail(f"no survey {found} found.")
    click.echo(shown.text(ctx.services.copy, plain=True))
    if by:
        _echo_groups(ctx, shown)
    if csv_path:
        table = results_csv(shown.instrument, shown.result, shown.change)
        if by:
            table = breakdown_csv(shown.instrument, by, shown.result, shown.change,
                                  [(g.value, g.result) for g in shown.groups])
        if table is None:
            fail("nothing may be shown for this survey, so no CSV was written.")
        Path(csv_path).write_text(table, encoding="utf-8")
        click.echo(f"Results written to {csv_path}.")
        notes = comments_csv(shown.instrument, shown.result, shown.comments)
        if notes is not None:
            comments_path = Path(csv_path).with_suffix(".comments.csv")
            comments_path.write_text(notes, encoding="utf-8")
            click.echo(f"Comments written to {comments_path}.")


def _echo_groups(ctx: CliContext, shown: usecases.Results) -> None:
    from slack_app.surveys import views

    for group in shown.groups:
        click.echo(f"\n— {shown.by} {group.value}: {group.result.respondents} responses —")
        click.echo(views.results_text(ctx.services.copy, shown.instrument, group.result, plain=True))
    if shown.groups_withheld:
        click.echo(f"\n{shown.groups_withheld} group(s) not shown: each shown group and everyone outside it must "
                   f"have at least {shown.minimum} responses, in this and every earlier result.")
    elif not shown.groups:
        click.echo(f"\nNo groups to show by {shown.by}.")


@surveys.command(help="Launch survey NAME for an audience on a schedule (the shared cadence).")
@click.argument("name")
@click.option("--channel", default=None, help="the audience: this channel's members, e.g. C0123ABCD")
@click.option("--workspace", is_flag=True, help="the audience: everyone in the workspace")
@click.option("--cadence", default="every-4-weeks", show_default=True,
              help="weekly, every-2-weeks, every-4-weeks or monthly (the first DAY of the month)")
@click.option("--day", default="mon", show_default=True, help="weekday of the launch (mon … sun)")
@click.option("--time", "local_time", default="10:00", show_default=True, help="local time of the launch")
@click.option("--timezone", "tz", default=None, help="IANA zone; HEARTH_TIMEZONE when not given")
@click.option("--closes", default=None, help="how long each run stays open, e.g. 5d (default: the survey's)")
@click.option("--min-responses", type=int, default=None, help="no result below this many respondents (3–10)")
@click.option("--by", "created_by", default=None, help="the admin (user id) who gets the results by DM (default: HEARTH_ADMINS)")
@click.option("--breakdown", "breakdowns", multiple=True, help="channel (workspace surveys) or field:tz")
@friendly
@pass_cli
def schedule(ctx: CliContext, name: str, channel: str | None, workspace: bool, cadence: str, day: str,
             local_time: str, tz: str | None, closes: str | None, min_responses: int | None,
             created_by: str | None, breakdowns: tuple[str, ...]) -> None:
    from slack_app.surveys import schedules

    channel_id = _audience(channel, workspace)
    instrument, source = _survey(name)
    length = _closes(closes, instrument)
    by = _breakdowns(breakdowns, channel_id)
    try:
        when = schedules.cadence_from(cadence, day, local_time, tz or ctx.settings.HEARTH_TIMEZONE,
                                      anchor=datetime.now(UTC).date())
        shown, created = schedules.schedule(ctx.services, ctx.team_id, instrument, source, channel_id=channel_id,
                                            cadence=when, closes=length, min_responses=min_responses,
                                            breakdowns=by, created_by=created_by)
    except schedules.ScheduleError as exc:
        fail(f"{exc}.")
    where = f"#{channel_id}" if channel_id else "the workspace"
    click.echo(f"Survey '{instrument.name}' {'scheduled' if created else 'rescheduled'} for {where}: {shown.when}, "
               f"open {length.days}d {length.seconds // 3600}h each time; next launch "
               f"{shown.next_launch:%Y-%m-%d %H:%M} UTC.")
    _say_if_nobody_gets_results(ctx, created_by)


@surveys.command(help="Stop the scheduled launches of survey NAME for an audience (an open run stays open).")
@click.argument("name")
@click.option("--channel", default=None)
@click.option("--workspace", is_flag=True)
@friendly
@pass_cli
def unschedule(ctx: CliContext, name: str, channel: str | None, workspace: bool) -> None:
    from slack_app.surveys import schedules

    channel_id = _audience(channel, workspace)
    survey = _survey(name)[0].name if Path(name).is_file() else name  # a file: the name inside it
    if not schedules.unschedule(ctx.services, ctx.team_id, survey, channel_id):
        fail(f"survey '{survey}' is not scheduled for {channel_id or 'the workspace'}.")
    click.echo(f"Survey '{survey}' is no longer scheduled for {channel_id or 'the workspace'}.")


@surveys.command(help="List scheduled surveys: when each launches next, and how its last launch went.")
@friendly
@pass_cli
def schedules(ctx: CliContext) -> None:
    from slack_app.surveys import schedules as plan

    found = plan.scheduled(ctx.services, ctx.team_id)
    if not found:
        click.echo("No surveys are scheduled.")
    for s in found:
        last = (f"last {s.last_occurrence:%Y-%m-%d}: {s.last_outcome}" if s.last_occurrence and s.last_outcome
                else "not launched yet")
        extra = f", min {s.min_responses}" if s.min_responses else ""
        extra += f", breakdowns {', '.join(s.breakdowns)}" if s.breakdowns else ""
        click.echo(f"{s.survey} for {s.channel_id or 'the workspace'}: {s.cadence}, {s.when}; open {s.closes_hours}h"
                   f"{extra}; next {s.next_launch:%Y-%m-%d %H:%M} UTC; {last}")
