"""Socket Mode (`hearth run`): Bolt's SocketModeHandler on slack_sdk's built-in client, stopped gracefully.

    connection = SocketModeConnection(hearth, app_token).start()   # apps.connections.open, then the socket
    ...
    connection.stop()   # in-flight envelopes acked, socket closed, listeners finished

Why the built-in client (`slack_sdk.socket_mode.builtin`), of the two that suit a threaded Bolt app: it is
Bolt's default, needs no extra package, and handles reconnects best. On Slack's `disconnect` it finishes the
new connection's handshake *before* closing the old one (the websocket-client variant closes the old one
while the new one is still only being started, a gap in which acks have nowhere to go); a connection Slack
closes with a close frame is replaced at once; and its session monitor pings every `ping_interval` and
replaces a connection gone quiet (half-open, or closed without a close frame) after about four intervals
without a pong, where the websocket-client variant only notices a socket already reported closed.

Acks never wait on slow work: Bolt acks from its listener threads (request_path.LISTENER_THREADS), as in
HTTP mode; `concurrency` is only the number of envelopes being handed to Bolt at once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from slack_app.app import Hearth
from slack_app.settings import SettingsError
from slack_app.web import BadRequest, check_envelope

log = logging.getLogger("hearth.socket")

# Seconds between the client's pings (slack_sdk's own default; Bolt's handler would use 10). A socket that died
# without a close (no FIN seen) is only noticed by these pings: replaced after about 4-5 intervals.
PING_INTERVAL = 5.0
CONCURRENCY = 16      # envelopes handed to Bolt at once (same as the listener threads that ack them)


class _DrainingHandler(SocketModeHandler):
    """Bolt's handler, counting envelopes in hand so that a stop can wait for their acks."""

    def __init__(self, app: App, app_token: str, **options: Any) -> None:
        super().__init__(app, app_token, **options)
        self.in_hand = 0
        self.draining = False
        self._idle = threading.Condition()

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        with self._idle:
            if self.draining:
                # Not acked: Slack retries an event over another connection; a command shows its usual error.
                log.info("socket.envelope_refused type=%s reason=stopping", req.type)
                return
            self.in_hand += 1
        try:
            try:
                check_envelope(req.type, req.payload)
            except BadRequest as bad:  # what HTTP mode answers 400: acked empty, never a listener's exception
                log.info("socket.envelope_malformed type=%s reason=%s", req.type, bad.reason)
                client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
                return
            super().handle(client, req)
        finally:
            with self._idle:
                self.in_hand -= 1
                self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        with self._idle:
            self.draining = True
            return self._idle.wait_for(lambda: self.in_hand == 0, timeout=timeout)

    def close(self) -> None:
        """Close at once. slack_sdk's close waits for the receiving thread's lock, which that thread holds in a
        blocking recv until a frame comes or its 3 s timeout ends: every stop took up to 3 s more. Shutting the
        socket down ends that recv now (reconnects turned off first, so nothing replaces the connection)."""
        client = self.client
        client.closed, client.auto_reconnect_enabled = True, False
        sock = getattr(client.current_session, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # Slack's side closed it already
                sock.shutdown(socket.SHUT_RDWR)
        super().close()


class SocketModeConnection:
    def __init__(self, hearth: Hearth, app_token: str, *, ping_interval: float = PING_INTERVAL,
                 concurrency: int = CONCURRENCY) -> None:
        self.hearth = hearth
        # The client logs whole envelopes (message text, names) at DEBUG: it logs under slack_sdk's name, which
        # `configure_logging` keeps at INFO, never under Hearth's.
        self._handler = _DrainingHandler(hearth.bolt, app_token, logger=logging.getLogger("slack_sdk.socket_mode"),
                                         ping_interval=ping_interval, concurrency=concurrency)

    @property
    def client(self) -> SocketModeClient:
        return self._handler.client

    def start(self) -> SocketModeConnection:
        """Open a connection (apps.connections.open, then the WebSocket); the client keeps it open."""
        try:
            self._handler.connect()
            refused = None if self.client.is_connected() else "no WebSocket connection"
        except SlackApiError as exc:
            refused = f"apps.connections.open answered {exc.response.get('error')}"
        if refused:
            self._handler.close()  # its threads would keep the process alive
            raise SettingsError(f"Socket Mode could not connect ({refused}): check SLACK_APP_TOKEN is this app's "
                                "app-level token (xapp-…) with connections:write, and that Slack is reachable.")
        log.info("socket.connected")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking envelopes, ack those in hand, close the socket, then let started listeners finish."""
        started = time.monotonic()
        acked = self._handler.drain(timeout)
        self._handler.close()
        listeners = self.hearth.bolt.listener_runner.listener_executor
        shutdown = getattr(listeners, "shutdown", None)
        if shutdown is not None:
            shutdown(wait=True)
        self.hearth.after_ack.shutdown(wait=True)
        log.info("socket.closed drained=%s seconds=%.1f", acked, time.monotonic() - started)
