"""Fixtures shared by every test module: users, clients, keys, the sign-in email,
and the example site started as a real server (for the browser and walkthrough tests)."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from rest_framework.test import APIClient

from django_jwt_email import tokens

ROOT = Path(__file__).resolve().parent.parent
KEY_DIR = Path(__file__).parent / "keys"
#: The Redis of the ``redis`` and ``celery`` tests (CI sets it; the machine's by default).
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(autouse=True)
def _clean_caches():
    """Each test starts with empty caches (rate-limit counters, revocation marks)."""
    for cache in caches.all():
        cache.clear()
    tokens._verified.entries.clear()
    yield


@pytest.fixture
def redis_client():
    """A client of the tests' Redis; the test is skipped, saying why, if none answers."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is unreachable at {REDIS_URL}: {exc}")
    yield client
    client.close()


class FrozenClock:
    """A ``time`` module whose ``time()`` stands still until a test moves ``now``."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def frozen_clock(monkeypatch):
    """Freeze the clock of the rate-limit windows (django-ratelimit's and the app's),
    so no test straddles a window's end by chance; move ``.now`` to reach it."""
    frozen = FrozenClock()
    monkeypatch.setattr("django_ratelimit.core.time", frozen)
    monkeypatch.setattr("django_jwt_email.limits.time", frozen)
    return frozen


#: Every RATE_LIMITS group loose, for tests that set only the ones they test.
LOOSE_RATES = dict.fromkeys(
    [
        "request_ip",
        "request_email",
        "verify_ip",
        "token_ip",
        "code_ip",
        "refresh_ip",
        "failed_ip",
        "bearer_failed_ip",
    ],
    "1000/m",
)


@pytest.fixture
def rates(settings):
    """Set some RATE_LIMITS groups: ``rates(request_ip="3/h")``; the others stay loose."""

    def set_rates(**groups: str) -> None:
        settings.JWT_EMAIL_RATE_LIMITS = {**LOOSE_RATES, **groups}

    return set_rates


@pytest.fixture
def unreachable_ratelimit_cache(settings):
    """The rate-limit counters in a real Redis cache at a loopback port where
    nothing listens: every call fails at once with a connection error."""
    pytest.importorskip("redis")
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.RATELIMIT_USE_CACHE = "limits"


class SilentServer:
    """A TCP server of the test's own that accepts every connection, reads what it is
    sent and never answers: a hung mail server or queue broker.

    It hangs up on a connection only after ``hold`` seconds, so a client without a
    timeout of its own fails its test (``hung_up`` counts those connections) rather
    than hanging it.
    """

    def __init__(self, hold: float = 30.0) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.hold = hold
        self.hung_up = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ)
        deadlines: dict[socket.socket, float] = {}

        def drop(connection: socket.socket) -> None:
            selector.unregister(connection)
            deadlines.pop(connection)
            connection.close()

        while not self._stop.is_set():
            for key, _ in selector.select(timeout=0.05):
                if key.fileobj is self.listener:
                    connection, _ = self.listener.accept()
                    selector.register(connection, selectors.EVENT_READ)
                    deadlines[connection] = time.monotonic() + self.hold
                    continue
                connection = key.fileobj  # type: ignore[assignment]
                try:
                    closed = connection.recv(65536) == b""
                except OSError:
                    closed = True
                if closed:  # the client gave up
                    drop(connection)
            for connection, deadline in list(deadlines.items()):
                if time.monotonic() >= deadline:
                    self.hung_up += 1
                    drop(connection)
        for connection in list(deadlines):
            drop(connection)
        selector.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


class RedisServer:
    """A Redis server of the test's own (no persistence) that a test stops and starts
    again on the same port: a broker or cache outage and its end."""

    def __init__(self, binary: str, *options: str) -> None:
        self.binary = binary
        self.options = list(options)  # more redis-server options, e.g. --rename-command
        with socket.create_server(("127.0.0.1", 0)) as probe:
            self.port: int = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", *self.options]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server_factory():
    """Start RedisServers with more options: ``redis_server_factory("--rename-command",
    "CLIENT", "")``; the test is skipped, saying why, without redis-server."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    servers = []

    def start(*options: str) -> RedisServer:
        server = RedisServer(binary, *options)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def private_redis(redis_server_factory):
    """A started RedisServer of the test's own."""
    return redis_server_factory()


