"""A loopback Slack Web API for tests and `hearth simulate`: real HTTP, Slack's shapes, errors and rate limits.

Point a `WebClient(base_url=sim.base_url)` at it. Every call is recorded; state (messages, modals, App
Homes, files, response_url posts) can be read back, and `transcript()` says what each person saw.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import json
import logging
import socket
import ssl
import sys
import threading
import time
from base64 import b64decode
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from slack_app.simulator.api import Caller, SlackState
from slack_app.simulator.errors import ApiError
from slack_app.simulator.ratelimit import RateLimiter
from slack_app.simulator.socket_mode import CONNECTIONS_WRITE, SocketModeGateway
from slack_app.simulator.socket_mode import PING_INTERVAL as SOCKET_PING_INTERVAL
from slack_app.simulator.transcript import Seen, message_text, render
from slack_app.simulator.workspace import Workspace, demo_workspace

log = logging.getLogger("hearth.simulator")

API_PATH = "/api/"
UPLOAD_PATH = "/upload/"
RESPONSE_URL_PATH = "/response_url/"
# slack_sdk sends these as JSON strings inside form posts; handlers want the structure.
JSON_PARAMS = ("blocks", "attachments", "view", "metadata", "files")
NO_TOKEN_METHODS = ("oauth.v2.access",)
SOCKET_MODE_OPEN = "apps.connections.open"
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60.0  # seconds


@dataclass(frozen=True)
class Call:
    """One Web API call as Slack received it (params decoded, token kept apart)."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    status: int
    ok: bool
    error: str | None


@dataclass(frozen=True)
class _Fault:
    error: str | None
    status: int | None


