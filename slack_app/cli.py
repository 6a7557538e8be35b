"""The `hearth` command: running, serving, simulating, checking and the schema.

Platform operations live in `cli_ops`; each workflow brings its own commands (`slack_app.workflows`).
Every sub-command shares one `CliContext` (`slack_app.cli_support`).
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from slack_app import cli_ops
from slack_app.cli_support import CliContext, configure_logging, fail, friendly, pass_cli
from slack_app.settings import Settings, SettingsError, load_settings, reveal
from slack_app.workflow import Workflow
from slack_app.workflows import WORKFLOWS

if TYPE_CHECKING:
    from slack_app.app import Hearth
    from slack_app.runtime import Background

log = logging.getLogger("hearth.cli")


NO_WORKER = click.option("--no-worker", is_flag=True,
                         help="Only answer Slack: deliver messages and run the scheduler in separate "
                              "`hearth worker` processes, so their work never shares this process with acks.")


def processes_option(most: int, where: str) -> Callable:
    return click.option("--processes", default=1, show_default=True, type=click.IntRange(1, most),
                        help=f"Run this many processes of Hearth {where} (PostgreSQL only): one process uses "
                             "one core, so one per core uses the whole host.")


@click.command(help="Run with Socket Mode (needs SLACK_APP_TOKEN).")
@NO_WORKER
@click.option("--http-port", type=click.IntRange(1, 65535), default=None,
              help="Also listen on this port for GET /healthz and, with SLACK_CLIENT_ID/SLACK_CLIENT_SECRET, the "
                   "OAuth install pages (Slack's requests still come over Socket Mode).")
@click.option("--http-host", default="127.0.0.1", show_default=True,
              help="Address of the --http-port listener; 0.0.0.0 listens on every interface.")
@processes_option(10, "with a connection each (Slack allows an app 10)")
@friendly
@pass_cli
def run(ctx: CliContext, no_worker: bool, http_port: int | None, http_host: str, processes: int) -> None:
    _unwind_on_sigterm()
    settings = ctx.settings
    if not (settings.SLACK_BOT_TOKEN or settings.SLACK_APP_TOKEN or settings.oauth_enabled):
        from slack_app.copy import Copy

        click.echo(Copy(settings.HEARTH_TEMPLATES_DIR).render("no_tokens.j2"))
        sys.exit(1)
    settings.require("SLACK_APP_TOKEN", why="Socket Mode connects with the app-level token (xapp-…); "
                     "create one under Basic Information › App-Level Tokens with connections:write, "
                     "or use `hearth serve` for HTTP mode")
    _allow_processes(settings, processes)
    from slack_app.app import build_app
    from slack_app.heap import freeze_built_objects
    from slack_app.socket_mode import SocketModeConnection

    # Bound first: a taken port fails before anything starts.
    http_sock = None if http_port is None else _listen(http_host, http_port, "--http-port",
                                                         "choose a free port, or leave --http-port out")
    hearth = build_app(settings, niced_process=True)
    freeze_built_objects()

    def run_one(index: int = 0) -> None:
        with _niced_process(hearth), _http_beside(hearth, http_sock), _background(hearth, enabled=not no_worker):
            connection = SocketModeConnection(hearth, reveal(settings.SLACK_APP_TOKEN)).start()
            try:
                threading.Event().wait()  # until Ctrl-C or SIGTERM (which raises SystemExit here)
            finally:
                connection.stop()  # envelopes in hand acked, socket closed, listeners finished; then the worker

    _run(hearth, processes, run_one, http_sock)


@click.command(help="Serve HTTP mode: Slack sends everything to POST /slack/events.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 listens on every interface (e.g. behind a TLS proxy elsewhere).")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535))
@processes_option(64, "on the one port")
@NO_WORKER
@friendly
@pass_cli
def serve(ctx: CliContext, host: str, port: int, processes: int, no_worker: bool) -> None:
    _unwind_on_sigterm()
    settings = ctx.settings
    _allow_processes(settings, processes)
    from slack_app.app import build_app
    from slack_app.heap import freeze_built_objects
    from slack_app.server import serve as serve_http

    sock = _listen(host, port, "hearth serve", "choose a free one with --port")
    hearth = build_app(settings, niced_process=True)  # once, here: a bad setting is one line, before anything is forked
    freeze_built_objects()  # before the fork: the copies share what it froze

    def serve_one(index: int = 0) -> None:
        log.info("http.listening host=%s port=%s worker=%s process=%d/%d", host, port,
                 "off" if no_worker else "on", index + 1, processes)
        with _niced_process(hearth), _background(hearth, enabled=not no_worker):
            serve_http(hearth, sock)

    _run(hearth, processes, serve_one, sock)


@contextmanager
def _niced_process(hearth: Hearth) -> Iterator[None]:
    """The process that draws App Homes and routes reports (`slack_app.niced`), for as long as this one serves."""
    niced = hearth.after_ack.niced
    if niced is not None:
        niced.start()
    try:
        yield
    finally:
        if niced is not None:
            niced.shutdown()


def _allow_processes(settings: Settings, processes: int) -> None:
    if processes > 1 and settings.DATABASE_URL.startswith("sqlite"):
        raise SettingsError("--processes needs PostgreSQL: SQLite serves one process. "
                            "Set DATABASE_URL to a postgresql:// URL, or leave --processes out.")


def _listen(host: str, port: int, who: str, instead: str) -> socket.socket:
    from slack_app.server import listening_socket

    try:
        return listening_socket(host, port)
    except OSError as exc:
        raise SettingsError(f"{who} cannot listen on {host}:{port} ({exc.strerror or exc}): {instead}.") from None


def _run(hearth: Hearth, processes: int, one: Callable[[int], None], sock: socket.socket | None) -> None:
    """`one(0)` here, or `one(i)` in each of `processes` copies of this process."""
    if processes == 1:
        one(0)
        return
    from slack_app.processes import run_in_processes

    hearth.db.dispose()  # each copy opens connections of its own
    sys.exit(run_in_processes(processes, one, [sock] if sock else []))


@contextmanager
def _http_beside(hearth: Hearth, sock: socket.socket | None) -> Iterator[None]:
    """`hearth run --http-port`: `hearth serve`'s WSGI app and waitress server on a thread, without the events
    route, on the socket bound at start. It is closed last, so the health check answers until the envelopes
    in hand, the listeners and the worker are done."""
    if sock is None:
        yield
        return
    from slack_app.server import start_in_thread

    running = start_in_thread(hearth, sock=sock, events=False)
    host, port = sock.getsockname()[:2]
    log.info("http.listening host=%s port=%s events=off oauth=%s", host, port, "on" if hearth.oauth_flow else "off")
    try:
        yield
    finally:
        running.stop()


def _unwind_on_sigterm() -> None:
    """SIGTERM (systemd, Docker, Kubernetes) unwinds like Ctrl-C, so the worker finishes the rows in hand and the
    scheduler's leadership is released at once instead of after a lease. Set first: a SIGTERM that comes while
    Hearth is still starting (its health check may already answer) must unwind too, not kill it."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


