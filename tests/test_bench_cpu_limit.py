"""bench/_cpu_limit.py: the CPU limit `bench.load --cpu-limit` gives each server holds it and what it forks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench._cpu_limit import CpuLimit, controller

BUSY = """
import os, time
def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
child = os.fork()
spin(1.5)
if child == 0:
    os._exit(0)
os.waitpid(child, 0)
t = os.times()
print(t.user + t.system + t.children_user + t.children_system)
"""


def test_a_server_and_the_processes_it_forks_stay_within_the_limit() -> None:
    if not os.access(controller(), os.W_OK):
        pytest.skip(f"no writable cgroup CPU controller at {controller()} (not root, or an unprivileged container)")
    limit = CpuLimit("test", 0.1)
    try:
        out = subprocess.run(limit.wrap([sys.executable, "-c", BUSY]), capture_output=True, text=True,
                             check=True, timeout=30).stdout
    finally:
        limit.remove()
    # Two processes spinning for 1.5 s use 1.5-3 CPU seconds unlimited, even on a busy machine; within
    # 0.1 CPU, about 0.15.
    assert float(out) < 0.45
    assert not limit.path.exists()
