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
from dataclasses import dataclass
from typing import Any

from slack_app.delivery.ports import for_settings
from slack_app.delivery.worker import DeliveryWorker, WorkerOptions, new_worker_id
from slack_app.scheduling import registry
from slack_app.scheduling.leader import Leadership
from slack_app.scheduling.scheduler import DEFAULT_MISFIRE_GRACE, HearthScheduler

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


def start_background(services: Any, *, port_for_team=None, job_ports=None, worker: bool = True,  # noqa: ANN001
                     scheduler: bool = True, worker_options: WorkerOptions | None = None,
                     leader_retry_interval: float = 10.0, misfire_grace: int = DEFAULT_MISFIRE_GRACE,
                     instance_id: str | None = None) -> Background:
    """Start the delivery worker and the scheduler-with-leadership for `services` (slack_app.app.Services).

    `port_for_team` / `job_ports` (team id -> SlackPort) default to the settings' bot token or installation
    store: non-retrying clients for the worker, retrying ones (which may sleep in a job thread) for jobs."""
    db = services.db
    instance_id = instance_id or new_worker_id()
    crypto = getattr(services, "crypto", None)
    ports = port_for_team or for_settings(services.settings, db, crypto)
    job_ports = job_ports or port_for_team or for_settings(services.settings, db, crypto, retrying=True)
    if db.is_sqlite:
        log.warning("runtime.single_instance database=sqlite: run one Hearth instance (hearth run/serve or "
                    "hearth worker, not several); use PostgreSQL to run more")
    if scheduler:
        registry.discover()  # import every slack_app.<workflow>.jobs, registering actions and job sources

    delivery = DeliveryWorker(db, ports, worker_id=instance_id, options=worker_options).start() if worker else None
    sched = leadership = None
    if scheduler:
        sched = HearthScheduler(db, services=services, ports=job_ports, owner=instance_id,
                                misfire_grace=misfire_grace)
        leadership = Leadership(db, on_elected=sched.start, on_deposed=lambda: sched.stop(wait=False),
                                retry_interval=leader_retry_interval).start()
    log.info("runtime.started instance=%s worker=%s scheduler=%s", instance_id, bool(delivery), bool(sched))
    return Background(worker=delivery, scheduler=sched, leadership=leadership)