@contextmanager
def _background(hearth: Hearth, *, enabled: bool = True) -> Iterator[Background | None]:
    """The delivery worker and (while this instance leads) the scheduler run beside the listeners, unless
    `--no-worker` leaves them to `hearth worker` processes."""
    from slack_app.runtime import start_background

    if not enabled:
        yield None
        return
    background = start_background(hearth.services)
    try:
        yield background
    finally:
        background.stop()


@click.command(help="Try Hearth without a Slack workspace: a scripted scenario against a local Slack simulator.")
@click.option("--socket-mode", is_flag=True, help="Reach Hearth over Socket Mode, as `hearth run` does, "
                                                   "instead of HTTP mode.")
@friendly
def simulate(socket_mode: bool) -> None:
    configure_logging("ERROR")  # the transcript is the output; the refused forgery is expected
    from slack_app.simulator.scenario import run_scenario

    for line in run_scenario(socket_mode=socket_mode):
        click.echo(line)


@click.command(help="Check settings, database, archive, token, scopes and the moderator channel.")
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


@click.command(help="Print manifest.yml; with --request-url, the HTTP-mode variant.")
@click.option("--request-url", default=None, help="Public base URL of `hearth serve`, e.g. https://hearth.example.org")
@friendly
def manifest(request_url: str | None) -> None:
    from slack_app import manifest as m

    if request_url is not None and not request_url.startswith("https://"):
        raise SettingsError("--request-url must be an https:// URL: Slack only sends requests over HTTPS.")
    click.echo(m.dump(m.http_variant(request_url) if request_url else m.load_manifest()), nl=False)


