"""slack_app.heap: a serving process's built objects are frozen, so full collections walk only what came after."""

from __future__ import annotations

import gc
import logging

from slack_app import heap


def test_built_objects_are_frozen_and_collections_walk_only_newer_ones(caplog):
    caplog.set_level(logging.INFO, logger="hearth.heap")
    tracked = len(gc.get_objects())
    try:
        frozen = heap.freeze_built_objects()
        assert frozen > tracked / 2  # this test process: its modules, pytest, fixtures
        newer = [[] for _ in range(100)]
        walked = gc.get_objects()  # what a full collection visits now
        assert len(walked) < frozen / 10 and all(any(x is n for x in walked) for n in newer[:3])
    finally:
        gc.unfreeze()
    assert [r.getMessage() for r in caplog.records] == [f"heap.frozen objects={frozen}"]  # a count, nothing else
