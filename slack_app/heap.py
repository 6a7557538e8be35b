"""Full garbage collections that do not stop a serving process for a tenth of a second.

A serving process holds about 160,000 objects once it is built (modules, SQLAlchemy's mappers and
statements, Bolt, Jinja2, slack_sdk), and none of them ever becomes garbage. Python's full collection
(generation 2) walks every tracked object while holding the GIL, so every thread of the process stops
meanwhile: about 100 ms for those objects on this 2-core VM, 60–320 ms under load, where it showed as
whole seconds of slow acks in bench/load.py. `freeze_built_objects` collects once and moves what survives
to the permanent generation, which no collection walks: a full collection then visits only what the
process made since. Before `--processes` forks, it also keeps each copy's collections from writing to
every shared page (copy on write), as Python's documentation of `gc.freeze` advises.
"""

from __future__ import annotations

import gc
import logging

from sqlalchemy.orm import configure_mappers

log = logging.getLogger("hearth.heap")


def freeze_built_objects() -> int:
    """Collect, then exempt every surviving object from later collections; returns how many there are.
    Call it once the process is built and before it serves (it holds the GIL for the one collection)."""
    configure_mappers()  # SQLAlchemy builds its mappers' internals at their first query: here, so they freeze too
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("heap.frozen objects=%d", frozen)
    return frozen
