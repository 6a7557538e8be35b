"""Slack's side of Socket Mode, on loopback: WebSocket connections that carry envelopes to the app.

    gateway = sim.socket_mode                      # apps.connections.open (app-level token) hands out its URLs
    answer = gateway.deliver("slash_commands", payload)   # to one open connection; waits for the ack
    gateway.disconnect("refresh_requested")        # Slack asks a connection to reconnect
    gateway.drop()                                 # or just loses one

As Slack does (https://docs.slack.dev/apis/events-api/using-socket-mode/): a connection is greeted with
`hello`; each envelope carries an `envelope_id` the app acks (`{"envelope_id": …, "payload": {…}}`, the
payload being what HTTP mode would answer); envelopes are spread over the app's open connections (at most
MAX_CONNECTIONS); an events_api envelope left unacked for ACK_DEADLINE is sent again, possibly over
another connection, with `retry_attempt` and `retry_reason`, up to MAX_RETRIES times. Acks are matched by
envelope id, whichever connection of the app carries them (a client replacing its connection acks on the
new one).

The WebSocket protocol itself is the `websockets` library's; this module only speaks Slack's envelopes.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.http11 import Response as HttpResponse
from websockets.sync.server import Server, ServerConnection, serve

log = logging.getLogger("hearth.simulator.socket")

# Slack waits 3 seconds for the ack of a command, interaction or event; later, the member sees an error
# ("operation_timeout") and Slack ignores whatever the app answers (https://docs.slack.dev/tools/bolt-python/
# concepts/acknowledge: "you only have 3 seconds to respond before Slack registers a timeout error").
ACK_DEADLINE = 3.0
MAX_CONNECTIONS = 10  # per app, as Slack allows
MAX_RETRIES = 3
LINK_PATH = "/link/"
CONNECTIONS_WRITE = "connections:write"  # the app-level token's scope apps.connections.open needs
PING_INTERVAL = 5.0  # seconds between the gateway's pings; Slack pings, and so does the client


@dataclass
class Delivery:
    """How one envelope (and its retries) went: the ack's payload, when it came, over which attempt."""

    kind: str
    acked: bool = False
    payload: dict | None = None
    elapsed: float = 0.0  # seconds from the first send to the ack (or to giving up)
    attempts: int = 0
    envelope_ids: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    acked: bool = False
    payload: dict | None = None


