"""Web API calls on kept-alive connections.

slack_sdk's `WebClient` opens a connection for every call (urllib's `urlopen` sends `Connection: close`): against
Slack that is a TCP and TLS handshake, two or three round trips and a key exchange, before each `views.open` a
member waits for. `PooledWebClient` sends the same request on a connection kept per host, one pool per process,
and hands slack_sdk back exactly what urllib would have: the status, `http.client.HTTPMessage` headers and the
body, an `HTTPError` for a 4xx/5xx, a `URLError` carrying the socket's own error when there was no answer. So
slack_sdk's retry handlers, and Hearth's reading of errors (a refused connection was never delivered, a reset
one maybe), are unchanged.

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
from slack_sdk import WebClient

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


class PooledWebClient(WebClient):
    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or self.ssl is not None or not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)
        try:
            resp = _manager().request(req.get_method(), url, body=req.data, headers={k: str(v) for k, v in req.header_items()},
                                      timeout=self.timeout, redirect=False)
        except urllib3.exceptions.HTTPError as err:
            raise URLError(_socket_error(err)) from err
        headers = http.client.HTTPMessage()
        for name, value in resp.headers.items():
            headers[name] = value
        if resp.status >= 400:  # what urllib raises, and slack_sdk's retry handlers expect
            raise HTTPError(url, resp.status, resp.reason or "", headers, io.BytesIO(resp.data))
        if headers.get_content_type() == "application/gzip":
            return {"status": resp.status, "headers": headers, "body": resp.data}
        return {"status": resp.status, "headers": headers, "body": resp.data.decode(headers.get_content_charset() or "utf-8")}


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
