"""Helpers of the tests that start servers of their own: the Redis URL, a free
loopback port, and waiting until a started server answers.

One home for what the service tests (Redis, Celery, several app servers, the
browser) used to copy; no fixtures here (they live in ``conftest.py``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

#: The Redis of the ``redis`` and ``celery`` tests (CI sets it; the machine's by default).
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_until_up(
    url: str,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
    timeout: float = 30,
    ready: Callable[[str], bool] = answers,
) -> None:
    """Wait until ``ready(url)`` holds; fail at once if ``process`` exits first.

    Raises ``AssertionError`` (a test failure, not an error of the test) with the
    server's log, if one is given, so a server that cannot start says why.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server for {url} exited:\n{_tail(process, log)}")
        if ready(url):
            return
        time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url} in {timeout:.0f} s:\n{_tail(process, log)}")


def _tail(process: subprocess.Popen | None, log: Path | None) -> str:
    if log is not None and log.exists():
        return log.read_text(errors="replace")[-4000:]
    if process is not None and process.stdout is not None and process.poll() is not None:
        return str(process.stdout.read())[-4000:]
    return "(no log)"
