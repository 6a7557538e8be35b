"""Serving HTTP mode with waitress, in the foreground (`hearth serve`) or on a thread (tests, simulate, and
`hearth run --http-port`, which serves only the health check and the OAuth pages beside Socket Mode).

waitress is told Hearth's limits so that it refuses abuse itself, before a byte reaches Hearth: a body
larger than `MAX_REQUEST_BODY` is answered 413 and the connection closed while it streams (waitress's
default would buffer up to 1 GiB to disk first), and a client that stalls is dropped after
`CHANNEL_TIMEOUT` seconds.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Any

from waitress import create_server

from slack_app.app import Hearth
from slack_app.web import EVENTS_PATH, MAX_BODY, make_wsgi

# Bolt answers within Slack's 3 seconds and runs slow listener work on its own pool;
# these threads only carry requests in and acks out.
THREADS = 8
DEFAULT_HOST = "127.0.0.1"  # reachable from this machine only, unless `hearth serve --host 0.0.0.0` asks

# A small margin over Hearth's own 1 MiB check, so a body between the two still gets Hearth's answer.
MAX_REQUEST_BODY = MAX_BODY + 64 * 1024
MAX_REQUEST_HEADERS = 64 * 1024   # Slack's headers are well under 2 KiB; waitress's default is 256 KiB
CHANNEL_TIMEOUT = 30              # seconds a connection may sit idle (mid-request or between requests)
CLEANUP_INTERVAL = 5              # how often waitress looks for such connections
CONNECTION_LIMIT = 100            # open connections at once; more wait in the listen backlog


def limits(channel_timeout: int = CHANNEL_TIMEOUT, cleanup_interval: int = CLEANUP_INTERVAL) -> dict[str, object]:
    """waitress's adjustments for Hearth (timeouts are parameters so a test can observe them quickly)."""
    return {
        "threads": THREADS,
        "ident": "hearth",
        "max_request_body_size": MAX_REQUEST_BODY,
        "max_request_header_size": MAX_REQUEST_HEADERS,
        "channel_timeout": channel_timeout,
        "cleanup_interval": cleanup_interval,
        "connection_limit": CONNECTION_LIMIT,
    }


@dataclass
class RunningServer:
    url: str
    _server: object
    _thread: threading.Thread

    @property
    def events_url(self) -> str:
        return self.url + EVENTS_PATH

    def stop(self) -> None:
        server: Any = self._server
        server.task_dispatcher.shutdown(timeout=5)  # requests in flight finish before their sockets close
        # Sockets close inside the serving thread: closed from here, its select() would see a bad descriptor.
        # With every socket gone the loop has nothing left to watch and returns.
        try:
            server.trigger.pull_trigger(lambda: server.asyncore.close_all(server._map))
        except OSError:  # the loop already ended and closed its trigger: nothing watches the sockets now
            server.asyncore.close_all(server._map)
        self._thread.join(timeout=5)


def serve(hearth: Hearth, sock: socket.socket) -> None:
    """Serve on `sock` (bound and listening: `listening_socket`) until SIGTERM/Ctrl-C."""
    create_server(make_wsgi(hearth), sockets=[sock], **limits()).run()


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket, as waitress would open it (OSError when the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)  # waitress's own backlog
    except OSError:
        sock.close()
        raise
    return sock


def start_in_thread(hearth: Hearth, host: str = DEFAULT_HOST, port: int = 0, *, events: bool = True,
                    sock: socket.socket | None = None, **timeouts: int) -> RunningServer:
    """`events=False`: no `POST /slack/events` (Socket Mode carries Slack's requests). `sock`: serve on this
    bound, listening socket instead of host:port."""
    where: dict[str, Any] = {"sockets": [sock]} if sock is not None else {"host": host, "port": port}
    server = create_server(make_wsgi(hearth, events=events), **where, **limits(**timeouts))
    thread = threading.Thread(target=server.run, name="hearth-http", daemon=True)
    thread.start()
    return RunningServer(url=f"http://{server.effective_host}:{server.effective_port}", _server=server,
                         _thread=thread)
