"""A process's tracked copy of Redis's answers (``tracking.TrackedKeys``), against a real
Redis server of the test's own: answers are given without asking Redis, and every
change, flush, lost or silent connection drops them. What a real Redis would not send
(a reply out of turn, a push not asked for) comes from a fake one, ``FakeRedis``. Waits
are polled; nothing is timed."""

import contextlib
import os
import signal
import socket
import threading
import time

import pytest

from django_jwt_email import tracking
from django_jwt_email.tracking import TrackedKeys

pytestmark = pytest.mark.redis

redis = pytest.importorskip("redis")

PREFIX = "app:1:marks:"
KEY = b"app:1:marks:sid:one"
OTHER = b"app:1:marks:sid:two"


def eventually(predicate, seconds=10.0):
    """Poll ``predicate`` until it holds (True) or ``seconds`` have passed (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def server(private_redis):
    client = redis.Redis.from_url(private_redis.url)
    yield private_redis, client
    client.close()


@pytest.fixture
def tracked(server):
    private, _ = server
    pool = redis.ConnectionPool.from_url(private.url)
    keys = TrackedKeys(pool, PREFIX)
    assert keys.get([]) == []  # connected, as the first check of a process connects it
    yield keys
    keys.close()
    pool.disconnect()


def fetch(tracked, client, *keys):
    """What a caller does on a miss (``get`` gave None): read the epoch, ask Redis,
    remember the answer."""
    epoch = tracked.epoch
    values = client.mget(keys)
    tracked.remember(epoch, {key: value is not None for key, value in zip(keys, values)})


def settled(tracked, change):
    """Make ``change`` and wait until this copy has heard of it."""
    epoch = tracked.epoch
    change()
    assert eventually(lambda: tracked.get([]) == [] and tracked.epoch != epoch)


def mget_calls(client):
    return client.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)


def test_a_remembered_answer_is_given_without_asking_redis(server, tracked):
    _, client = server
    settled(tracked, lambda: client.set(KEY, 1))
    assert tracked.get([KEY, OTHER]) is None  # nothing known yet
    fetch(tracked, client, KEY, OTHER)
    asked = mget_calls(client)

    for _ in range(50):
        assert tracked.get([KEY, OTHER]) == [True, False]

    assert mget_calls(client) == asked


@pytest.mark.parametrize(
    "change",
    [
        lambda client: client.set(OTHER, 1),
        lambda client: client.delete(KEY),
        lambda client: client.expire(KEY, 100),
        lambda client: client.pexpire(KEY, 1),  # expires on its own
    ],
    ids=["set", "delete", "expire", "expiry"],
)
def test_a_change_made_by_another_client_is_forgotten(server, tracked, change):
    _, client = server
    settled(tracked, lambda: client.set(KEY, 1))
    fetch(tracked, client, KEY, OTHER)
    assert tracked.get([KEY, OTHER]) == [True, False]

    change(client)

    assert eventually(lambda: tracked.get([KEY, OTHER]) is None)


def test_a_flush_forgets_everything(server, tracked):
    _, client = server
    settled(tracked, lambda: client.set(KEY, 1))
    fetch(tracked, client, KEY)
    fetch(tracked, client, OTHER)
    assert tracked.get([KEY, OTHER]) == [True, False]

    client.flushdb()

    assert eventually(lambda: tracked.get([KEY]) is None and tracked.get([OTHER]) is None)


def test_keys_outside_the_prefix_change_nothing(server, tracked):
    _, client = server
    fetch(tracked, client, KEY)
    epoch = tracked.epoch

    client.set(b"app:1:other:sid:one", 1)
    client.set(b"marks:sid:one", 1)

    assert tracked.get([KEY]) == [False]
    assert tracked.epoch == epoch


def test_an_answer_that_raced_a_change_is_not_remembered(server, tracked):
    """Asked before a write, remembered after its invalidation came in: dropped."""
    _, client = server
    epoch = tracked.epoch
    stale = client.mget([KEY])  # absent when asked...
    client.set(KEY, 1)  # ...and written before the answer is remembered
    assert eventually(lambda: tracked.get([]) == [] and tracked.epoch != epoch)

    tracked.remember(epoch, {KEY: stale[0] is not None})

    assert tracked.get([KEY]) is None


def test_a_change_by_this_process_is_forgotten_before_redis_says_so(server, tracked):
    _, client = server
    fetch(tracked, client, KEY)

    tracked.forget([KEY])

    assert tracked.get([KEY]) is None


def test_a_lost_connection_forgets_everything(server, tracked):
    private, client = server
    fetch(tracked, client, KEY)
    assert tracked.get([KEY]) == [False]

    private.stop()
    assert tracked.get([KEY]) is None  # the connection is gone: nothing is trusted
    private.start()

    assert eventually(lambda: tracked.get([]) == [])  # connected again
    assert tracked.get([KEY]) is None  # and the old answer did not come back


def test_a_connection_killed_by_the_server_forgets_everything(server, tracked):
    _, client = server
    fetch(tracked, client, KEY)
    assert tracked.get([KEY]) == [False]

    killed = [c for c in client.client_list() if "t" in c["flags"]]  # the tracking client
    assert len(killed) == 1
    client.client_kill_filter(_id=killed[0]["id"])
    client.set(KEY, 1)  # a change this copy can no longer hear of

    assert tracked.get([KEY]) is None


def test_a_silent_server_is_not_trusted_beyond_the_stale_limit(server, tracked):
    """A connection that stops answering (a hung server, a network cut that sends
    nothing back) is trusted no longer than STALE after its last PONG."""
    private, client = server
    fetch(tracked, client, KEY)
    assert tracked.get([KEY]) == [False]

    os.kill(private.process.pid, signal.SIGSTOP)
    try:
        time.sleep(tracking.STALE * 2)
        assert tracked.get([KEY]) is None  # its PING went unanswered: dropped
    finally:
        os.kill(private.process.pid, signal.SIGCONT)

    assert eventually(lambda: tracked.get([]) == [])
    assert tracked.get([KEY]) is None


def test_a_server_that_refuses_tracking_leaves_no_copy(redis_server_factory):
    refusing = redis_server_factory("--rename-command", "CLIENT", "")
    client = redis.Redis.from_url(refusing.url)
    pool = redis.ConnectionPool.from_url(refusing.url)
    keys = TrackedKeys(pool, PREFIX)
    try:
        epoch = keys.epoch
        keys.remember(epoch, {KEY: False})

        assert keys.get([KEY]) is None
        assert keys.get([]) is None
    finally:
        keys.close()
        pool.disconnect()
        client.close()


def test_the_copy_is_bounded(server, tracked, monkeypatch):
    _, client = server
    monkeypatch.setattr(tracking, "MAX_KEYS", 2)
    fetch(tracked, client, KEY, OTHER)

    fetch(tracked, client, b"app:1:marks:sid:three")

    assert tracked.get([b"app:1:marks:sid:three"]) == [False]
    assert tracked.get([KEY]) is None


# --- what a tracking connection may send: a server of the test's own that says it ------


class FakeRedis:
    """A stand-in for Redis on a free port of 127.0.0.1 that sends what a test scripts,
    including what a real Redis would not: enough RESP for redis-py's ``connect()`` and
    for TrackedKeys, each connection served by a thread of its own.

    A command is answered by ``replies``, looked up by its first two words, then by its
    first word (``b"CLIENT TRACKING"``, ``b"PING"``): the bytes to send, or None to
    close the connection instead. Unscripted, HELLO gets the map that says RESP3, PING
    gets PONG and anything else OK. ``send`` writes to the newest connection unasked (a
    TrackedKeys holds one at a time), and ``commands`` lists every command received.
    """

    DEFAULT = {b"HELLO": b"%1\r\n$5\r\nproto\r\n:3\r\n", b"PING": b"+PONG\r\n"}

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.replies: dict[bytes, bytes | None] = {}
        self.commands: list[list[bytes]] = []
        self.connections: list[socket.socket] = []
        self._lock = threading.Lock()  # one writer at a time: a reply or a ``send``
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def send(self, data: bytes) -> None:
        with self._lock:
            self.connections[-1].sendall(data)

    def close(self) -> None:
        self._stop.set()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            connection.settimeout(None)
            self.connections.append(connection)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as stream:
            with contextlib.suppress(OSError, ValueError):  # the client hung up
                while words := self._read_command(stream):
                    self.commands.append(words)
                    reply = self._reply(words)
                    if reply is None:
                        connection.shutdown(socket.SHUT_RDWR)
                        return
                    with self._lock:
                        connection.sendall(reply)

    def _reply(self, words: list[bytes]) -> bytes | None:
        for name in (b" ".join(words[:2]).upper(), words[0].upper()):
            if name in self.replies:
                return self.replies[name]
        return self.DEFAULT.get(words[0].upper(), b"+OK\r\n")

    @staticmethod
    def _read_command(stream) -> list[bytes]:
        """One command (an array of bulk strings); empty when the client hung up."""
        header = stream.readline()
        if not header:
            return []
        words = []
        for _ in range(int(header[1:])):
            length = int(stream.readline()[1:])
            words.append(stream.read(length + 2)[:-2])
        return words


INVALIDATE_ALL = b">2\r\n$10\r\ninvalidate\r\n_\r\n"
MESSAGE = b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n"  # a push not asked for


@pytest.fixture
def fake():
    server = FakeRedis()
    yield server
    server.close()


@pytest.fixture
def fake_tracked(fake):
    """TrackedKeys of the fake server, not connected yet (a test scripts first)."""
    pool = redis.ConnectionPool.from_url(fake.url)
    keys = TrackedKeys(pool, PREFIX)
    yield keys
    keys.close()
    pool.disconnect()


@pytest.fixture
def every_get_pings(monkeypatch):
    """Every ``get`` waits for a PONG: whatever the server sent before it has been read
    by the time ``get`` returns."""
    monkeypatch.setattr(tracking, "STALE", -1.0)


def remembered(keys):
    """Connect ``keys`` and have it remember that KEY is absent."""
    assert keys.get([]) == []
    keys.remember(keys.epoch, {KEY: False})
    assert keys.get([KEY]) == [False]


@pytest.mark.parametrize(
    "push",
    # The long one comes in pieces: more than one read of the socket can hold.
    [INVALIDATE_ALL, b">2\r\n$7\r\nmessage\r\n$70000\r\n" + b"x" * 70000 + b"\r\n"],
    ids=["invalidate", "long message"],
)
@pytest.mark.parametrize(
    "reply, connected", [(b"+OK\r\n", True), (b"-ERR no\r\n", False)], ids=["OK", "refused"]
)
def test_a_push_before_the_reply_to_tracking_is_passed_over(
    fake, fake_tracked, push, reply, connected
):
    fake.replies[b"CLIENT TRACKING"] = push + reply

    assert (fake_tracked.get([]) == []) is connected


def test_a_connection_closed_while_connecting_leaves_no_copy(fake, fake_tracked):
    fake.replies[b"CLIENT TRACKING"] = None

    assert fake_tracked.get([]) is None
    assert [b"CLIENT", b"TRACKING"] in [words[:2] for words in fake.commands]


@pytest.mark.parametrize(
    "reply",
    [None, b"?x\r\n", b"+OK\r\n+PONG\r\n", b"-ERR x\r\n+PONG\r\n"],
    ids=["closed", "not RESP", "OK", "error"],
)
def test_a_ping_answered_by_anything_but_pong_forgets_everything(
    fake, fake_tracked, every_get_pings, reply
):
    remembered(fake_tracked)

    fake.replies[b"PING"] = reply
    assert fake_tracked.get([KEY]) is None
    del fake.replies[b"PING"]  # the server behaves again

    assert eventually(lambda: fake_tracked.get([]) == [])  # connected again
    assert fake_tracked.get([KEY]) is None


def test_a_pong_for_no_ping_forgets_everything(fake, fake_tracked):
    remembered(fake_tracked)

    fake.send(b"+PONG\r\n")

    assert eventually(lambda: fake_tracked.get([KEY]) is None)


def test_a_push_other_than_invalidate_changes_nothing(fake, fake_tracked, every_get_pings):
    remembered(fake_tracked)
    epoch = fake_tracked.epoch

    fake.replies[b"PING"] = MESSAGE + b"+PONG\r\n"
    assert fake_tracked.get([KEY]) == [False]
    assert fake_tracked.epoch == epoch

    fake.replies[b"PING"] = INVALIDATE_ALL + b"+PONG\r\n"  # heard the same way
    assert fake_tracked.get([KEY]) is None


# --- RESP ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message, value",
    [
        (b"+OK\r\n", b"OK"),
        (b":42\r\n", 42),
        (b"$3\r\nabc\r\n", b"abc"),
        (b"$-1\r\n", None),
        (b"_\r\n", None),
        (b"*2\r\n$1\r\na\r\n:1\r\n", [b"a", 1]),
        (b"*-1\r\n", None),
        (b"%1\r\n+server\r\n+redis\r\n", [b"server", b"redis"]),
        (b">2\r\n$10\r\ninvalidate\r\n_\r\n", [b"invalidate", None]),
        (b"#t\r\n", True),
        (b",1.5\r\n", 1.5),
        (b"(123\r\n", b"123"),
        (b"=8\r\ntxt:abcd\r\n", b"txt:abcd"),
        (b"|1\r\n+key\r\n+val\r\n+OK\r\n", b"OK"),  # an attribute, then the reply
    ],
)
def test_resp_messages_are_parsed(message, value):
    parsed, end = tracking._parse(message, 0)
    assert parsed == value
    assert end == len(message)


@pytest.mark.parametrize("message", [b"$3\r\nab", b"*2\r\n:1\r\n", b"+OK"])
def test_an_incomplete_message_waits_for_more(message):
    with pytest.raises(tracking.Incomplete):
        tracking._parse(message, 0)


@pytest.mark.parametrize(
    "message, text",
    [(b"-ERR unknown command\r\n", "ERR unknown command"), (b"!5\r\nERROR\r\n", "ERROR")],
)
def test_an_error_reply_is_an_error(message, text):
    parsed, _ = tracking._parse(message, 0)
    assert isinstance(parsed, tracking.ReplyError)
    assert str(parsed) == text


@pytest.mark.parametrize("message", [b"\r\n", b"?x\r\n"], ids=["empty", "unknown type"])
def test_what_is_not_resp_is_refused(message):
    with pytest.raises(tracking.ProtocolError):
        tracking._parse(message, 0)
