"""`hearth surveys …`: check a survey file, launch a survey, close it, read its results.

Admin-facing, so its words live here. Results go through the same disclosure rules as every outlet.
"""

from __future__ import annotations

from pathlib import Path

import click

from slack_app.cli_support import CliContext, fail, friendly, pass_cli
from surveys.cli import check
from surveys.loader import InstrumentError, builtin_names


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
@click.option("--by", "launched_by", default=None, help="the admin (user id) who gets the results by DM at close")
@friendly
@pass_cli
def launch(ctx: CliContext, name: str, channel: str | None, workspace: bool, closes: str | None,
           min_responses: int | None, launched_by: str | None) -> None:
    from slack_app.surveys import usecases
    from surveys import timing

    channel_id = _audience(channel, workspace)
    try:
        instrument, source = usecases.load_survey(name)
    except InstrumentError as exc:
        for line in exc.lines() or [f"{name}: cannot read the file"]:
            click.echo(line, err=True)
        raise SystemExit(2) from None
    except KeyError:
        fail(f"no survey named {name!r}; shipped surveys: {', '.join(builtin_names())} (or give a .yml file).")
    length = timing.parse_closes(closes, instrument.settings.closes_after_days)
    if length is None:
        fail(f"--closes {closes} is not a duration from 1d to 30d (like 5d or 36h).")
    result = usecases.launch(ctx.services, ctx.slack, ctx.team_id, instrument, source, channel_id=channel_id,
                             closes=length, min_responses=min_responses, launched_by=launched_by)
    if result.status != "launched":
        fail(result.message)
    where = f"#{channel_id}" if channel_id else "the workspace"
    click.echo(f"Survey '{instrument.name}' launched for {where} (id {result.run_id}): {result.invited} of "
               f"{result.audience} people invited by DM; closes in {length.days}d {length.seconds // 3600}h.")


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


@surveys.command(help="Close an open survey now: seal its answers and send the results to its admin.")
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
@friendly
@pass_cli
def results(ctx: CliContext, run_id: str | None, channel: str | None, workspace: bool, csv_path: str | None) -> None:
    from slack_app.surveys import usecases
    from surveys.export import comments_csv, results_csv

    found = _run_id(ctx, run_id, channel, workspace, closed=True)
    shown = usecases.results(ctx.services, ctx.team_id, found)
    if shown is None:
        fail(f"no survey {found} found.")
    click.echo(shown.text(ctx.services.copy, plain=True))
    if csv_path:
        table = results_csv(shown.instrument, shown.result, shown.change)
        if table is None:
            fail("nothing may be shown for this survey, so no CSV was written.")
        Path(csv_path).write_text(table, encoding="utf-8")
        click.echo(f"Results written to {csv_path}.")
        notes = comments_csv(shown.instrument, shown.result, shown.comments)
        if notes is not None:
            comments_path = Path(csv_path).with_suffix(".comments.csv")
            comments_path.write_text(notes, encoding="utf-8")
            click.echo(f"Comments written to {comments_path}.")
