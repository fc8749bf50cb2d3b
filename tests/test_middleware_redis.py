"""RateLimitMiddleware across processes: two app servers over one Redis share each counter.

The tests start two server processes on loopback ports, ``runserver`` (WSGI,
threaded, as it serves by default) or uvicorn (ASGI: the middleware in async
mode, its counting through ``sync_to_async`` threads), with the settings of
``tests/redis_site_settings.py`` and a migrated SQLite file. Links asked for
alternately from each trip the limit at the configured count, not at twice
that, as they would with a per-process cache; and a burst of concurrent bad
tokens never gets more tries than the failed-verification limit allows.
"""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.servers import REDIS_URL, free_port, wait_until_up

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 4
FAILED_LIMIT = 10
BURST = 40


def post_json(port: int, path: str, body: dict) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def server_command(kind: str, port: int) -> list[str]:
    if kind == "asgi":
        pytest.importorskip("uvicorn")
        return [
            *("-m", "uvicorn", "tests.testapp.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
        ]
    return ["-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]


@pytest.fixture(params=["wsgi", "asgi"])
def two_servers(request, redis_client, tmp_path):
    """The ports of two app servers sharing one Redis (and one database)."""
    prefix = f"jwt-email-test-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.redis_site_settings",
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": REDIS_URL,
        "RATELIMIT_TEST_DB": str(tmp_path / "site.sqlite3"),
        "RATELIMIT_TEST_PREFIX": prefix,
        "RATELIMIT_TEST_RATE": f"{LIMIT}/d",
        "RATELIMIT_TEST_FAILED_RATE": f"{FAILED_LIMIT}/d",
    }
    django = [sys.executable, "-m", "django"]
    subprocess.run(
        [*django, "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=120
    )
    servers = []
    try:
        for _ in range(2):
            port, log = free_port(), tmp_path / f"server-{len(servers)}.log"
            with log.open("w") as out:
                command = [sys.executable, *server_command(request.param, port)]
                process = subprocess.Popen(
                    command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
                )
            servers.append((port, process, log))
        for port, process, log in servers:
            wait_until_up(f"http://127.0.0.1:{port}/auth/.well-known/jwks.json", process, log)
        yield [port for port, _, _ in servers]
    finally:
        for _, process, _ in servers:
            process.terminate()
        for _, process, _ in servers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for key in redis_client.scan_iter(match=f"{prefix}*", count=100):
            redis_client.delete(key)


def test_request_limit_is_shared_by_two_servers_over_redis(two_servers):
    ports = [two_servers[n % 2] for n in range(LIMIT + 2)]
    answers = [
        post_json(port, "/auth/request/", {"email": f"user{n}@example.com"})
        for n, port in enumerate(ports)
    ]
    statuses = [status for status, _, _ in answers]
    assert statuses == [202] * LIMIT + [429, 429]
    _, headers, body = answers[LIMIT]
    assert body["code"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 24 * 3600


def test_a_burst_of_bad_tokens_gets_no_more_tries_than_the_failure_limit(two_servers):
    # Checked before the view but counted after it, the failures of a concurrent
    # burst all passed the check before any was counted (27 tries against 20).
    # Reserved before the view, no burst gets past the limit.
    start = threading.Barrier(BURST)
    answers: list[int] = []

    def try_a_bad_token(n: int) -> None:
        start.wait(timeout=30)
        status, _, _ = post_json(two_servers[n % 2], "/auth/token/", {"token": f"bad.{n}.x"})
        answers.append(status)

    threads = [threading.Thread(target=try_a_bad_token, args=(n,)) for n in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == BURST
    assert set(answers) <= {400, 429}
    assert answers.count(400) == FAILED_LIMIT
    # Once the burst is over, the client is still locked out: the failures were kept.
    status, headers, body = post_json(two_servers[0], "/auth/token/", {"token": "bad.again.x"})
    assert (status, body["code"]) == (429, "rate_limited")
    assert int(headers["Retry-After"]) >= 1
