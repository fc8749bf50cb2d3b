"""Fixtures of the security suite only: a file SQLite database for races between threads."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connections


@pytest.fixture
def threaded_db(transactional_db, tmp_path):
    """Run the test on a SQLite *file* database that threads can share, as a site's would.

    The suite's SQLite test database lives in memory with a shared cache, where a
    writer blocked by another gets "database table is locked" at once instead of
    waiting its turn (as SQLite does on a file): a race there tests the test
    database, not the app. Every thread's connection reads the same settings
    dict, so pointing it at a file moves them all; the in-memory connection is
    put back afterwards. On PostgreSQL nothing changes.
    """
    connection = connections["default"]
    if connection.vendor != "sqlite":
        yield
        return
    settings_dict = connection.settings_dict
    saved_name, saved_connection = settings_dict["NAME"], connection.connection
    connection.connection = None
    settings_dict["NAME"] = str(tmp_path / "race.sqlite3")
    try:
        call_command("migrate", verbosity=0)
        yield
    finally:
        connection.close()
        settings_dict["NAME"] = saved_name
        connection.connection = saved_connection
