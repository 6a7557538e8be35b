"""The request path: capacity for acks, a bounded pool for what follows them, and opening modals.

Bolt's listener threads only ack (and open a modal while its trigger is
fresh); slow best-effort work after the ack (App Home publishing, with its users.info) runs here instead.

The pool is bounded on purpose: under a burst of Home opens, work that cannot start soon is dropped with
a log line rather than queued without end — every such job is an idempotent refresh that the member's next
Home open redoes. Work that must reach a member goes through the outbox, never through this pool.

The trigger_id of a command or click lives 3 seconds and works once; when views.open fails anyway
(expired_trigger_id under load, ratelimited, Slack down) the member would otherwise see nothing at all.
`open_or_explain` tells them by an ephemeral note instead: through the response_url when the request has
one (commands, message buttons), else in their DM with Hearth (an App Home button has no response_url).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from slack_bolt import Respond

from slack_app.copy import Copy
from slack_app.slack_port import SlackError, SlackPort

if TYPE_CHECKING:
    from slack_app.niced import NicedProcess
    from slack_app.services import Services

log = logging.getLogger("hearth.request")

# Acks and modal opening: enough threads that a few slow Slack answers never leave a command waiting for one.
LISTENER_THREADS = 16
AFTER_ACK_THREADS = 4
AFTER_ACK_QUEUE = 64  # waiting jobs beyond the running ones; more are dropped


# Bolt's own limit on waiting for an ack (`Listener.ack_timeout`): past it, Bolt answers without one.
ACK_TIMEOUT = 3.0
_awaited = threading.local()  # the ack the request on this thread is waiting for (`await_ack`)


def listener_executor(threads: int = LISTENER_THREADS) -> Executor:
    """Bolt's `listener_executor`: the threads that run listeners up to (and just after) their ack."""
    return ListenerExecutor(max_workers=threads, thread_name_prefix="hearth-listener")


def await_ack(given: threading.Event) -> None:
    """Called on a request's thread before its listener starts: `given` is set once the listener acks."""
    _awaited.event = given


class ListenerExecutor(ThreadPoolExecutor):
    """Bolt's request thread hands the listener to this pool, then looks every 10 ms whether it has acked
    (slack_bolt/listener/thread_runner.py): each ack waited up to 10 ms more than its work, and held its
    request thread (one of waitress's 8) that long. `submit`, on the request thread, waits for the ack
    `await_ack` registered (or for the listener to end) instead, so Bolt finds the ack given and never
    sleeps. The first submit of a request only: Bolt's lazy listeners, submitted after it, never wait."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future = super().submit(fn, *args, **kwargs)
        given: threading.Event | None = _awaited.__dict__.pop("event", None)
        if given is not None:
            future.add_done_callback(lambda _: given.set())  # it ended without an ack: Bolt answers for it
            given.wait(ACK_TIMEOUT)
        return future


class AfterAck:
    """A bounded pool for best-effort work after the ack. Listeners receive it as the Bolt argument `after_ack`.
    With `niced`, work that may wait (`low_priority`) goes to that lower-priority process (`slack_app.niced`)."""

    def __init__(self, threads: int = AFTER_ACK_THREADS, queue: int = AFTER_ACK_QUEUE,
                 niced: NicedProcess | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hearth-after-ack")
        self._slots = threading.BoundedSemaphore(threads + queue)
        self.niced = niced
        self.dropped = 0

    def low_priority(self, name: str, fn: Callable[..., object], services: Services, slack: SlackPort,
                     team_id: str, *args: object) -> bool:
        """Run `fn(services, slack, team_id, *args)` behind the acks: App Homes, report routing. `fn` is a
        module-level function and `args` plain values: it may run in the niced process."""
        if self.niced is not None:
            return self.niced.submit(name, fn, team_id, *args) is not None
        return self.submit(name, fn, services, slack, team_id, *args)

    def submit(self, name: str, fn: Callable[..., object], *args: object) -> bool:
        """Run `fn(*args)` soon; False (and a log line) when the pool is full and the work is dropped.
        A SlackError (a 429 included: nothing here sleeps on Retry-After) is logged by code and dropped."""
        if not self._slots.acquire(blocking=False):
            self.dropped += 1
            log.info("after_ack.dropped job=%s reason=busy", name)
            return False

        def run() -> None:
            try:
                best_effort("after_ack", name, fn, *args)
            finally:
                self._slots.release()

        try:
            self._pool.submit(run)
        except RuntimeError:  # shut down: the app is stopping
            self._slots.release()
            return False
        return True

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
        if self.niced is not None:
            self.niced.shutdown()


def best_effort(pool: str, name: str, fn: Callable[..., object], *args: object) -> object:
    """`fn(*args)`, or None once a failure is logged by `pool` and job `name` only: a SlackError by its code
    (a 429 included: nothing here sleeps on Retry-After), anything else with its traceback."""
    try:
        return fn(*args)
    except SlackError as exc:
        log.info("%s.failed job=%s error=%s", pool, name, exc.error)
    except Exception:
        log.exception("%s.crashed job=%s", pool, name)
    return None


def open_or_explain(slack: SlackPort, copy: Copy, respond: Respond | None, user_id: str, trigger_id: str,
                    view: dict) -> bool:
    """Open `view`; on failure tell `user_id` (ephemeral) and return False."""
    try:
        slack.open_view(trigger_id, view)
    except SlackError as exc:
        explain_failure(slack, copy, respond, user_id, exc)
        return False
    return True


def explain_failure(slack: SlackPort, copy: Copy, respond: Respond | None, user_id: str, exc: SlackError) -> None:
    log.info("modal.open_failed error=%s", exc.error)
    text = copy.render("modal_failed.j2", busy=exc.error == "ratelimited")
    try:
        if respond is not None and respond.response_url:
            respond(response_type="ephemeral", replace_original=False, text=text)
        else:
            slack.post_ephemeral(slack.open_dm([user_id]), user_id, text)
    except SlackError as again:  # Slack is refusing everything: nothing more can reach the member now
        log.info("modal.notice_failed error=%s", again.error)
