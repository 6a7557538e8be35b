"""Web API calls on kept-alive connections.

slack_sdk's `WebClient` opens a connection for every call (urllib's `urlopen` sends `Connection: close`): against
Slack that is a TCP and TLS handshake, two or three round trips and a key exchange, before each `views.open` a
member waits for. `PooledWebClient` sends the same request on a connection kept per host, one pool per process,
and hands slack_sdk back exactly what urllib would have: the status, `http.client.HTTPMessage` headers and the
body, an `HTTPError` for a 4xx/5xx, a `URLError` carrying the socket's own error when there was no answer. So
slack_sdk's retry handlers, and Hearth's reading of errors (a refused connection was never delivered, a reset
one maybe), are unchanged.

The same for Bolt's `respond()` (a post to the request's response_url): `PooledRespond`.

A proxy or a custom SSL context takes slack_sdk's own way.
"""

from __future__ import annotations

import http.client
import io
import os
import threading
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import urllib3
from slack_bolt import Respond
from slack_bolt.context.respond.internals import _build_message  # Bolt's own message for respond()
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

# Enough for every thread of a process that calls Slack at once (listeners, after-ack work, delivery): a
# connection beyond it is opened, used and closed, as before.
CONNECTIONS_PER_HOST = 32

_pool: urllib3.PoolManager | None = None
_pool_lock = threading.Lock()


def _manager() -> urllib3.PoolManager:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = urllib3.PoolManager(maxsize=CONNECTIONS_PER_HOST, retries=False)
    return _pool


def _forget_pool() -> None:
    """A forked child must not write to its parent's sockets: it opens its own."""
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)


def _send(url: str, req: Request, timeout: float) -> tuple[int, http.client.HTTPMessage, bytes]:
    """`req` on a kept-alive connection: its status, headers and body, or what urllib would have raised."""
    try:
        resp = _manager().request(req.get_method(), url, body=req.data, headers={k: str(v) for k, v in req.header_items()},
                                  timeout=timeout, redirect=False)
    except urllib3.exceptions.HTTPError as err:
        raise URLError(_socket_error(err)) from err
    headers = http.client.HTTPMessage()
    for name, value in resp.headers.items():
        headers[name] = value
    if resp.status >= 400:  # what urllib raises, and slack_sdk's retry handlers expect
        raise HTTPError(url, resp.status, resp.reason or "", headers, io.BytesIO(resp.data))
    return resp.status, headers, resp.data


def _own_way(url: str, proxy: object, ssl: object) -> bool:
    """A proxy or a custom SSL context takes slack_sdk's own way (as does anything but http(s))."""
    return proxy is not None or ssl is not None or not url.lower().startswith("http")


class PooledWebClient(WebClient):
    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if _own_way(url, self.proxy, self.ssl):
            return super()._perform_urllib_http_request_internal(url, req)
        status, headers, body = _send(url, req, self.timeout)
        if headers.get_content_type() == "application/gzip":
            return {"status": status, "headers": headers, "body": body}
        return {"status": status, "headers": headers, "body": body.decode(headers.get_content_charset() or "utf-8")}


class PooledWebhookClient(WebhookClient):
    """A response_url post (Bolt's `respond`) on the same kept-alive connections: slack_sdk's WebhookClient, like
    its WebClient, opens one per post (a TCP and TLS handshake to hooks.slack.com for each ephemeral note)."""

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if _own_way(url, self.proxy, self.ssl):
            return super()._perform_http_request_internal(url, req)
        status, headers, body = _send(url, req, self.timeout)
        return WebhookResponse(url=url, status_code=status, body=body.decode(headers.get_content_charset() or "utf-8"),
                               headers=dict(headers.items()))


class PooledRespond(Respond):
    """Bolt's `respond()`, posting through `PooledWebhookClient`. Bolt builds a new `Respond` (and a new
    WebhookClient) per request and post; Hearth's middleware puts this one in the context instead."""

    def __call__(self, text: str | dict = "", **message: Any) -> WebhookResponse:  # type: ignore[override]
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        body = _build_message(**text) if isinstance(text, dict) else _build_message(text=text, **message)
        return PooledWebhookClient(url=self.response_url, proxy=self.proxy, ssl=self.ssl).send_dict(body)


def _socket_error(err: BaseException) -> BaseException:
    """The error beneath urllib3's wrapping (ConnectionRefusedError, gaierror, RemoteDisconnected, TimeoutError…),
    as urllib's URLError would carry it."""
    seen: list[BaseException] = [err]
    while seen:
        current = seen.pop(0)
        for inner in (*current.args, current.__cause__, current.__context__):
            if isinstance(inner, urllib3.exceptions.HTTPError):
                seen.append(inner)  # MaxRetryError's reason, a ProtocolError inside another
            elif isinstance(inner, BaseException):
                return inner
    return TimeoutError() if isinstance(err, urllib3.exceptions.TimeoutError) else err


def pooled(client: WebClient) -> WebClient:
    """The same client (token, workspace, URL, timeout, headers, retry handlers: its state, shared) on kept-alive
    connections. Bolt makes a plain `WebClient` for each request."""
    copy = object.__new__(PooledWebClient)
    copy.__dict__.update(vars(client))
    return copy
