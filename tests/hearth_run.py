"""A real `hearth run` process for tests: started against the Slack simulator, watched through its log file,
stopped with SIGTERM.

    with HearthRun(run_env(simulator, tmp_path), "--http-port", str(port), log=tmp_path / "run.log") as run:
        assert simulator.socket_mode.wait_for_connections(1, timeout=30)
        ...
        assert run.stop() == 0, run.output
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import SIGNING_SECRET

HEARTH = os.path.join(os.path.dirname(sys.executable), "hearth")


def run_env(simulator, tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a `hearth run` against `simulator` (SQLite in `tmp_path` unless `settings` say
    otherwise); the test's own Slack/Hearth/database variables are left out."""
    from storage.crypto import generate_key

    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARTH_", "DATABASE_URL", "ARCHIVE_URL"))}
    return {**base, "SLACK_BOT_TOKEN": simulator.bot_token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": simulator.socket_mode.app_token, "SLACK_API_URL": simulator.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}", "ARCHIVE_URL": str(tmp_path / "archive"),
            "HEARTH_ENCRYPTION_KEY": generate_key(), "HEARTH_MODERATOR_CHANNEL": "GMODS", "HEARTH_LOG_LEVEL": "INFO",
            **settings}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


class HearthRun:
    def __init__(self, env: dict[str, str], *args: str, log: Path) -> None:
        self.log = log
        self._terminated = False
        self._out = open(log, "w")  # a file, not a pipe: nothing has to keep reading it while the test runs
        self.proc = subprocess.Popen([HEARTH, "run", *args], env=env, cwd=log.parent, stdout=self._out,
                                     stderr=subprocess.STDOUT, text=True)

    @property
    def output(self) -> str:
        return self.log.read_text()

    def wait_listening(self, url: str, timeout: float = 30) -> None:
        """Until `url` answers at all (any HTTP status)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                get(url, timeout=1)
                return
            except OSError:
                assert self.proc.poll() is None, self.output
                assert time.monotonic() < deadline, f"hearth run did not listen on {url}"
                time.sleep(0.1)

    def terminate(self) -> None:
        """SIGTERM, as systemd or Docker stop it (once: a second one would cut the graceful stop short)."""
        if not self._terminated and self.proc.poll() is None:
            self._terminated = True
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and its exit status."""
        self.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._out.close()

    def __enter__(self) -> HearthRun:
        return self

    def __exit__(self, *_exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._out.close()
