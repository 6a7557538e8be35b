"""Operators' commands of the platform: `hearth worker` and `hearth jobs list|run`.

Long operations show a progress bar and end with a one-line summary; settings problems end in one line
(`slack_app.cli_support.friendly`). Workflows bring their own commands (`slack_app.workflows`).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

import click

from slack_app.cli_support import CliContext, fail, friendly, pass_cli, when

if TYPE_CHECKING:
    from slack_app.delivery.worker import WorkerOptions


# ---- hearth worker ----------------------------------------------------------------------------------------

@click.command(help="Deliver outbox messages (and run the scheduler when this instance leads) until stopped.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Sending loops.")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Also stand for scheduler leadership.")
@click.option("--drain", is_flag=True, help="Deliver everything that is due now, then exit.")
@click.option("--lease", default=60.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds a crashed worker's messages wait before another worker checks and sends them; "
                   "keep it well above Slack's HTTP timeout (10 s).")
@friendly
@pass_cli
def worker(ctx: CliContext, threads: int, scheduler: bool, drain: bool, lease: float) -> None:
    from slack_app.delivery.worker import WorkerOptions
    from slack_app.runtime import start_background

    settings = ctx.settings
    if not settings.has_slack_credentials:
        settings.require("SLACK_BOT_TOKEN", why="the worker sends messages with the bot token")
    options = WorkerOptions(threads=threads, claim_lease=lease, send_lease=lease)
    ctx.keyring  # noqa: B018 - the outbox is sealed: without a key, say so in one line before starting
    if drain:
        _drain(ctx, options)
        return
    background = start_background(ctx.services, worker_options=options, scheduler=scheduler)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    click.echo(f"hearth worker {background.worker.id}: delivering; Ctrl-C to stop.", err=True)
    while not stopping.wait(1.0):
        pass
    background.stop()
    click.echo(_summary(background.worker.stats.snapshot()), err=True)


def _drain(ctx: CliContext, options: WorkerOptions) -> None:
    from slack_app.delivery.ports import for_settings
    from slack_app.delivery.worker import DeliveryWorker
    from storage import outbox

    db = ctx.db
    with db.session() as session:
        total = outbox.unfinished(session)
    if not total:
        click.echo("outbox: nothing to deliver.")
        return
    delivery = DeliveryWorker(db, for_settings(ctx.settings, db, ctx.crypto), options=options).start()
    started = time.monotonic()
    done = 0
    try:
        with click.progressbar(length=total, label="delivering", show_eta=True, show_pos=True) as bar:
            while True:
                with db.session() as session:
                    left = outbox.unfinished(session)
                    due = outbox.next_due(session)
                progress = min(total, total - left)
                bar.update(progress - done)
                done = progress
                if left == 0 or (due is not None and due.timestamp() > time.time() + 60):
                    break
                time.sleep(0.5)
    finally:
        delivery.stop()
    stats = delivery.stats.snapshot()
    later = f"; {left} scheduled for later" if left else ""
    click.echo(f"{_summary(stats)} in {time.monotonic() - started:.0f}s{later}.")


def _summary(stats: dict[str, int]) -> str:
    return (f"sent {stats['sent']}, reconciled {stats['reconciled']}, failed {stats['failed']}, "
            f"retried {stats['retried']}, rate-limited {stats['rate_limited']}")


# ---- hearth jobs ------------------------------------------------------------------------------------------

@click.group(help="Scheduled jobs: what runs when, and running one now.")
def jobs() -> None:
    pass


@jobs.command("list", help="Every scheduled job with its next run and its last run.")
@friendly
@pass_cli
def jobs_list(ctx: CliContext) -> None:
    from slack_app.scheduling.scheduler import stored_jobs

    stored = stored_jobs(ctx.db)
    desired, _ = ctx.book.desired_jobs(ctx.db)
    known = {j.id for j in stored}
    waiting = [s for s in desired if s.id not in known]
    if not stored and not waiting:
        click.echo("No scheduled jobs yet: workflows add theirs when they are set up.")
        return
    rows = [(j.id, j.schedule, when(j.next_run),
             f"{j.last_status} {j.last_occurrence:%Y-%m-%d %H:%M}Z" if j.last_status else "never") for j in stored]
    rows += [(s.id, s.cadence.describe() if s.cadence else f"every {s.every:.0f}s",
              "at the leader's next sync", "never") for s in waiting]
    widths = [max(len(str(r[i])) for r in rows + [("JOB", "SCHEDULE", "NEXT RUN", "LAST RUN")]) for i in range(4)]
    for row in [("JOB", "SCHEDULE", "NEXT RUN", "LAST RUN"), *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"\n{len(stored)} scheduled" + (f", {len(waiting)} waiting for the leader" if waiting else "") + ".")


@jobs.command("run", help="Run a scheduled action now: NAME is an action (e.g. checkins.open_round) or a job id.")
@click.argument("name")
@click.option("--team", "team_id", default=None, help="Only this workspace (team id).")
@friendly
@pass_cli
def jobs_run(ctx: CliContext, name: str, team_id: str | None) -> None:
    from slack_app.delivery.ports import for_settings
    from slack_app.scheduling import jobs as jobfns

    services, book = ctx.services, ctx.book
    specs, _ = book.desired_jobs(services.db)
    chosen = [s for s in specs if (s.action == name or s.id == name) and (team_id is None or s.team_id == team_id)]
    if chosen:
        work = [(s.id, s.action, s.params) for s in chosen]
    elif name in book.action_names():
        work = [(None, name, {"team_id": team_id} if team_id else {})]
    else:
        known = ", ".join(book.action_names()) or "none registered"
        fail(f"no scheduled action or job named {name!r}" + (f" for team {team_id}" if team_id else "")
              + f"; actions: {known}. See `hearth jobs list`.")
        return
    try:
        ports = for_settings(services.settings, services.db, services.crypto, retrying=True)
    except LookupError:
        ports = None
    env = jobfns.JobEnv(db=services.db, book=book, services=services, ports=ports, owner="cli")
    failed: list[str] = []
    started = time.monotonic()
    with click.progressbar(work, label=f"running {name}", show_pos=True,
                           item_show_func=lambda w: w[0] if w else None) as bar:
        for job_id, action, params in bar:
            try:
                jobfns.execute(env, action, params, job_id=job_id)
            except Exception as exc:  # one item's failure never stops the rest
                failed.append(f"{job_id or action} ({type(exc).__name__})")
    click.echo(f"ran {len(work) - len(failed)} of {len(work)} in {time.monotonic() - started:.1f}s"
               + (f"; failed: {', '.join(failed)}" if failed else "") + ".")
    if failed:
        sys.exit(1)
