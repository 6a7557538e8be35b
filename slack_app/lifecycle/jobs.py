"""Scheduled, on the leader: the nightly archive run, and members admins asked to forget (every few minutes).

Both are slow (they read and write the archive) and never run on a request thread.
"""

from __future__ import annotations

from slack_app.scheduling.registry import JobContext, Jobs, JobSpec
from storage.archive import Archive, open_archive
from storage.lifecycle import forget
from storage.lifecycle.archiver import Archiver

ARCHIVE = "archive.run"
FORGET = "archive.forget_requested"


def _archive_of(ctx: JobContext) -> Archive:
    services = ctx.services
    return services.archive or open_archive(services.settings.ARCHIVE_URL, services.settings.s3_options)


def archive_run(ctx: JobContext) -> dict[str, int]:
    report = Archiver(ctx.db, _archive_of(ctx)).run(retention=ctx.services.settings.archive_retention)
    return {"objects": report.objects, "archived_rows": report.total, "resumed_batches": report.resumed}


def forget_requested(ctx: JobContext) -> dict[str, int]:
    return {"forgotten_count": forget.run_pending(ctx.db, _archive_of(ctx))}


JOBS = Jobs(actions={ARCHIVE: archive_run, FORGET: forget_requested},
            always=[JobSpec(id=ARCHIVE, action=ARCHIVE, every=86400.0),
                    JobSpec(id=FORGET, action=FORGET, every=300.0, at_start=True)])
