"""Background work of a running Hearth: the delivery worker, and the scheduler while this instance leads.

    from slack_app.runtime import start_background
    background = start_background(hearth.services)     # in `hearth run` / `hearth serve`, after build_app
    ...
    background.stop()                                   # on shutdown

Every instance runs a delivery worker (they share the outbox through row claims) and a leadership
candidate; the one holding the PostgreSQL advisory lock runs the scheduler. With SQLite there is one
instance, which is always the leader and says so at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_app.delivery.ports import for_settings
from slack_app.delivery.worker import DeliveryWorker, WorkerOptions, new_worker_id
from slack_app.scheduling.leader import Leadership
from slack_app.scheduling.registry import JobBook
from slack_app.scheduling.scheduler import DEFAULT_MISFIRE_GRACE, HearthScheduler
from slack_app.services import Services
from slack_app.slack_port import SlackPort

log = logging.getLogger("hearth.runtime")


@dataclass
class Background:
    worker: DeliveryWorker | None
    scheduler: HearthScheduler | None
    leadership: Leadership | None

    @property
    def is_leader(self) -> bool:
        return bool(self.leadership and self.leadership.is_leader)

    def stop(self) -> None:
        """Stop claiming, finish the rows in hand, give leadership up."""
        if self.leadership is not None:
            self.leadership.stop()  # stops the scheduler through on_deposed
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.worker is not None:
            self.worker.stop()


Ports = Callable[[str], SlackPort]  # team id -> SlackPort


def start_background(services: Services, *, port_for_team: Ports | None = None, job_ports: Ports | None = None,
                     worker: bool = True, scheduler: bool = True, worker_options: WorkerOptions | None = None,
                     leader_retry_interval: float = 10.0, misfire_grace: int = DEFAULT_MISFIRE_GRACE,
                     instance_id: str | None = None, book: JobBook | None = None) -> Background:
    """Start the delivery worker and the scheduler-with-leadership for `services`.

    The scheduler runs the jobs of `services.workflows` (or of `book`, when given).

    `port_for_team` / `job_ports` (team id -> SlackPort) default to the settings' bot token or installation
    store: non-retrying clients for the worker, retrying ones (which may sleep in a job thread) for jobs."""
    db = services.db
    instance_id = instance_id or new_worker_id()
    crypto = services.crypto
    ports = port_for_team or for_settings(services.settings, db, crypto)
    job_ports = job_ports or port_for_team or for_settings(services.settings, db, crypto, retrying=True)
    if db.is_sqlite:
        log.warning("runtime.single_instance database=sqlite: run one Hearth instance (hearth run/serve or "
                    "hearth worker, not several); use PostgreSQL to run more")
    delivery = DeliveryWorker(db, ports, worker_id=instance_id, options=worker_options).start() if worker else None
    sched = leadership = None
    if scheduler:
        book = book or JobBook(w.jobs for w in services.workflows)
        sched = HearthScheduler(db, book, services=services, ports=job_ports, owner=instance_id,
                                misfire_grace=misfire_grace)
        leadership = Leadership(db, on_elected=sched.start, on_deposed=lambda: sched.stop(wait=False),
                                retry_interval=leader_retry_interval).start()
    log.info("runtime.started instance=%s worker=%s scheduler=%s", instance_id, bool(delivery), bool(sched))
    return Background(worker=delivery, scheduler=sched, leadership=leadership)
