"""Several processes of one instance (`hearth serve --processes N`, `hearth run --processes N`).

One Python process runs Python on one core at a time (the GIL), so a single Hearth leaves the other cores of
its host idle however busy it is. `run_in_processes` forks copies of a Hearth already built: each is a whole
instance, as N `hearth serve` or `hearth run` on one PostgreSQL are (listeners, a delivery worker, a candidate
for the scheduler's leadership). Over HTTP they accept on one listening socket and the kernel gives each new
connection to whichever copy takes it first; over Socket Mode each holds a connection of its own and Slack
spreads envelopes over them.

The fork comes before any thread or pooled connection exists, so nothing is shared but the listening sockets.
SIGTERM or Ctrl-C stops every copy the way one instance stops. A copy that dies unasked stops the others and
the parent exits 1: a supervisor (systemd, Docker) then restarts the whole, rather than half of it serving
unnoticed.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable, Sequence

log = logging.getLogger("hearth.processes")


def run_in_processes(processes: int, child: Callable[[int], None],
                     inherited: Sequence[socket.socket] = ()) -> int:
    """Run `child(index)` in `processes` forked copies of this process; return the parent's exit status once
    they have all stopped. `inherited`: listening sockets the copies use, closed here once they hold them."""
    children: dict[int, int] = {}
    for index in range(processes):
        pid = os.fork()
        if pid == 0:  # the copy: it never returns from here
            _exit(_run_child(child, index))
        children[pid] = index
    for sock in inherited:
        sock.close()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("processes.started count=%d", processes)
    status = 0
    while children:
        pid, wait_status = os.wait()
        index = children.pop(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if not stopping:
            log.error("processes.died process=%d exit=%d: stopping the others", index + 1, code)
            status = 1
            stop()
        elif code != 0:
            status = 1
    return status


def _run_child(child: Callable[[int], None], index: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent too, which passes SIGTERM on
    try:
        child(index)
        return 0
    except SystemExit as exc:  # SIGTERM unwinds by SystemExit(0), as in a single instance
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        log.exception("processes.crashed process=%d", index + 1)
        return 1


def _exit(status: int) -> None:
    """Leave the copy without running the parent's atexit handlers or unwinding its stack a second time."""
    logging.shutdown()
    os._exit(status)
