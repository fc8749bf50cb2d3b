"""A process's tracked copy of Redis's answers (``tracking.TrackedKeys``), against a real
Redis server of the test's own: answers are given without asking Redis, and every
change, flush, lost or silent connection drops them. Waits are polled; nothing is
timed."""

import os
import signal
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


@pytest.mark.parametrize(
    "message, value",
    [
        (b"+OK\r\n", b"OK"),
        (b":42\r\n", 42),
        (b"$3\r\nabc\r\n", b"abc"),
        (b"$-1\r\n", None),
        (b"_\r\n", None),
        (b"*2\r\n$1\r\na\r\n:1\r\n", [b"a", 1]),
        (b"%1\r\n+server\r\n+redis\r\n", [b"server", b"redis"]),
        (b">2\r\n$10\r\ninvalidate\r\n_\r\n", [b"invalidate", None]),
        (b"#t\r\n", True),
        (b",1.5\r\n", 1.5),
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


def test_an_error_reply_is_an_error():
    parsed, _ = tracking._parse(b"-ERR unknown command\r\n", 0)
    assert isinstance(parsed, tracking.ReplyError)
