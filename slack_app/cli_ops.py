"""Operators' commands: `hearth worker`, `hearth jobs list|run`, `hearth outbox status|retry-failed`.

`register(main)` adds them to the `hearth` group. Long operations show a progress bar and end with a
one-line summary; settings problems end in one line (`slack_app.cli_support.friendly`).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import UTC, datetime

import click

from slack_app.cli_support import friendly

UTC = UTC


def register(main: click.Group) -> None:
    main.add_command(worker)
    main.add_command(jobs)
    main.add_command(outbox_group)


def _services():
    from slack_app.app import build_services
    from slack_app.cli_support import cli_settings as _settings

    settings = _settings()
    return build_services(settings)


def _storage_services():
    """What delivery and the status commands need (settings, database, and the key to read OAuth tokens):
    no templates, no archive. The database is prepared as `build_services` does: SQLite upgraded in place,
    PostgreSQL required to be at the newest revision."""
    from types import SimpleNamespace

    from slack_app.cli_support import cli_settings as _settings
    from slack_app.settings import SettingsError
    from storage import migrate
    from storage.db import Database

    settings = _settings()
    db = Database(settings.DATABASE_URL)
    if db.is_sqlite:
        migrate.upgrade(db)
    elif not migrate.is_up_to_date(db):
        raise SettingsError(f"DATABASE_URL points at a database at revision {migrate.current_revision(db) or 'none'}, "
                            f"but this Hearth needs {migrate.head_revision()}; run `hearth db upgrade` first.")
    crypto = None
    if settings.oauth_enabled:
        from storage.crypto import load_crypto

        crypto = load_crypto(settings.HEARTH_ENCRYPTION_KEY, production=settings.is_production)
    return SimpleNamespace(settings=settings, db=db, crypto=crypto)


def _fail(message: str) -> None:
    click.echo(f"hearth: {message}", err=True)
    sys.exit(2)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


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
def worker(threads: int, scheduler: bool, drain: bool, lease: float) -> None:
    from slack_app.delivery.worker import WorkerOptions
    from slack_app.runtime import start_background

    services = _services() if scheduler and not drain else _storage_services()
    settings = services.settings
    if not settings.has_slack_credentials:
        settings.require("SLACK_BOT_TOKEN", why="the worker sends messages with the bot token")
    options = WorkerOptions(threads=threads, claim_lease=lease, send_lease=lease)
    if drain:
        _drain(services, options)
        return
    background = start_background(services, worker_options=options, scheduler=scheduler)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    click.echo(f"hearth worker {background.worker.id}: delivering; Ctrl-C to stop.", err=True)
    while not stopping.wait(1.0):
        pass
    background.stop()
    click.echo(_summary(background.worker.stats.snapshot()), err=True)


def _drain(services, options) -> None:  # noqa: ANN001
    from slack_app.delivery.ports import for_settings
    from slack_app.delivery.worker import DeliveryWorker
    from storage import outbox

    db = services.db
    with db.session() as session:
        total = outbox.unfinished(session)
    if not total:
        click.echo("outbox: nothing to deliver.")
        return
    delivery = DeliveryWorker(db, for_settings(services.settings, db, services.crypto), options=options).start()
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
def jobs_list() -> None:
    from slack_app.scheduling import registry
    from slack_app.scheduling.scheduler import stored_jobs

    services = _storage_services()
    registry.discover()
    stored = stored_jobs(services.db)
    desired, _ = registry.desired_jobs(services.db)
    known = {j.id for j in stored}
    waiting = [s for s in desired if s.id not in known]
    if not stored and not waiting:
        click.echo("No scheduled jobs yet: workflows add theirs when they are set up.")
        return
    rows = [(j.id, j.schedule, _when(j.next_run),
             f"{j.last_status} {j.last_occurrence:%Y-%m-%d %H:%M}Z" if j.last_status else "never") for j in stored]
    rows += [(s.id, s.cadence.describe() if s.cadence else f"every {s.every:.0f}s",
              "at the leader's next sync", "never") for s in waiting]
    widths = [max(len(str(r[i])) for r in rows + [("JOB", "SCHEDULE", "NEXT RUN", "LAST RUN")]) for i in range(4)]
    for row in [("JOB", "SCHEDULE", "NEXT RUN", "LAST RUN"), *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"\n{len(stored)} scheduled" + (f", {len(waiting)} waiting for the leader" if waiting else "") + ".")


def _when(dt: datetime | None) -> str:
    if dt is None:
        return "paused"
    delta = (dt - datetime.now(UTC)).total_seconds()
    return f"{dt.astimezone(UTC):%Y-%m-%d %H:%M}Z (in {_age(delta)})" if delta >= 0 else \
        f"{dt.astimezone(UTC):%Y-%m-%d %H:%M}Z (due)"


@jobs.command("run", help="Run a scheduled action now: NAME is an action (e.g. checkins.open_round) or a job id.")
@click.argument("name")
@click.option("--team", "team_id", default=None, help="Only this workspace (team id).")
@friendly
def jobs_run(name: str, team_id: str | None) -> None:
    from slack_app.delivery.ports import for_settings
    from slack_app.scheduling import jobs as jobfns
    from slack_app.scheduling import registry

    services = _services()
    registry.discover()
    specs, _ = registry.desired_jobs(services.db)
    chosen = [s for s in specs if (s.action == name or s.id == name) and (team_id is None or s.team_id == team_id)]
    if chosen:
        work = [(s.id, s.action, s.params) for s in chosen]
    elif name in registry.action_names():
        work = [(None, name, {"team_id": team_id} if team_id else {})]
    else:
        known = ", ".join(registry.action_names()) or "none registered"
        _fail(f"no scheduled action or job named {name!r}" + (f" for team {team_id}" if team_id else "")
              + f"; actions: {known}. See `hearth jobs list`.")
        return
    try:
        ports = for_settings(services.settings, services.db, services.crypto, retrying=True)
    except LookupError:
        ports = None
    env = jobfns.JobEnv(db=services.db, services=services, ports=ports, owner="cli")
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


# ---- hearth outbox ----------------------------------------------------------------------------------------

@click.group("outbox", help="Messages waiting to be delivered, delivered, or failed.")
def outbox_group() -> None:
    pass


@outbox_group.command("status", help="Pending / sending / sent / failed counts and the oldest pending age.")
@click.option("--team", "team_id", default=None, help="Only this workspace (team id).")
@friendly
def outbox_status(team_id: str | None) -> None:
    from storage import outbox

    services = _storage_services()
    with services.db.session() as session:
        st = outbox.status(session, team_id)
        due = outbox.next_due(session)
    c = st.counts
    click.echo(f"pending {c['pending']:,}  sending {c['sending']:,}  sent {c['sent']:,}  failed {c['failed']:,}")
    click.echo(f"oldest pending: {_age(st.oldest_pending_age())}"
               + (f"; next attempt {_when(due)}" if due else ""))
    if st.failed_by_error:
        click.echo("failed by error: " + ", ".join(f"{err} {n:,}" for err, n in st.failed_by_error.items()))
        click.echo("Fix the cause (e.g. invite Hearth to the channel), then `hearth outbox retry-failed`.")


@outbox_group.command("retry-failed", help="Send failed messages again (after fixing what made them fail).")
@click.option("--team", "team_id", default=None, help="Only this workspace (team id).")
@click.option("--kind", default=None, help="Only messages of this kind (e.g. checkin.prompt).")
@click.option("--error", default=None, help="Only messages that failed with this Slack error code.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def outbox_retry_failed(team_id: str | None, kind: str | None, error: str | None, yes: bool) -> None:
    from storage import outbox

    services = _storage_services()
    with services.db.session() as session:
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
            with services.db.session() as session:
                retried += outbox.retry_failed(session, chunk)
            bar.update(len(chunk))
    click.echo(f"re-queued {retried:,} message(s); a running worker delivers them (`hearth outbox status`).")
