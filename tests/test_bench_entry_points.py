"""Every benchmark the README names starts: `python -m bench.NAME` imports its module and its helpers.

A benchmark that cannot import is found here, not by the next person who runs it (bench/_common.py once
imported `bench._cpu_limit`, which `python bench/fanout.py` could not find: six benchmarks failed at start).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINTS = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if not p.stem.startswith("_"))


def test_the_readme_runs_every_benchmark_as_a_module() -> None:
    readme = (ROOT / "README.md").read_text()
    assert not re.findall(r"python bench/\w+\.py", readme)  # as a script, bench/ alone is on sys.path
    assert {name for name in ENTRY_POINTS if f"-m bench.{name}" in readme} == set(ENTRY_POINTS)


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_a_benchmark_starts(name: str) -> None:
    run = subprocess.run([sys.executable, "-m", f"bench.{name}", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage:" in run.stdout