@dataclass(frozen=True)
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class SlackSimulator:
    def __init__(self, workspace: Workspace | None = None, bot_token: str = "xoxb-sim-token",
                 rate_limits: bool = True, rate_scale: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic, post_message_per_minute: float = 600,
                 post_burst: float | None = None, tier_burst: float = 1.0,
                 client_id: str | None = None, client_secret: str | None = None,
                 app_token: str = "xapp-1-sim-token", tls: ssl.SSLContext | None = None,
                 socket_ping_interval: float | None = SOCKET_PING_INTERVAL) -> None:
        """`tls`: serve the Web API over HTTPS with this server context, as Slack does (bench/web_api_calls.py
        measures what a TLS handshake per call costs). `socket_ping_interval`: seconds between the Socket Mode
        gateway's pings (None: it never pings, so a client hears nothing it did not ask for)."""
        self.workspace = workspace or demo_workspace()
        self._tls = tls
        self.bot_token = bot_token
        self.socket_mode = SocketModeGateway(app_token, self.workspace.app_id, clock, ping_interval=socket_ping_interval)
        self.clock = clock
        self.limiter = RateLimiter(clock=clock, scale=rate_scale, post_message_per_minute=post_message_per_minute,
                                   post_burst=post_burst, tier_burst=tier_burst) if rate_limits else None
        self.state = SlackState(self.workspace, clock, client_id=client_id, client_secret=client_secret)
        self.state.tokens[bot_token] = self.workspace.team_id
        self._handlers = self.state.handlers()
        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._delays: dict[str, deque[float]] = defaultdict(deque)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> SlackSimulator:
        if self._httpd is None:
            self._httpd = _Server(("127.0.0.1", 0), _Handler)
            if self._tls is not None:  # the handshake runs on the connection's own thread, at its first read
                self._httpd.socket = self._tls.wrap_socket(self._httpd.socket, server_side=True,
                                                           do_handshake_on_connect=False)
            self._httpd.daemon_threads = True
            self._httpd.simulator = self  # type: ignore[attr-defined]
            self.state.files_url = self.url + UPLOAD_PATH
            # A short poll interval lets stop() return promptly (tests start and stop many simulators).
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                            name="slack-simulator", daemon=True)
            self._thread.start()
            self.socket_mode.start()
        return self

    def stop(self) -> None:
        self.socket_mode.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            if self._thread:
                self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> SlackSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the simulator is not started")
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.url + API_PATH

    @property
    def connections_accepted(self) -> int:
        """Connections clients opened to the Web API so far (each may carry many calls)."""
        return self._httpd.connections_accepted if self._httpd is not None else 0

    # ---- set-up and fault injection -----------------------------------------------------------------

    def add_token(self, token: str, team_id: str | None = None) -> None:
        if team_id not in (None, self.workspace.team_id):
            raise ValueError(f"this simulator serves {self.workspace.team_id} only")
        with self._lock:
            self.state.tokens[token] = self.workspace.team_id

    def issue_trigger(self, user_id: str) -> str:
        """A trigger_id for one interaction of `user_id`: views.open then knows whose modal it is."""
        with self._lock:
            return self.state.modals.triggers.issue(user_id)

    def issue_oauth_code(self, user_id: str) -> str:
        """The `code` Slack appends to the redirect URL after `user_id` approves an install."""
        with self._lock:
            code = f"sim-code-{self.state.new_id('C')}"
            self.state.oauth_codes[code] = user_id
            return code

    def new_response_url(self, user_id: str, channel_id: str | None) -> str:
        with self._lock:
            url_id = self.state.new_id("R")
            self.state.response_urls[url_id] = {"user": user_id, "channel": channel_id, "issued": self.clock(),
                                                "uses": 0}
            return self.url + RESPONSE_URL_PATH + url_id

    def fail_next(self, method: str, *, error: str | None = None, status: int | None = None, count: int = 1) -> None:
        """The next `count` calls of `method` answer HTTP `status` (e.g. 503), or ok:false with `error`."""
        if error is None and status is None:
            raise ValueError("give an error code or an HTTP status")
        with self._lock:
            self._faults[method].extend(_Fault(error, status) for _ in range(count))

    def delay_next(self, method: str, seconds: float) -> None:
        with self._lock:
            self._delays[method].append(seconds)

    # ---- what Slack received -------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_for(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # ---- what members see ----------------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict]:
        """Messages in a conversation (a user id means the bot's DM with them), oldest first."""
        with self._lock:
            channel_id = self.state.dm_id(channel) if channel[:1] in ("U", "W") else channel
            return copy.deepcopy(self.state.channel_messages.get(channel_id, []))

    def dm_channel(self, user_id: str) -> str | None:
        """The bot's DM with `user_id`, once one was opened."""
        with self._lock:
            dm_id = self.state.dm_id(user_id)
            return dm_id if dm_id in self.workspace.channels else None

    def conversations_of(self, user_id: str) -> list[str]:
        """Ids of the conversations `user_id` is in (DMs and group DMs included)."""
        with self._lock:
            return [c.id for c in self.workspace.channels.values() if user_id in c.members]

    def ephemerals(self, user_id: str) -> list[dict]:
        with self._lock:
            return copy.deepcopy([m for m in self.state.ephemeral_messages if m["user"] == user_id])

    def views(self, user_id: str) -> list[dict]:
        """The modals open for `user_id`, root first."""
        with self._lock:
            return copy.deepcopy([v.view for v in self.state.modals.stack(user_id)])

    def latest_view(self, user_id: str) -> dict | None:
        """The modal on top for `user_id` (None when none is open)."""
        views = self.views(user_id)
        return views[-1] if views else None

    def view(self, view_id: str) -> dict | None:
        """Any view by id, open or closed."""
        with self._lock:
            found = self.state.modals.shown.get(view_id)
            return copy.deepcopy(found.view) if found else None

    def home(self, user_id: str) -> dict | None:
        with self._lock:
            view_id = self.state.modals.homes.get(user_id)
            return copy.deepcopy(self.state.modals.shown[view_id].view) if view_id else None

    def files(self, channel: str) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self.state.shared_files.get(channel, []))

    def response_url_posts(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self.state.response_posts)

    def refused_response_url_posts(self) -> list[dict]:
        """Posts to a response_url Slack refused (used up or expired): nobody saw them."""
        with self._lock:
            return copy.deepcopy(self.state.refused_response_posts)

    def transcript(self) -> list[str]:
        with self._lock:
            return render(self.state.seen, self.workspace)

    # ---- what members do (used by the driver) ------------------------------------------------------

    def member_message(self, user_id: str, channel: str, text: str, *, thread_ts: str | None = None) -> dict:
        """A message written by a member (events are the driver's business)."""
        with self._lock:
            return copy.deepcopy(self.state.add_message(channel, user_id, text, None, thread_ts=thread_ts))

    def join(self, user_id: str, channel: str) -> None:
        with self._lock:
            self.workspace.channels[channel].members.add(user_id)

    def settle_submission(self, view_id: str, ack: dict | None) -> dict | None:
        """Apply a view_submission's ack as Slack would; returns Slack's error if its view is invalid."""
        with self._lock:
            return self.state.modals.settle_submission(view_id, ack)

    def close_view(self, view_id: str) -> None:
        with self._lock:
            modals = self.state.modals
            modals.close(modals.shown[view_id].user, view_id)

    # ---- HTTP ----------------------------------------------------------------------------------------

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        query = req.path.split("?", 1)[1] if "?" in req.path else ""
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        content_type = req.headers.get("Content-Type", "")
        if path.startswith(API_PATH):
            reply = self._api(path.removeprefix(API_PATH), dict(req.headers), query, content_type, body)
            _send(req, reply.status, json.dumps(reply.body).encode(), "application/json; charset=utf-8", reply.headers)
        elif path.startswith(UPLOAD_PATH) and req.command == "POST":
            content = _upload_content(content_type, body)
            with self._lock:
                stored = self.state.receive_upload(path.removeprefix(UPLOAD_PATH), content)
            _send(req, 200 if stored else 404, f"OK - {len(body)}".encode() if stored else b"not found", "text/plain")
        elif path.startswith(RESPONSE_URL_PATH) and req.command == "POST":
            status, answer = self._response_url(path.removeprefix(RESPONSE_URL_PATH), body)
            _send(req, status, answer, "text/plain")
        else:
            _send(req, 404, b"not found", "text/plain")

    def _api(self, method: str, headers: dict[str, str], query: str, content_type: str, body: bytes) -> _Reply:
        token, basic = _credentials(headers)
        with self._lock:
            delays = self._delays.get(method)
            delay = delays.popleft() if delays else 0.0
        time.sleep(delay)  # outside the lock: other calls go on meanwhile
        with self._lock:
            try:
                params = _params(query, content_type, body)
            except ApiError as exc:
                params, reply = {}, _Reply(200, exc.body(), {})
            else:
                token = token or params.pop("token", None)
                reply = self._answer(method, params, Caller(token, basic))
            error = reply.body.get("error")
            self._calls.append(Call(method, params, token, self.clock(), reply.status, bool(reply.body.get("ok")),
                                    error))
        log.debug("sim.call method=%s status=%s error=%s", method, reply.status, error)
        return reply

    def _answer(self, method: str, params: dict[str, Any], caller: Caller) -> _Reply:
        faults = self._faults.get(method)
        if faults:
            fault = faults.popleft()
            status = fault.status or 200
            error = fault.error or ("ratelimited" if status == 429 else "fatal_error")
            return _Reply(status, {"ok": False, "error": error}, {"Retry-After": "1"} if status == 429 else {})
        if method == SOCKET_MODE_OPEN:
            return self._connections_open(caller)
        handler = self._handlers.get(method)
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method"}, {})
        headers: dict[str, str] = {}
        if method not in NO_TOKEN_METHODS:
            if not caller.token:
                return _Reply(200, {"ok": False, "error": "not_authed"}, {})
            team_id = self.state.tokens.get(caller.token)
            if team_id is None:
                return _Reply(200, {"ok": False, "error": "invalid_auth"}, {})
            headers["x-oauth-scopes"] = ",".join(sorted(self.workspace.scopes))
            if self.limiter:
                retry_after = self.limiter.check(team_id, method, self._rate_key(method, params))
                if retry_after:
                    return _Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": f"{retry_after:g}"})
        try:
            return _Reply(200, {"ok": True, **handler(params, caller)}, headers)
        except ApiError as exc:
            return _Reply(200, exc.body(), headers)
        except Exception:
            log.exception("simulator bug answering %s", method)
            return _Reply(500, {"ok": False, "error": "fatal_error"}, {})

    def _connections_open(self, caller: Caller) -> _Reply:
        """apps.connections.open takes the app-level token (connections:write), never a bot token."""
        if not caller.token:
            return _Reply(200, {"ok": False, "error": "not_authed"}, {})
        gateway = self.socket_mode
        if caller.token != gateway.app_token:
            known = caller.token in self.state.tokens
            return _Reply(200, {"ok": False, "error": "not_allowed_token_type" if known else "invalid_auth"}, {})
        provided = ",".join(sorted(gateway.app_token_scopes))
        if CONNECTIONS_WRITE not in gateway.app_token_scopes:
            return _Reply(200, {"ok": False, "error": "missing_scope", "needed": CONNECTIONS_WRITE,
                                "provided": provided}, {"x-oauth-scopes": provided})
        return _Reply(200, {"ok": True, "url": gateway.open_url()}, {"x-oauth-scopes": provided})

    def _rate_key(self, method: str, params: dict[str, Any]) -> str | None:
        """chat.postMessage is limited per conversation; a user id posts into that user's DM."""
        channel = params.get("channel")
        if method != "chat.postMessage" or not isinstance(channel, str):
            return None
        return self.state.dm_id(channel) if channel[:1] in ("U", "W") else channel

    def _response_url(self, url_id: str, body: bytes) -> tuple[int, bytes]:
        """Record what the app posts to a response_url (Bolt's `respond()`), as the member would see it.

        A response_url takes at most RESPONSE_URL_USES posts within RESPONSE_URL_TTL of the interaction
        ("up to 5 times within 30 minutes", https://api.slack.com/interactivity/handling#message_responses);
        later posts are refused with 404 `expired_url` and the member sees nothing.
        """
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, b"invalid_payload"
        if not isinstance(payload, dict):
            return 400, b"invalid_payload"
        with self._lock:
            target = self.state.response_urls.get(url_id)
            if target is None:
                return 404, b"not found"
            post = {"user": target["user"], "channel": target["channel"], "body": payload, "at": self.clock()}
            if target["uses"] >= RESPONSE_URL_USES or post["at"] - target["issued"] > RESPONSE_URL_TTL:
                self.state.refused_response_posts.append(post)
                return 404, b"expired_url"
            target["uses"] += 1
            self.state.response_posts.append(post)
            if not payload.get("delete_original"):
                text = message_text(payload.get("text"), payload.get("blocks"))
                shown = "message" if payload.get("response_type") == "in_channel" else "reply"
                self.state.seen.append(Seen(shown, text, target["channel"], target["user"]))
        return 200, b"ok"


