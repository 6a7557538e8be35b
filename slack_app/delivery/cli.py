"""`hearth outbox status|retry-failed`: messages waiting to be delivered, delivered, or failed."""

from __future__ import annotations

import click

from slack_app.cli_support import CliContext, age, friendly, pass_cli, when


@click.group("outbox", help="Messages waiting to be delivered, delivered, or failed.")
def outbox_group() -> None:
    pass


@outbox_group.command("status", help="Pending / sending / sent / failed counts and the oldest pending age.")
@click.option("--team", "team_id", default=None, help="Only this workspace (team id).")
@friendly
@pass_cli
def outbox_status(ctx: CliContext, team_id: str | None) -> None:
    from slack_app.delivery import progress
    from slack_app.delivery.pacing import SlackLimits
    from storage import outbox

    with ctx.db.session() as session:
        st = outbox.status(session, team_id)
        due = outbox.next_due(session)
        paces = progress.pace(session, SlackLimits(), team_id)
    c = st.counts
    click.echo(f"pending {c['pending']:,}  sending {c['sending']:,}  sent {c['sent']:,}  failed {c['failed']:,}")
    click.echo(f"oldest pending: {age(st.oldest_pending_age())}"
               + (f"; next attempt {when(due)}" if due else ""))
    if st.failed_by_error:
        click.echo("failed by error: " + ", ".join(f"{err} {n:,}" for err, n in st.failed_by_error.items()))
        click.echo("Fix the cause (e.g. invite Hearth to the channel), then `hearth outbox retry-failed`.")
    for p in paces:
        rates = ", ".join(f"{m.method} {m.per_minute:,.0f}/min" + (f" (learned; configured {m.configured_per_minute:,.0f})"
                                                                   if m.learned else "") for m in p.methods)
        click.echo(f"{p.team_id}: {rates}")
        if p.unfinished:
            click.echo(f"{p.team_id}: {p.unfinished:,} to send, about {age(p.seconds_left)} at this rate")


@outbox_group.command("retry-failed", help="Send failed messages again (after fixing what made them fail).")
@click.option("--team", "team_id", default=None, help="Only this workspace (team id).")
@click.option("--kind", default=None, help="Only messages of this kind (e.g. checkin.prompt).")
@click.option("--error", default=None, help="Only messages that failed with this Slack error code.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
@pass_cli
def outbox_retry_failed(ctx: CliContext, team_id: str | None, kind: str | None, error: str | None, yes: bool) -> None:
    from storage import outbox

    with ctx.db.session() as session:
        ids = outbox.failed_ids(session, team_id=team_id, kind=kind, error=error)
    if not ids:
        click.echo("No failed messages match.")
        return
    if not yes:
        click.confirm(f"Send {len(ids):,} failed message(s) again?", abort=True)
    retried = 0
    with click.progressbar(length=len(ids), label="re-queueing", show_pos=True) as bar:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            with ctx.db.session() as session:
                retried += outbox.retry_failed(session, chunk)
            bar.update(len(chunk))
    click.echo(f"re-queued {retried:,} message(s); a running worker delivers them (`hearth outbox status`).")
