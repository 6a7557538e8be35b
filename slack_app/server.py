"""Serving HTTP mode with waitress, in the foreground (`hearth serve`) or on a thread (tests, simulate)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from waitress import create_server

from slack_app.app import Hearth
from slack_app.web import EVENTS_PATH, make_wsgi

# Bolt answers within Slack's 3 seconds and runs slow listener work on its own pool;
# these threads only carry requests in and acks out.
THREADS = 8


@dataclass
class RunningServer:
    url: str
    _server: object
    _thread: threading.Thread

    @property
    def events_url(self) -> str:
        return self.url + EVENTS_PATH

    def stop(self) -> None:
        # Let requests in flight finish first: a task still answering when the server closes writes to
        # waitress's closed wake-up pipe, and waitress logs that as an error with a traceback.
        dispatcher = getattr(self._server, "task_dispatcher", None)
        deadline = time.monotonic() + 5
        while dispatcher is not None and (dispatcher.active_count or dispatcher.queue) \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        self._server.close()  # type: ignore[attr-defined]
        self._thread.join(timeout=5)


def serve(hearth: Hearth, host: str, port: int) -> None:
    create_server(make_wsgi(hearth), host=host, port=port, threads=THREADS, ident="hearth").run()


def start_in_thread(hearth: Hearth, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    server = create_server(make_wsgi(hearth), host=host, port=port, threads=THREADS, ident="hearth")
    thread = threading.Thread(target=server.run, name="hearth-http", daemon=True)
    thread.start()
    return RunningServer(url=f"http://{host}:{server.effective_port}", _server=server, _thread=thread)
