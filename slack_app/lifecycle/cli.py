"""`hearth archive run|list|verify|restore` and `hearth members forget USER`.

Every failure a person can fix is one line and exit status 2; `verify` exits 1 and names each object that is
missing or does not match its manifest.
"""

from __future__ import annotations

import sys
from datetime import date

import click

from slack_app.cli_support import CliContext, fail, friendly, pass_cli
from storage.archive import Archive, ArchiveError, open_archive


def _archive(ctx: CliContext) -> Archive:
    return open_archive(ctx.settings.ARCHIVE_URL, ctx.settings.s3_options)


def _day(text: str | None, flag: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{flag} {text!r} is not a date; use YYYY-MM-DD, e.g. 2025-01-31")


@click.group("archive", help="Old records to ARCHIVE_URL (gzip JSON Lines with manifests), and back.")
def archive_group() -> None:
    pass


@archive_group.command("run", help="Archive every record past its kind's retention (HEARTH_ARCHIVE_RETENTION), "
                                   "or only --kind, or with --older-than for this run.")
@click.option("--kind", "kind_name", default=None, help="checkins, surveys, buddies, reports, delivery or jobruns")
@click.option("--older-than", default=None, help="a span such as 30d, 6w or 1y (instead of the retention)")
@click.option("--batch", default=10_000, show_default=True, type=click.IntRange(1, 30_000),
              help="records per object")
@friendly
@pass_cli
def archive_run(ctx: CliContext, kind_name: str | None, older_than: str | None, batch: int) -> None:
    from tqdm import tqdm

    from storage.lifecycle.archiver import Archiver
    from storage.lifecycle.kinds import KINDS, kind, parse_days

    try:
        kinds = [kind(kind_name)] if kind_name else list(KINDS)
        retention = ctx.settings.archive_retention
        if older_than is not None:
            retention = dict.fromkeys(retention, parse_days(older_than))
    except ValueError as exc:
        fail(str(exc))
    # tqdm: a maintained progress bar that draws only on a terminal and stays off the logs and pipes.
    with tqdm(unit=" records", disable=None, file=sys.stderr) as bar:
        try:
            report = Archiver(ctx.db, _archive(ctx), batch=batch, progress=bar.update).run(kinds, retention=retention)
        except ArchiveError as exc:
            fail(f"{exc} (rows not yet verified in the archive stay in the database; run again to resume)")
    for name, rows in sorted(report.rows.items()):
        click.echo(f"{name}: {rows:,} rows archived")
    click.echo(f"{report.objects} object(s), {report.total:,} rows"
               + (f", {report.resumed} interrupted batch(es) finished" if report.resumed else "")
               + (f"; manifest {report.manifest}" if report.manifest else "; nothing was due"))


@archive_group.command("list", help="Every archived object: kind, day, rows and size (from the manifests).")
@click.option("--kind", "kind_name", default=None)
@friendly
@pass_cli
def archive_list(ctx: CliContext, kind_name: str | None) -> None:
    from storage.lifecycle.reader import expected_objects

    try:
        found = sorted(expected_objects(_archive(ctx)).values(), key=lambda e: e.key)
    except ArchiveError as exc:
        fail(str(exc))
    found = [e for e in found if not kind_name or e.kind == kind_name]
    for e in found:
        click.echo(f"{e.key}  {e.rows:,} rows  {e.size:,} bytes")
    click.echo(f"{len(found)} object(s), {sum(e.rows for e in found):,} rows")


@archive_group.command("verify", help="Re-read every object every manifest names; exit 1 on any mismatch.")
@friendly
@pass_cli
def archive_verify(ctx: CliContext) -> None:
    from storage.lifecycle.reader import verify

    try:
        checked, problems = verify(_archive(ctx))
    except ArchiveError as exc:
        fail(str(exc))
    for p in problems:
        click.echo(f"FAILED {p.key}: {p.what}", err=True)
    click.echo(f"{checked - len(problems)} of {checked} object(s) intact")
    sys.exit(1 if problems else 0)


@archive_group.command("restore", help="Put archived records of a kind and day range back into the database "
                                       "(records already there are left alone), or into a JSON Lines file.")
@click.option("--kind", "kind_name", required=True)
@click.option("--from", "start", default=None, help="first day, YYYY-MM-DD")
@click.option("--to", "end", default=None, help="last day, YYYY-MM-DD")
@click.option("--to-file", "to_file", default=None, type=click.Path(dir_okay=False, writable=True))
@friendly
@pass_cli
def archive_restore(ctx: CliContext, kind_name: str, start: str | None, end: str | None, to_file: str | None) -> None:
    from storage.lifecycle import reader
    from storage.lifecycle.kinds import kind

    try:
        kind(kind_name)
    except ValueError as exc:
        fail(str(exc))
    first, last = _day(start, "--from"), _day(end, "--to")
    if first and last and first > last:
        fail("--from is after --to")
    try:
        archive = _archive(ctx)
        names = reader.objects(archive, kind_name=kind_name, start=first, end=last)
        if to_file:
            with open(to_file, "wb") as out:
                done = reader.restore_to_file(archive, names, out)
            click.echo(f"{done.rows:,} rows from {done.objects} object(s) written to {to_file}")
            return
        done = reader.restore_to_db(ctx.db, archive, names)
    except ArchiveError as exc:
        fail(str(exc))
    click.echo(f"{done.units:,} record(s) restored ({done.rows:,} rows) from {done.objects} object(s); "
               f"{done.skipped:,} already in the database")


@click.group("members", help="Members' personal data.")
def members_group() -> None:
    pass


@members_group.command("forget", help="Remove a member's personal data from the database and the archive "
                                      "(rewriting the objects that hold it) and record that it was done.")
@click.argument("user")
@click.option("--team", default=None, help="the workspace (team id); default: the bot token's workspace")
@friendly
@pass_cli
def members_forget(ctx: CliContext, user: str, team: str | None) -> None:
    from slack_app.lifecycle.usecases import user_id_of
    from storage.lifecycle.forget import forget

    user_id = user_id_of(user)
    if user_id is None:
        fail(f"{user!r} is not a Slack user id; use e.g. U0123ABCD")
    try:
        report = forget(ctx.db, _archive(ctx), team or ctx.team_id, user_id)
    except ArchiveError as exc:
        fail(f"{exc} (the database part is done; run the command again to finish the archive)")
    click.echo(f"Forgotten: {report.db_rows:,} database row(s) changed or removed, "
               f"{report.objects_rewritten} archive object(s) rewritten.")
    for key in report.objects_kept:
        click.echo(f"Kept by Object Lock until its retention ends (rewritten copy written): {key}")
