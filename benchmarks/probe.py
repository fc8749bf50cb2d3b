"""How long other requests wait while a cleanup runs: ``python -m benchmarks.probe DB STOP``.

Every 100 ms, one read and one small write transaction on the same SQLite file,
as a sign-in arriving during the cleanup would do; each is timed. A cleanup
that holds the write lock for its whole run shows up as one very long wait.
Stops when the file ``STOP`` exists or after ten minutes, then prints JSON.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

TICK_SECONDS = 0.1
MAX_SECONDS = 600


def run(db: str, stop: Path) -> dict[str, float | int]:
    connection = sqlite3.connect(db, timeout=MAX_SECONDS, isolation_level=None)
    connection.execute("CREATE TABLE IF NOT EXISTS bench_probe (id INTEGER PRIMARY KEY, at REAL)")
    reads: list[float] = []
    writes: list[float] = []
    deadline = time.monotonic() + MAX_SECONDS
    while not stop.exists() and time.monotonic() < deadline:
        began = time.perf_counter()
        connection.execute("SELECT count(*) FROM bench_probe").fetchone()
        reads.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO bench_probe (at) VALUES (?)", (time.time(),))
        connection.execute("COMMIT")
        writes.append((time.perf_counter() - began) * 1000)
        time.sleep(TICK_SECONDS)
    connection.close()
    return {
        "ticks": len(writes),
        "max_read_wait_ms": max(reads, default=0.0),
        "max_write_wait_ms": max(writes, default=0.0),
        "median_write_ms": sorted(writes)[len(writes) // 2] if writes else 0.0,
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], Path(sys.argv[2]))))
