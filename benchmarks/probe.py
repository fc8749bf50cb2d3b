"""How long sign-ins wait while a cleanup runs: ``python -m benchmarks.probe TOOL STOP``.

Every 100 ms, on the database of the run (PostgreSQL or SQLite), what a sign-in
arriving during the cleanup writes to the table being cleaned, in its own
transaction through the ORM: a new session row for ``jwt-email``, a new
outstanding token for ``simplejwt``; and one read of that table by its unique
key. Each is timed. A cleanup that holds a lock for its whole run shows up as one
very long wait. Stops when the file ``STOP`` exists or after ten minutes, then
prints JSON.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.benchsite.settings")

TICK_SECONDS = 0.1
MAX_SECONDS = 600


def _writer(tool: str) -> tuple[Callable[[], Any], Callable[[Any], Any]]:
    """(write one row, read it back by its unique key) for ``tool``'s table."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    user, _ = get_user_model().objects.get_or_create(username="bench-probe")
    if tool == "jwt-email":
        from django_jwt_email.models import SignInSession

        def write() -> str:
            now = timezone.now()
            sid = secrets.token_urlsafe(24)
            SignInSession.objects.create(
                sid=sid, user=user, created_at=now, expires_at=now + timedelta(days=14)
            )
            return sid

        return write, lambda sid: SignInSession.objects.filter(sid=sid).exists()

    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    def write_outstanding() -> str:
        now = timezone.now()
        jti = secrets.token_hex(16)
        OutstandingToken.objects.create(
            user=user,
            jti=jti,
            token="x" * 280,
            created_at=now,
            expires_at=now + timedelta(days=14),
        )
        return jti

    return write_outstanding, lambda jti: OutstandingToken.objects.filter(jti=jti).exists()


def run(tool: str, stop: Path) -> dict[str, float | int]:
    from django.db import transaction

    write, read = _writer(tool)
    reads: list[float] = []
    writes: list[float] = []
    deadline = time.monotonic() + MAX_SECONDS
    while not stop.exists() and time.monotonic() < deadline:
        began = time.perf_counter()
        with transaction.atomic():
            key = write()
        writes.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        read(key)
        reads.append((time.perf_counter() - began) * 1000)
        time.sleep(TICK_SECONDS)
    return {
        "ticks": len(writes),
        "max_read_wait_ms": max(reads, default=0.0),
        "max_write_wait_ms": max(writes, default=0.0),
        "median_write_ms": sorted(writes)[len(writes) // 2] if writes else 0.0,
    }


if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps(run(sys.argv[1], Path(sys.argv[2]))))
