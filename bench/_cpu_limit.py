"""CPU limits for benchmark servers, as a container's CPU limit sets them (a CFS quota on a cgroup of its own).

This 2-core machine cannot show scale-out by itself: one `hearth serve` with its App Home process already
uses both CPUs, so a second instance only competes for them. Each instance limited to a fraction of a core,
as pods with a CPU limit are, shows instead whether two instances on one database hold twice what one holds.

    python bench/_cpu_limit.py CGROUP COMMAND...   # COMMAND runs (exec, same pid) inside CGROUP

`CpuLimit` makes the cgroup; what COMMAND forks (its `--processes` copies, its App Home process) inherits it.
It needs a writable cgroup CPU controller (v1 `cpu` or v2 `cpu.max`): root, outside an unprivileged container.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


class CpuLimit:
    """A cgroup whose processes share at most `cores` CPUs; `wrap(cmd)` runs a command inside it."""

    def __init__(self, name: str, cores: float) -> None:
        self.path = controller() / f"hearth-bench-{name}-{os.getpid()}"
        self.v2 = self.path.parent == ROOT
        quota = max(1000, round(cores * PERIOD_US))
        try:
            self.path.mkdir()
            if self.v2:
                (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            else:
                (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        except OSError as exc:
            raise SystemExit(f"--cpu-limit needs a writable cgroup CPU controller under {ROOT} (run as root): {exc}") from None

    def wrap(self, cmd: list[str]) -> list[str]:
        return [sys.executable, __file__, str(self.path), *cmd]  # by path: the command may run in any folder

    def remove(self) -> None:
        """Once its processes have ended (a cgroup with processes cannot be removed)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


def controller() -> Path:
    """Where CPU-limited cgroups are made: v1's `cpu` hierarchy, else the v2 root."""
    v1 = ROOT / "cpu"
    return v1 if (v1 / "cpu.cfs_quota_us").exists() else ROOT


def main() -> None:
    group, cmd = Path(sys.argv[1]), sys.argv[2:]
    (group / "cgroup.procs").write_text(str(os.getpid()))
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
