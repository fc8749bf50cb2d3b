"""Outages: which errors mean "a dependency is down", and warnings about one that are
logged at most once a minute per process. No HTTP and no flow logic here.

A database that cannot be reached (connection refused, server shutting down,
connection lost) is an outage: the request is answered 503 and may be retried. A
deadlock, a serialisation failure, a constraint or a bad query is not an outage:
those are conflicts or bugs, and are answered as they always were.
"""

from __future__ import annotations

import logging
import time
from threading import Lock

from django.db import InterfaceError, OperationalError

__all__ = ["is_outage", "warn_once_a_minute"]

logger = logging.getLogger("django_jwt_email")

# SQLSTATE classes of a lost or refused connection (08) and of a server out of
# resources (53: too many connections, out of memory, disk full), and the states of
# a server shutting down or starting.
OUTAGE_SQLSTATE_PREFIXES = ("08", "53")
OUTAGE_SQLSTATES = {"57P01", "57P02", "57P03"}  # admin shutdown, crash shutdown, starting up
# MySQL/MariaDB client errors: cannot connect, server gone away, connection lost.
MYSQL_OUTAGE_ERRORS = {2002, 2003, 2005, 2006, 2013, 2055}
# SQLite reports a missing or unreadable database file, never a lost connection.
SQLITE_OUTAGE_MESSAGES = ("unable to open database", "disk i/o error")


def is_outage(exc: BaseException) -> bool:
    """Whether a database error means the database cannot be reached."""
    if isinstance(exc, InterfaceError):  # the connection is already closed
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate:
        return sqlstate.startswith(OUTAGE_SQLSTATE_PREFIXES) or sqlstate in OUTAGE_SQLSTATES
    if type(cause).__module__.startswith(("psycopg", "psycopg2")):
        # No SQLSTATE from PostgreSQL's driver: the client could not talk to the
        # server at all (refused, timed out, closed unexpectedly).
        return True
    args = getattr(cause, "args", ())
    if args and isinstance(args[0], int):
        return args[0] in MYSQL_OUTAGE_ERRORS
    message = str(cause).lower()
    return any(text in message for text in SQLITE_OUTAGE_MESSAGES)


_last_warned: dict[str, float] = {}
_lock = Lock()


def warn_once_a_minute(key: str, message: str, *args: object) -> None:
    """Log a warning about ``key`` unless one was logged in the last minute: an outage
    must be seen in the logs, but not once per request."""
    now = time.monotonic()
    with _lock:
        if now - _last_warned.get(key, -60.0) < 60.0:
            return
        _last_warned[key] = now
    logger.warning(message, *args)
