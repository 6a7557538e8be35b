"""The `hearth` command: running, serving, simulating, checking and the schema; operations live in cli_ops/cli_checkins."""

from __future__ import annotations

import logging
import signal
import sys
from contextlib import contextmanager

import click

from slack_app import cli_checkins, cli_ops
from slack_app.cli_support import cli_settings as _settings
from slack_app.cli_support import configure_logging, friendly
from slack_app.settings import SettingsError, load_settings

log = logging.getLogger("hearth.cli")


@click.group(help="Hearth: check-ins, anonymous surveys, buddy intros and safe reports for your Slack community.")
@click.version_option(package_name="hearth")
def main() -> None:
    pass


@main.command(help="Run with Socket Mode (needs SLACK_APP_TOKEN).")
@friendly
def run() -> None:
    settings = _settings()
    if not (settings.SLACK_BOT_TOKEN or settings.SLACK_APP_TOKEN or settings.oauth_enabled):
        from slack_app.copy import Copy

        click.echo(Copy(settings.HEARTH_TEMPLATES_DIR).render("no_tokens.j2"))
        sys.exit(1)
    settings.require("SLACK_APP_TOKEN", why="Socket Mode connects with the app-level token (xapp-…); "
                     "create one under Basic Information › App-Level Tokens with connections:write, "
                     "or use `hearth serve` for HTTP mode")
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from slack_app.app import build_app

    hearth = build_app(settings)
    with _background(hearth):
        SocketModeHandler(hearth.bolt, settings.SLACK_APP_TOKEN).start()


@main.command(help="Serve HTTP mode: Slack sends everything to POST /slack/events.")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535))
@friendly
def serve(host: str, port: int) -> None:
    settings = _settings()
    from slack_app.app import build_app
    from slack_app.server import serve as serve_http

    hearth = build_app(settings)
    log.info("http.listening host=%s port=%s", host, port)
    with _background(hearth):
        serve_http(hearth, host, port)


@contextmanager
def _background(hearth):  # noqa: ANN001
    """The delivery worker and (while this instance leads) the scheduler run beside the listeners."""
    from slack_app.runtime import start_background

    # SIGTERM (systemd, Docker, Kubernetes) unwinds like Ctrl-C, so the worker finishes the rows in hand and
    # the scheduler's leadership is released at once instead of after a lease.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    background = start_background(hearth.services)
    try:
        yield background
    finally:
        background.stop()


@main.command(help="Try Hearth without a Slack workspace: a scripted scenario against a local Slack simulator.")
@friendly
def simulate() -> None:
    configure_logging("ERROR")  # the transcript is the output; the refused forgery is expected
    from slack_app.simulator.scenario import run_scenario

    for line in run_scenario():
        click.echo(line)


@main.command(help="Check settings, database, archive, token, scopes and the moderator channel.")
@friendly
def doctor() -> None:
    settings = load_settings()
    configure_logging("WARNING")
    from slack_app.doctor import run_checks

    results = run_checks(settings)
    for check in results:
        click.echo(check.line())
    failed = [c for c in results if not c.ok]
    click.echo(f"\n{len(results) - len(failed)} of {len(results)} checks passed.")
    sys.exit(1 if failed else 0)


@main.command(help="Print manifest.yml; with --request-url, the HTTP-mode variant.")
@click.option("--request-url", default=None, help="Public base URL of `hearth serve`, e.g. https://hearth.example.org")
@friendly
def manifest(request_url: str | None) -> None:
    from slack_app import manifest as m

    if request_url is not None and not request_url.startswith("https://"):
        raise SettingsError("--request-url must be an https:// URL: Slack only sends requests over HTTPS.")
    click.echo(m.dump(m.http_variant(request_url) if request_url else m.load_manifest()), nl=False)


@main.command(help="Print a new encryption key for HEARTH_ENCRYPTION_KEY.")
def keygen() -> None:
    from storage.crypto import generate_key

    click.echo(generate_key())


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Apply migrations up to the newest schema.")
@friendly
def db_upgrade() -> None:
    settings = _settings()
    from storage import migrate
    from storage.db import Database

    database = Database(settings.DATABASE_URL)
    migrate.upgrade(database)
    click.echo(f"database is at revision {migrate.current_revision(database)}")


@db.command("current", help="Show the schema revision of the database.")
@friendly
def db_current() -> None:
    settings = _settings()
    from storage import migrate
    from storage.db import Database

    database = Database(settings.DATABASE_URL)
    current, head = migrate.current_revision(database), migrate.head_revision()
    click.echo(f"database revision {current or 'none'}; newest {head}" + ("" if current == head else " (run `hearth db upgrade`)"))


cli_ops.register(main)
cli_checkins.register(main)
