"""A process's copy of what Redis answered about some keys, kept exact by Redis itself.

Redis 6+ can tell a client about every change to keys under a prefix
(server-assisted invalidation, ``CLIENT TRACKING ON BCAST PREFIX``): a write, a
delete, an expiry, an eviction, a flush. ``TrackedKeys`` holds one connection of
its own with tracking on, and remembers answers (is the key there?) until Redis
says the key changed. Nothing is trusted that the connection cannot vouch for:

- a lost connection (or one that fails in any way) drops every answer at once;
- answers are used only while a PING sent less than ``STALE`` seconds ago has
  been answered. Redis sends a connection its invalidations in order, so the PONG
  proves that every change Redis made before it read the PING has been applied
  here: a change is never missed for longer than ``STALE``, even on a connection
  that died silently;
- an answer fetched elsewhere (another connection) is remembered only if no
  invalidation arrived meanwhile (``epoch``), so a change that raced the fetch is
  never hidden.

The connection is redis-py's (TLS, authentication and the rest of the cache's
options apply); only its socket is read here, without blocking, because every
authenticated request drains it and redis-py's reading of pushed messages
differs across its versions. No Django and no app logic: ``revocation`` decides
what to ask and what the answers mean.
"""

from __future__ import annotations

import contextlib
import os
import select
import ssl
import time
from collections import deque
from collections.abc import Iterable, Sequence
from threading import Lock
from typing import Any

__all__ = ["TrackedKeys"]

# Seconds an answer stays usable after the last PING answered (see above), and
# between PINGs sent (without waiting) while requests keep coming.
STALE = 0.1
HEARTBEAT = 0.04
# Seconds to wait for Redis when connecting or when a PING must be answered now.
TIMEOUT = 0.5
# Seconds before connecting again after a failure, and after Redis refused tracking
# (older than 6, or the command disabled): meanwhile every question goes to Redis.
RETRY = 1.0
RETRY_UNSUPPORTED = 60.0
# Answers remembered at most; beyond it the copy starts again, empty.
MAX_KEYS = 100_000

PING = b"*1\r\n$4\r\nPING\r\n"


class TrackedKeys:
    """Remembered answers about keys under ``prefix`` of the Redis of ``pool`` (a
    redis-py ConnectionPool), for one process; safe to share between its threads."""

    def __init__(self, pool: Any, prefix: str) -> None:
        self.pid = os.getpid()
        self._pool = pool
        self.prefix = prefix.encode()
        self._lock = Lock()
        self._connection: Any = None
        self._socket: Any = None
        self._buffer = b""
        self._known: dict[bytes, bool] = {}
        # Bumped by every invalidation and reset: see ``remember``.
        self.epoch = 0
        self._retry_at = 0.0
        self._pings: deque[float] = deque()  # send times of the PINGs not answered yet
        self._fresh_since = 0.0  # send time of the last PING answered

    # --- what callers use -------------------------------------------------------------

    def get(self, keys: Sequence[bytes]) -> list[bool] | None:
        """The remembered answers for ``keys``, or None if one is unknown or the copy
        cannot be trusted now (then ask Redis, and ``remember`` its answer)."""
        with self._lock:
            if not self._ready():
                return None
            try:
                return [self._known[key] for key in keys]
            except KeyError:
                return None

    def remember(self, epoch: int, answers: dict[bytes, bool]) -> None:
        """Keep answers fetched after ``epoch`` was read, unless an invalidation came
        in since (it may be about a change the fetch did not see)."""
        with self._lock:
            if self._socket is None or not self._drained():
                return
            if epoch != self.epoch:
                return
            if len(self._known) + len(answers) > MAX_KEYS:
                self._known.clear()
            self._known.update(answers)

    def forget(self, keys: Iterable[bytes]) -> None:
        """Drop answers about ``keys`` now (this process just changed them: Redis's
        invalidation is on its way, but the next request may come first)."""
        with self._lock:
            for key in keys:
                self._known.pop(key, None)
            self.epoch += 1

    def close(self) -> None:
        with self._lock:
            self._close(retry_after=0.0)

    # --- the connection ------------------------------------------------------------------

    def _ready(self) -> bool:
        """Connected, drained, and vouched for by a recent PONG."""
        now = time.monotonic()
        if self._socket is None and (now < self._retry_at or not self._open()):
            return False
        if not self._drained():
            return False
        try:
            if now - self._fresh_since > STALE:
                self._sync()
            elif not self._pings and now - self._fresh_since > HEARTBEAT:
                self._ping()  # answered by the time a later request looks
        except (OSError, ValueError, ProtocolError):
            self._close(RETRY)
            return False
        return True

    def _open(self) -> bool:
        kwargs = dict(self._pool.connection_kwargs)
        kwargs["socket_timeout"] = TIMEOUT
        kwargs["socket_connect_timeout"] = min(
            kwargs.get("socket_connect_timeout") or TIMEOUT, TIMEOUT
        )
        try:
            self._connection = self._pool.connection_class(**kwargs)
            self._connection.connect()  # authentication, TLS: as the cache's own
            self._socket = self._connection._sock  # redis-py's; read here from now on
            self._socket.settimeout(TIMEOUT)
            # RESP3, whatever redis-py chose: then invalidations come on this connection.
            self._request(b"HELLO", b"3")
            self._request(b"CLIENT", b"TRACKING", b"ON", b"BCAST", b"PREFIX", self.prefix)
            self._socket.setblocking(False)
        except ReplyError:  # Redis older than 6, or CLIENT disabled: no copy for a while
            self._close(RETRY_UNSUPPORTED)
            return False
        except Exception:  # refused, timed out, closed: redis-py's errors and OSError
            self._close(RETRY)
            return False
        self._fresh_since = time.monotonic()  # the tracking reply came after every change
        return True

    def _close(self, retry_after: float) -> None:
        """Forget everything: nothing remembered outlives the connection that vouched."""
        connection, self._connection, self._socket = self._connection, None, None
        self._buffer = b""
        self._pings.clear()
        self._known.clear()
        self.epoch += 1
        self._retry_at = time.monotonic() + retry_after
        if connection is not None and self.pid == os.getpid():
            with contextlib.suppress(Exception):  # a broken connection: nothing left to do
                connection.disconnect()

    def _request(self, *words: bytes) -> Any:
        """Send a command and wait (blocking, with a timeout) for its one reply."""
        self._socket.sendall(_command(words))
        while True:
            for message in self._messages():
                if isinstance(message, ReplyError):
                    raise message
                if not isinstance(message, Push):
                    return message
            data = self._socket.recv(65536)
            if not data:
                raise ConnectionError("Redis closed the connection")
            self._buffer += data

    def _ping(self) -> None:
        self._socket.send(PING)  # a few bytes: never blocks on a live connection
        self._pings.append(time.monotonic())

    def _sync(self) -> None:
        """PING and wait for its PONG: every change Redis made before is applied then."""
        self._ping()
        sent = self._pings[-1]
        deadline = sent + TIMEOUT
        while self._fresh_since < sent:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("Redis did not answer a PING")
            _readable(self._socket, remaining)
            if not self._drained():
                raise ConnectionError("the connection to Redis failed")

    def _drained(self) -> bool:
        """Apply whatever Redis sent; False (and everything dropped) if the connection
        is lost or sent something this does not understand."""
        try:
            while True:
                try:
                    data = self._socket.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError):
                    break
                if not data:
                    raise ConnectionError("Redis closed the connection")
                self._buffer += data
            for message in self._messages():
                self._apply(message)
        except (OSError, ValueError, ProtocolError, ReplyError):
            self._close(RETRY)
            return False
        return True

    def _messages(self) -> list[Any]:
        """The complete messages in the buffer, removed from it."""
        messages, position = [], 0
        while position < len(self._buffer):
            try:
                message, position_after = _parse(self._buffer, position)
            except Incomplete:
                break
            messages.append(message)
            position = position_after
        self._buffer = self._buffer[position:]
        return messages

    def _apply(self, message: Any) -> None:
        if isinstance(message, Push):
            if message and message[0] == b"invalidate":
                keys = message[1] if len(message) > 1 else None
                if keys is None:  # FLUSHDB, FLUSHALL: everything
                    self._known.clear()
                else:
                    for key in keys:
                        self._known.pop(key, None)
                self.epoch += 1
            return  # other pushes (none are asked for) change nothing
        if message == b"PONG" and self._pings:
            self._fresh_since = self._pings.popleft()
            return
        if isinstance(message, ReplyError):
            raise message
        raise ProtocolError(f"unexpected reply from Redis: {message!r}")