@click.command(help="Print a new encryption key for HEARTH_ENCRYPTION_KEY.")
def keygen() -> None:
    from storage.crypto import generate_key

    click.echo(generate_key())


@click.group(help="Encryption keys (HEARTH_ENCRYPTION_KEY).")
def keys() -> None:
    pass


@keys.command("rotate", help="Re-encrypt every encrypted value under the newest key, so older keys can be dropped. "
                             "First put the new key in front of HEARTH_ENCRYPTION_KEY (new,old) everywhere.")
@friendly
@pass_cli
def keys_rotate(ctx: CliContext) -> None:
    from storage import installations, sealed  # noqa: F401 - installations registers slack_sdk's token columns
    from storage.crypto import DecryptionError

    crypto = ctx.keyring
    ctx.workflows  # noqa: B018 - importing every workflow puts its models (and their Sealed columns) on Base
    columns = sealed.encrypted_columns()
    try:
        report = sealed.rotate(ctx.db, crypto, columns)
    except DecryptionError as exc:
        fail(str(exc))
    for name, n in report.rewritten.items():
        click.echo(f"{name}: {n:,} re-encrypted")
    left = sealed.still_on_old_keys(ctx.db, crypto, columns)
    if left:
        fail(f"{left:,} value(s) were written under an older key meanwhile: is an instance still running "
             "without the new key first? Restart it with the new HEARTH_ENCRYPTION_KEY and rotate again.")
    if crypto.key_count > 1:
        click.echo(f"Done: {report.total:,} value(s) re-encrypted. Every encrypted value now needs only the first "
                   "key: remove the older key(s) from HEARTH_ENCRYPTION_KEY and restart.")
    else:
        click.echo(f"Done: {report.total:,} value(s) re-encrypted; only one key is configured, so there is no "
                   "older key to remove.")


@click.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Apply migrations up to the newest schema.")
@friendly
@pass_cli
def db_upgrade(ctx: CliContext) -> None:
    from storage import migrate
    from storage.db import Database

    database = Database(ctx.settings.DATABASE_URL)
    migrate.upgrade(database)
    click.echo(f"database is at revision {migrate.current_revision(database)}")


@db.command("current", help="Show the schema revision of the database.")
@friendly
@pass_cli
def db_current(ctx: CliContext) -> None:
    from storage import migrate
    from storage.db import Database

    database = Database(ctx.settings.DATABASE_URL)
    current, head = migrate.current_revision(database), migrate.head_revision()
    click.echo(f"database revision {current or 'none'}; newest {head}" + ("" if current == head else " (run `hearth db upgrade`)"))


PLATFORM_COMMANDS: tuple[click.Command, ...] = (run, serve, simulate, doctor, manifest, keygen, keys, db,
                                                cli_ops.worker, cli_ops.jobs)


def cli_for(workflows: Sequence[Workflow]) -> click.Group:
    """The `hearth` command with the platform's commands and those of `workflows`."""

    @click.group(name="hearth", help="Hearth: check-ins, anonymous surveys, buddy intros and safe reports for your "
                                     "Slack community.")
    @click.version_option(package_name="hearth")
    @click.pass_context
    def group(click_ctx: click.Context) -> None:
        click_ctx.obj = CliContext(workflows)
        click_ctx.call_on_close(click_ctx.obj.close)

    for command in PLATFORM_COMMANDS + tuple(c for w in workflows for c in w.commands):
        group.add_command(command)
    return group


main = cli_for(WORKFLOWS)
