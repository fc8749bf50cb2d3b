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
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from rest_framework.test import APIClient

import django_jwt_email
from django_jwt_email import tokens
from django_jwt_email.testing import SignInEmail, sign_in_email, token_pair
from tests.servers import REDIS_URL

# pytester: tests/test_pytest_plugin.py runs a site's tests in a pytest of their own.
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
KEY_DIR = Path(__file__).parent / "keys"
PACKAGE = Path(django_jwt_email.__file__).resolve().parent
#: The markers of tests that need a service (or the network): deselected by make test.
SERVICE_MARKERS = ("postgres", "redis", "celery", "browser", "walkthrough", "package")
_skipped_service_tests: list[str] = []


def pytest_report_header(config):
    return f"django_jwt_email {django_jwt_email.__version__} from {PACKAGE}"


def pytest_configure(config):
    # tox sets it: the suite must test the installed wheel, not the checkout.
    if os.environ.get("JWT_EMAIL_TEST_INSTALLED") and PACKAGE == ROOT / "django_jwt_email":
        raise pytest.UsageError(f"django_jwt_email was imported from the checkout ({PACKAGE})")


def pytest_runtest_logreport(report):
    if report.skipped and any(marker in report.keywords for marker in SERVICE_MARKERS):
        _skipped_service_tests.append(f"{report.nodeid}: {report.longrepr[-1]}")


def pytest_sessionfinish(session, exitstatus):
    """Under CI a skipped service test fails the run: a service that is down, or a
    marker on a test that cannot run there, must not pass as green."""
    if os.environ.get("CI") and _skipped_service_tests and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("CI") and _skipped_service_tests:
        terminalreporter.section("service tests skipped under CI (this fails the run)", red=True)
        for line in _skipped_service_tests:
            terminalreporter.line(line)


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


class PostgresServer:
    """A PostgreSQL server of the test's own (initdb in a temporary directory, pg_ctl on
    a free port) that a test stops and starts again: a database outage and its end."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.directory = Path(tempfile.mkdtemp(prefix="jwt-email-pg-"))
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        # initdb refuses to run as root: as root, the server runs as "postgres".
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.directory, "postgres")
        self._run("initdb", "-D", str(self.directory / "data"), "-U", "postgres", "-A", "trust")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin_dir / tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "-D", str(self.directory / "data"), "-o", options,
            "-l", str(self.directory / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin_dir / "pg_ctl"), "-D", str(self.directory / "data"),
             "-m", "immediate", "stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def private_postgres():
    """A started PostgresServer; skipped, saying why, without PostgreSQL's binaries."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        pytest.skip("PostgreSQL's server binaries are not installed (/usr/lib/postgresql)")
    server = PostgresServer(found[-1].parent)
    server.start()
    yield server
    server.remove()


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
        user_model = get_user_model()
        fields = {user_model.get_email_field_name(): email or f"user{n}@example.com"}
        # The default User also has a username; an email-only model has none.
        if user_model.USERNAME_FIELD not in fields:
            fields[user_model.USERNAME_FIELD] = extra.pop("username", f"user{n}")
        return user_model._default_manager.create_user(**fields, **extra)

    return make


@pytest.fixture
def default_user_model(settings):
    """Skip the test, saying why, under a custom user model (tests/settings_email_user.py):
    for the few tests about Django's own ``User`` rather than about the flows."""
    if settings.AUTH_USER_MODEL != "auth.User":
        pytest.skip(f"about Django's default User; the user model is {settings.AUTH_USER_MODEL}")


@pytest.fixture
def user(user_factory):
    return user_factory("alice@example.com")


@pytest.fixture
def api_client():
    return APIClient()


#: A link to the app's own verify page (LINK_URL unset).
LINK = re.compile(r"https?://\S+/auth/verify/\?token=[\w.\-%]+")


def link_of(message) -> str:
    return SignInEmail.from_message(message).link


def token_of(message) -> str:
    return SignInEmail.from_message(message).token


def code_of(message) -> str:
    code = SignInEmail.from_message(message).code
    assert code is not None, "the email carries no code"
    return code


@pytest.fixture
def request_link(api_client, mailoutbox):
    """Ask for a link for ``email`` through the API; return the login token mailed."""

    def ask(email: str, **extra) -> str:
        response = api_client.post("/auth/request/", {"email": email, **extra}, format="json")
        assert response.status_code == 202, response.content
        return sign_in_email(mailoutbox).token

    return ask


@pytest.fixture
def pair(user):
    """An access/refresh pair of a new sign-in session of ``user``, as ``auth/token/``
    gives it (``django_jwt_email.testing.token_pair``)."""
    return token_pair(user)


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

    @property
    def log(self) -> Path:
        """What the server printed (its requests and log lines)."""
        return self.directory / "server.log"

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
        # A file, not a pipe: a pipe nobody reads fills up with the server's log lines
        # (tracebacks of an outage, say) and then blocks the server.
        with self.log.open("a") as log:
            self.server = subprocess.Popen(
                [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"the example site exited: {self.log.read_text()}")
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

    def start(
        *, settings: str = "", superuser: str | None = None, env: dict[str, str] | None = None
    ) -> LiveSite:
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
            **(env or {}),
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
