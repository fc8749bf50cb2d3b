"""Which database errors mean "the database cannot be reached" (``is_outage``: the
views answer those 503 with Retry-After) and which are the query's own fault (they
stay errors a developer sees). The driver errors are real ones: a connection refused
by PostgreSQL's driver, a database file SQLite cannot open; MySQL's client is not
installed here, so its error is a stand-in with the client's error numbers."""

import logging
import sqlite3

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError

from django_jwt_email.availability import is_outage, warn_once_a_minute

psycopg = pytest.importorskip("psycopg")


def as_django(driver_error, kind=OperationalError):
    """What Django raises for a driver's error: its own class, the driver's as cause."""
    error = kind(*driver_error.args)
    error.__cause__ = driver_error
    return error


def refused_by_postgres():
    try:  # port 1: nothing listens, the driver gets no SQLSTATE
        psycopg.connect("postgresql://postgres@127.0.0.1:1/test", connect_timeout=2)
    except psycopg.OperationalError as exc:
        return exc
    raise AssertionError("a connection to port 1 was accepted")


def unopenable_sqlite(tmp_path):
    try:
        sqlite3.connect(tmp_path / "missing" / "db.sqlite3")
    except sqlite3.OperationalError as exc:
        return exc
    raise AssertionError("SQLite opened a file in a missing directory")


class MySQLError(Exception):
    """Stands in for MySQLdb's errors: ``args`` is (error number, message)."""


def test_a_refused_postgres_connection_is_an_outage():
    assert is_outage(as_django(refused_by_postgres()))


@pytest.mark.parametrize(
    "sqlstate", ["08006", "08001", "53300", "53200", "57P01", "57P02", "57P03"]
)
def test_postgres_states_of_a_lost_full_or_stopping_server_are_outages(sqlstate):
    """The connection lost or refused, too many connections or no memory left, the
    server shutting down or starting: the database cannot serve this request now."""
    error = psycopg.errors.lookup(sqlstate)("server closed the connection")

    assert is_outage(as_django(error))


@pytest.mark.parametrize("sqlstate", ["55P03", "57014", "40P01", "40001"])
def test_postgres_states_of_the_query_are_not_outages(sqlstate):
    """A lock not available, a cancelled statement, a deadlock, a serialisation
    failure: the server answered, so the request failed for another reason."""
    error = psycopg.errors.lookup(sqlstate)("refused")

    assert not is_outage(as_django(error))


def test_an_unopenable_sqlite_file_is_an_outage(tmp_path):
    assert is_outage(as_django(unopenable_sqlite(tmp_path)))


def test_a_locked_sqlite_database_is_not_an_outage():
    assert not is_outage(as_django(sqlite3.OperationalError("database is locked")))


@pytest.mark.parametrize("number", [2002, 2003, 2006, 2013])
def test_mysql_connection_errors_are_outages(number):
    assert is_outage(as_django(MySQLError(number, "MySQL server has gone away")))


def test_other_mysql_errors_are_not_outages():
    assert not is_outage(as_django(MySQLError(1205, "Lock wait timeout exceeded")))


def test_a_closed_connection_is_an_outage():
    assert is_outage(InterfaceError("connection already closed"))


def test_errors_that_are_not_operational_are_not_outages():
    assert not is_outage(as_django(sqlite3.IntegrityError("UNIQUE failed"), IntegrityError))
    assert not is_outage(ValueError("not a database error"))


def test_an_outage_is_logged_once_a_minute(caplog):
    with caplog.at_level(logging.WARNING, logger="django_jwt_email"):
        warn_once_a_minute("test_availability", "database unreachable (%s)", "first")
        warn_once_a_minute("test_availability", "database unreachable (%s)", "second")

    assert [record.getMessage() for record in caplog.records] == ["database unreachable (first)"]