def _readable(sock: Any, timeout: float) -> bool:
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    return bool(select.select([sock], [], [], timeout)[0])


# --- RESP3, as much of it as the replies above use --------------------------------------


class ProtocolError(Exception):
    """Redis sent something that is not RESP."""


class ReplyError(Exception):
    """Redis answered with an error (``-ERR ...``)."""


class Incomplete(Exception):
    """The buffer ends before the message does."""


class Push(list[Any]):
    """A message Redis pushed without being asked (RESP3 ``>``)."""


def _command(words: Sequence[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(words)]
    for word in words:
        parts.append(b"$%d\r\n%s\r\n" % (len(word), word))
    return b"".join(parts)


def _parse(buffer: bytes, position: int) -> tuple[Any, int]:
    """One RESP2/RESP3 message at ``position``: (value, position after it)."""
    end = buffer.find(b"\r\n", position)
    if end < 0:
        raise Incomplete
    if end == position:
        raise ProtocolError("empty line")
    kind, line, position = buffer[position : position + 1], buffer[position + 1 : end], end + 2
    if kind in (b"+", b"("):  # simple string, big number
        return line, position
    if kind == b"-":
        return ReplyError(line.decode(errors="replace")), position
    if kind == b":":
        return int(line), position
    if kind == b",":
        return float(line), position
    if kind == b"#":
        return line == b"t", position
    if kind == b"_":
        return None, position
    if kind in (b"$", b"=", b"!"):  # bulk string, verbatim string, bulk error
        length = int(line)
        if length < 0:
            return None, position
        if len(buffer) < position + length + 2:
            raise Incomplete
        data = buffer[position : position + length]
        position += length + 2
        if kind == b"!":
            return ReplyError(data.decode(errors="replace")), position
        return data, position
    if kind in (b"*", b">", b"~", b"%", b"|"):  # array, push, set, map, attribute
        count = int(line)
        if count < 0:
            return None, position
        if kind in (b"%", b"|"):
            count *= 2
        items = []
        for _ in range(count):
            item, position = _parse(buffer, position)
            items.append(item)
        if kind == b"|":  # metadata about the reply that follows it
            return _parse(buffer, position)
        return (Push(items) if kind == b">" else items), position
    raise ProtocolError(f"unknown RESP type {kind!r}")