@pytest.fixture
def closed_port():
    """A port of this machine where nothing listens: a server that is down."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.fixture
def key_path():
    """The path of a test key file by name: key_path("es256")."""
    return lambda name: KEY_DIR / f"{name}.pem"


@pytest.fixture
def user_factory(db):
    counter = iter(range(1, 10_000))

    def make(email: str | None = None, **extra):
        n = next(counter)
        email = email or f"user{n}@example.com"
        return get_user_model().objects.create_user(
            username=extra.pop("username", f"user{n}"), email=email, **extra
        )

    return make


@pytest.fixture
def user(user_factory):
    return user_factory("alice@example.com")


@pytest.fixture
def api_client():
    return APIClient()


LINK = re.compile(r"https?://\S+/auth/verify/\?token=[\w.\-%]+")
CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")


def link_of(message) -> str:
    return LINK.search(message.body).group(0)


def token_of(message) -> str:
    return parse_qs(urlsplit(link_of(message)).query)["token"][0]


def code_of(message) -> str:
    return CODE.search(message.body).group(1)


@pytest.fixture
def request_link(api_client, mailoutbox):
    """Ask for a link for ``email`` through the API; return the login token mailed."""

    def ask(email: str, **extra) -> str:
        response = api_client.post("/auth/request/", {"email": email, **extra}, format="json")
        assert response.status_code == 202, response.content
        return token_of(mailoutbox[-1])

    return ask


@pytest.fixture
def pair(user, request_link, api_client):
    """An access/refresh pair for ``user``, through the real endpoints."""
    token = request_link(user.email)
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def answer(response) -> bytes:
    """The whole answer as a client receives it (status line, every header, body),
    with the clock's marks blanked: the never-cache ``Expires`` header and a cookie's
    ``expires`` date say "now", and may tick over a second between two requests."""
    raw = re.sub(rb"(?m)^Expires: [^\r\n]+", b"Expires: <now>", response.serialize())
    return re.sub(rb"expires=[^;]+; ", b"expires=<now>; ", raw)


# --- the example site as a real server ---------------------------------------------

MANAGE = ROOT / "example_project" / "manage.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveSite:
    """The example site served by ``runserver`` in a directory of its own."""

    url: str
    directory: Path
    env: dict[str, str]
    server: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def outbox(self) -> Path:
        return self.directory / "outbox"

    def manage(self, *args: str) -> str:
        """Run a management command with the site's settings; its output."""
        done = subprocess.run(
            [sys.executable, str(MANAGE), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"manage.py {args[0]}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self) -> None:
        port = int(urlsplit(self.url).port or 0)
        self.server = subprocess.Popen(
            [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"the example site exited: {self.server.stdout.read()}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"{self.url}/signin/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the example site did not answer at {self.url}")

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(timeout=10)


@pytest.fixture
def start_example_site(tmp_path_factory) -> Iterator:
    """Start the example site, as ``make demo`` would but on a free port, with its own
    SQLite database, signing key and file outbox in a temporary directory.

    ``start_example_site(settings="...")`` adds lines to its settings (a module that
    imports the site's own first); ``superuser`` is created without a password.
    """
    sites: list[LiveSite] = []

    def start(*, settings: str = "", superuser: str | None = None) -> LiveSite:
        directory = tmp_path_factory.mktemp("example-site")
        (directory / "site_settings.py").write_text(
            "from site_config.settings import *  # noqa: F403\n" + settings
        )
        url = f"http://127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(directory), str(ROOT)]),
            "DJANGO_SETTINGS_MODULE": "site_settings",
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
            "EMAIL_FILE_PATH": str(directory / "outbox"),
            "JWT_EMAIL_LINK_BASE_URL": url,
            "JWT_EMAIL_KEY_FILE": str(directory / "key.pem"),
            "REDIS_URL": "",
            "PYTHONUNBUFFERED": "1",
        }
        site = LiveSite(url, directory, env)
        site.manage(
            "jwt_email_keys",
            "generate",
            "--algorithm",
            "ES256",
            "--output",
            env["JWT_EMAIL_KEY_FILE"],
        )
        site.manage("migrate", "--noinput")
        if superuser:
            site.manage("shell", "-c", CREATE_SUPERUSER % {"email": superuser})
        sites.append(site)
        site.start()
        return site

    yield start
    for site in sites:
        site.stop()


# Whatever the user model (the default, or an email-only one): no password, so
# this staff user signs in by link only.
CREATE_SUPERUSER = """
from django.contrib.auth import get_user_model
User = get_user_model()
fields = {User.get_email_field_name(): "%(email)s"}
if User.USERNAME_FIELD not in fields:
    fields[User.USERNAME_FIELD] = "%(email)s".split("@")[0]
User._default_manager.create_superuser(**fields, password=None)
"""
