"""Work after the ack that may wait, in a process of its own at a lower CPU priority (`hearth serve`/`run`):
drawing App Homes and routing new reports.

Drawing a Home (a dozen database reads, users.info, views.publish) is the heaviest work any request leads to,
and a quarter of a busy Monday's requests are Home opens; routing a report (the moderator channel's members
asked of Slack, the card queued) is the next heaviest. On the after-ack threads they still share the
process's GIL with every ack: under load each ack queued behind them (bench/load.py, 200 requests/s on two
processes: ack p99 290–569 ms before, 94–217 ms with Home drawing here). Here they run in a child process,
`nice`d, so the kernel gives the request path the CPU first and this work what is left.

Like the after-ack pool it is best effort and bounded: a job that cannot start soon is dropped (the member's
next Home open draws it again; a minute's sweep routes a report), and a child that died is replaced at the
next job. A job is a module-level function `fn(services, slack, team_id, *args)`; the child builds its own
services and Slack clients from the same settings. `start()` starts the child; each process
`hearth serve --processes N` forks starts its own.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from slack_app.settings import Settings

log = logging.getLogger("hearth.request")

NICE = 10  # CPU priority below the request path's; 10 is what `nice` gives by default
QUEUE = 64  # jobs waiting or running; more are dropped
WATCH_INTERVAL = 0.5  # how often the child checks that the server that started it is still there

Job = Callable[..., Any]  # fn(services, slack, team_id, *args), importable by name (it is pickled by reference)


class NicedProcess:
    def __init__(self, settings: Settings, *, queue: int = QUEUE, nice: int = NICE) -> None:
        self._settings = settings
        self._nice = nice
        self._slots = threading.BoundedSemaphore(queue)
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._pid = os.getpid()  # the process that may start a child (a fork starts its own)
        self.dropped = 0

    def start(self) -> None:
        """Start the child now (it takes a second to import Hearth and connect), not at the first Home open."""
        self._executor().submit(_noop)

    def submit(self, name: str, fn: Job, team_id: str, *args: Any) -> Future | None:
        """Run `fn(services, slack, team_id, *args)` in the child; None (and a log line) when the queue is full."""
        if not self._slots.acquire(blocking=False):
            self.dropped += 1
            log.info("niced.dropped job=%s reason=busy", name)
            return None
        try:
            future = self._executor().submit(_run, name, fn, team_id, *args)
        except (BrokenProcessPool, RuntimeError) as exc:  # the child died, or we are stopping
            self._slots.release()
            self._forget(exc)
            return None
        future.add_done_callback(lambda f: self._done(name, f))
        return future

    def shutdown(self) -> None:
        """Cancel waiting jobs and wait for the child to finish the one in hand and end. Waiting also keeps
        Python's own exit hook from waking the pool's thread while it closes its pipe (a race that printed
        `OSError: Bad file descriptor` after a server stopped quickly)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pid = os.getpid()
                # spawn, not fork: this process has threads (Bolt's, waitress's), and a fork copies their locks.
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                    initargs=(self._settings, self._nice, logging.getLogger().getEffectiveLevel(), os.getpid()))
            return self._pool

    def _done(self, name: str, future: Future) -> None:
        self._slots.release()
        if future.cancelled():
            return
        exc = future.exception()
        if isinstance(exc, BrokenProcessPool):
            self._forget(exc)
        elif exc is not None:
            log.info("niced.failed job=%s error=%s", name, type(exc).__name__)

    def _forget(self, exc: BaseException) -> None:
        log.warning("niced.lost error=%s", type(exc).__name__)
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)  # not waiting: this may run on the pool's own thread


# ---- in the child ------------------------------------------------------------------------------------------

_child: dict[str, Any] = {}


def _start(settings: Settings, nice: int, level: int, parent: int) -> None:
    os.nice(nice)
    # Ctrl-C reaches the whole process group: the server stops, then tells this child to end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(parent,), name="hearth-home-watch", daemon=True).start()
    from slack_app.cli_support import configure_logging
    from slack_app.delivery.ports import for_settings
    from slack_app.heap import freeze_built_objects
    from slack_app.services import build_services
    from slack_app.workflows import WORKFLOWS

    configure_logging(logging.getLevelName(level))
    services = build_services(settings, workflows=WORKFLOWS)
    _child.update(services=services, ports=for_settings(settings, services.db, services.crypto))
    freeze_built_objects()


def _end_with(parent: int) -> None:
    """End when the server does, however it ended (a SIGKILL included): the pool's pipes never tell, since
    this child holds both of their ends."""
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os._exit(0)


def _noop() -> None:
    pass


def _run(name: str, fn: Job, team_id: str, *args: Any) -> Any:
    from slack_app.request_path import best_effort

    return best_effort("niced", name, lambda: fn(_child["services"], _child["ports"](team_id), team_id, *args))