class _Server(ThreadingHTTPServer):
    # Slack accepts every connection. http.server's backlog of 5 did not: under a burst of calls the kernel
    # dropped connection attempts, and each drop cost the caller a second (TCP's first SYN retransmission),
    # which the load benchmark then counted as the app's own slowness.
    request_queue_size = 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.connections_accepted = 0  # clients keep connections alive: tests count how many they opened

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
            self.connections_accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that went away before its answer was written (stopped, or done waiting) is no simulator
        fault: Slack does not notice either. socketserver would print a traceback for it."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    def server_close(self) -> None:
        """A stopped Slack answers nothing: connections kept alive are closed too, as a server going away does."""
        super().server_close()
        with self._open_lock:
            kept = list(self._open)
        for conn in kept:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:  # the client closed it meanwhile
                pass


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as Slack's API does: a client may send its next call on the same connection (every answer
    # carries its Content-Length).
    protocol_version = "HTTP/1.1"
    # An answer is two writes (headers, body): with Nagle's algorithm the body would wait for the client's
    # delayed ACK of the headers, 40 ms on Linux, once the connection no longer closes after each answer.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:  # http.server's naming
        self.server.simulator._serve(self)  # type: ignore[attr-defined]

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        pass  # request lines would carry user ids into test output; calls are recorded instead


def _send(req: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
          headers: dict[str, str] | None = None) -> None:
    req.send_response(status)
    req.send_header("Content-Type", content_type)
    req.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        req.send_header(name, value)
    req.end_headers()
    req.wfile.write(body)


def _credentials(headers: dict[str, str]) -> tuple[str | None, tuple[str, str] | None]:
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip(), None
    if scheme.lower() == "basic" and value:
        client_id, _, secret = b64decode(value).decode("utf-8", "replace").partition(":")
        return None, (client_id, secret)
    return None, None


def _params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Query string, then a JSON or form body, as slack_sdk and curl send them."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise ApiError("invalid_json") from None
        if not isinstance(data, dict):
            raise ApiError("json_not_object")
        params.update(data)
    elif body:
        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise ApiError("invalid_form_data") from None
    for key in JSON_PARAMS:
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass  # left as a string: the handler answers with the method's own error
    return params


def _upload_content(content_type: str, body: bytes) -> bytes:
    """files_upload_v2 POSTs the raw bytes; a browser-style multipart upload sends them as a part."""
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    for part in message.iter_parts():  # type: ignore[attr-defined]
        if part.get_filename() or part.get_param("name", header="content-disposition") == "file":
            return part.get_payload(decode=True) or b""
    return body