class SocketModeGateway:
    def __init__(self, app_token: str, app_id: str, clock: Callable[[], float] = time.monotonic,
                 app_token_scopes: Iterable[str] = (CONNECTIONS_WRITE,), ping_interval: float | None = PING_INTERVAL,
                 ) -> None:
        self.app_token = app_token
        self.ping_interval = ping_interval
        # An app-level token is created with its own scopes; one without connections:write cannot open a socket.
        self.app_token_scopes = set(app_token_scopes)
        self.app_id = app_id
        self.clock = clock
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._open: list[ServerConnection] = []
        self._turn = itertools.count()
        self._pending: dict[str, _Pending] = {}
        self._changed = threading.Condition(self._lock)
        self.late_acks = 0  # acks of envelopes Slack had already given up on
        self.connections_made = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> SocketModeGateway:
        if self._server is None:
            # The app's envelopes are small.
            self._server = serve(self._serve, "127.0.0.1", 0, process_request=self._check_ticket, compression=None,
                                 ping_interval=self.ping_interval, ping_timeout=10, close_timeout=2)
            self._thread = threading.Thread(target=self._server.serve_forever, name="slack-socket-mode", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            if self._thread:
                self._thread.join(timeout=5)
            self._server = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Socket Mode gateway is not started")
        return int(self._server.socket.getsockname()[1])

    # ---- apps.connections.open ---------------------------------------------------------------------

    def open_url(self) -> str:
        """A one-use WebSocket URL, as apps.connections.open returns it."""
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}{LINK_PATH}?ticket={ticket}&app_id={self.app_id}"

    def _check_ticket(self, connection: ServerConnection, request: Request) -> HttpResponse | None:
        ticket = (parse_qs(urlsplit(request.path).query).get("ticket") or [""])[0]
        with self._lock:
            if ticket not in self._tickets:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")
            if len(self._open) >= MAX_CONNECTIONS:
                return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "too many connections\n")
            self._tickets.discard(ticket)
        return None

    # ---- connections -------------------------------------------------------------------------------

    def _serve(self, ws: ServerConnection) -> None:
        with self._changed:
            self._open.append(ws)
            self.connections_made += 1
            count = len(self._open)
            self._changed.notify_all()
        try:
            ws.send(json.dumps({"type": "hello", "num_connections": count,
                                "debug_info": {"host": "applink-sim", "approximate_connection_time": 18060},
                                "connection_info": {"app_id": self.app_id}}))
            for raw in ws:
                self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                if ws in self._open:
                    self._open.remove(ws)
                self._changed.notify_all()

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
            envelope_id = message["envelope_id"]
        except (ValueError, KeyError, TypeError):
            log.info("socket.unreadable_message")
            return
        with self._lock:
            pending = self._pending.get(envelope_id)
            if pending is None or pending.done.is_set():
                self.late_acks += 1
                return
            pending.acked = True
            pending.payload = message.get("payload") if isinstance(message.get("payload"), dict) else None
            pending.done.set()

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._open)

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self._open) >= count, timeout=timeout)

    def disconnect(self, reason: str = "refresh_requested", index: int = 0) -> None:
        """Ask one connection to go (Slack sends this before it closes a connection, e.g. every few hours)."""
        self._connection(index).send(json.dumps({"type": "disconnect", "reason": reason,
                                                 "debug_info": {"host": "applink-sim"}}))

    def drop(self, index: int = 0) -> None:
        """Lose one connection abruptly, with no closing handshake (a network failure or a Slack restart)."""
        _lose(self._connection(index))

    def _connection(self, index: int) -> ServerConnection:
        with self._lock:
            if not self._open:
                raise RuntimeError("the app has no open Socket Mode connection")
            return self._open[index % len(self._open)]

    # ---- envelopes ---------------------------------------------------------------------------------

    def deliver(self, kind: str, payload: dict, *, retry_attempt: int = 0, retry_reason: str = "",
                wait: float = 10.0, connection_wait: float = 10.0, drop_after_send: bool = False) -> Delivery:
        """Send `payload` in a `kind` envelope over one open connection and wait for its ack.

        An events_api envelope not acked within ACK_DEADLINE is sent again (a new envelope id, the next
        retry_attempt, retry_reason "timeout") until MAX_RETRIES; other kinds are sent once and waited
        for up to `wait` seconds, so a late ack can be observed (Slack would have shown an error).
        `drop_after_send`: the connection that carried the first envelope is lost right after sending it,
        so its ack may come over the client's next connection, or not at all (then an event is retried)."""
        delivery = Delivery(kind)
        started = self.clock()
        attempt, reason = retry_attempt, retry_reason
        while True:
            envelope_id = str(uuid.uuid4())
            pending = _Pending()
            with self._lock:
                self._pending[envelope_id] = pending
            envelope: dict[str, Any] = {"envelope_id": envelope_id, "payload": payload, "type": kind,
                                        "accepts_response_payload": kind != "events_api"}
            if kind == "events_api":
                envelope.update(retry_attempt=attempt, retry_reason=reason)
            delivery.attempts += 1
            delivery.envelope_ids.append(envelope_id)
            sent = self._send(json.dumps(envelope), connection_wait, drop=drop_after_send and delivery.attempts == 1)
            retries = kind == "events_api" and attempt < MAX_RETRIES
            if sent:
                pending.done.wait(ACK_DEADLINE if retries else wait)
            with self._lock:
                pending.done.set()  # from now on an ack of this envelope is late
                del self._pending[envelope_id]
            if pending.acked:
                delivery.acked, delivery.payload = True, pending.payload
                break
            if not retries:
                break
            attempt, reason = attempt + 1, "timeout"
        delivery.elapsed = self.clock() - started
        return delivery

    def _send(self, text: str, connection_wait: float, drop: bool = False) -> bool:
        """Send over the next open connection in turn; False when none is open within `connection_wait`."""
        deadline = time.monotonic() + connection_wait
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._open), timeout=max(0.0, deadline - time.monotonic()))
                if not self._open:
                    return False
                ws = self._open[next(self._turn) % len(self._open)]
            try:
                ws.send(text)
                if drop:
                    _lose(ws)
                return True
            except ConnectionClosed:
                with self._changed:
                    if ws in self._open:
                        self._open.remove(ws)
                if time.monotonic() >= deadline:
                    return False


def _lose(ws: ServerConnection) -> None:
    try:
        ws.socket.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    ws.socket.close()
