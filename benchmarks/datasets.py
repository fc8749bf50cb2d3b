"""Build what the benchmarks run on: key pairs, migrated databases, bulk rows.

Two engines, the same rows: PostgreSQL (the headline: databases created from a
migrated template and dropped at the end of the run) and SQLite (files kept in
results/data/ for a day). Rows go in through the raw connection, ``COPY`` on
PostgreSQL and large ``executemany`` batches on SQLite, with the indexes and
constraints set aside and built once afterwards from sorted data (millions of
ORM saves would take longer than the whole suite). The column lists come from
the models, so a column added later gets its field default instead of breaking
the build.

What a "row" is: this app keeps a login link (``IssuedToken``) and a sign-in
session (``SignInSession``) per sign-in, so ``rows`` of its rows are half links
and half sessions; simplejwt keeps an ``OutstandingToken`` per refresh token, so
it gets ``rows`` of those. Both tables follow the same timeline: the oldest
``expired_share`` expired between 30 days and a day ago, the others expire
between 1 and 14 days from now.

``build`` runs inside a configured Django process
(``python -m benchmarks.scenarios build``); the database helpers run in the runner.
"""

from __future__ import annotations

import random
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

BATCH = 20_000
USERS = 1_000
# Databases this suite creates on the PostgreSQL server, and only those, start with it.
PG_PREFIX = "djwe_bench_"


def write_keys(key_dir: Path) -> None:
    """ES256 key pairs: one for django-jwt-email, one for simplejwt."""
    key_dir.mkdir(parents=True, exist_ok=True)
    for name in ("es256", "simplejwt-es256"):
        path = key_dir / f"{name}.pem"
        if path.exists():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (key_dir / f"{name}.pub.pem").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def migrate(env: dict[str, str]) -> None:
    """Run the migrations on the database ``env`` names."""
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v", "0"], env=env, check=True)


def migrated_copy(template: Path, target: Path, env: dict[str, str]) -> None:
    """SQLite: ``target`` as a freshly migrated file (the template is migrated once)."""
    if not template.exists():
        migrate({**env, "BENCH_DB": str(template)})
    shutil.copyfile(template, target)


# --- PostgreSQL databases: created from templates, dropped at the end ----------------


class Postgres:
    """The runner's handle on the PostgreSQL server: create, copy and drop the
    suite's databases (every name starts with ``PG_PREFIX``)."""

    def __init__(self, address: str) -> None:
        host, _, port = address.partition(":")
        self.host, self.port = host, int(port or 5432)

    def _execute(self, *statements: str) -> list[Any]:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            rows: list[Any] = []
            for statement in statements:
                cursor = connection.execute(statement)
                if cursor.description:
                    rows.extend(cursor.fetchall())
            return rows

    def names(self) -> list[str]:
        rows = self._execute(
            f"SELECT datname FROM pg_database WHERE datname LIKE '{PG_PREFIX}%' ORDER BY 1"
        )
        return [row[0] for row in rows]

    def create(self, name: str, template: str | None = None) -> str:
        """A new database ``name`` (empty, or a copy of ``template``: a file copy,
        which is what makes a fresh 1M-row database for every cleanup run cheap)."""
        self._check(name)
        self.drop(name)
        if template is None:
            self._execute(f'CREATE DATABASE "{name}"')
        else:
            self._check(template)
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return name

    def drop(self, name: str) -> None:
        self._check(name)
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        for name in self.names():
            self.drop(name)

    @staticmethod
    def _check(name: str) -> None:
        if not name.startswith(PG_PREFIX) or not name.replace("_", "").isalnum():
            raise ValueError(f"not a benchmark database name: {name!r}")


# --- rows ---------------------------------------------------------------------------


def _columns(model: Any, known: Iterable[str]) -> tuple[list[str], list[Any]]:
    """Every concrete column but the pk; fixed values for the ones not in ``known``."""
    from django.db import connection

    names, fixed = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(field.column)
        fixed.append(
            None
            if field.column in known
            else field.get_db_prep_save(field.get_default(), connection)
        )
    return names, fixed


def _db_time(value: datetime) -> Any:
    from django.db import connection

    if connection.vendor == "sqlite":
        # Django's SQLite backend stores aware datetimes as naive UTC text.
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ")
    return value


class _Loader:
    """Bulk rows into tables whose secondary indexes and constraints are set aside
    first and rebuilt at the end, in one transaction (SQLite) or with COPY (PostgreSQL)."""

    def __init__(self, tables: list[str]) -> None:
        from django.db import connection

        connection.ensure_connection()
        self.raw = connection.connection
        self.vendor = connection.vendor
        self.tables = tables
        self.rebuild: list[str] = []

    def __enter__(self) -> _Loader:
        if self.vendor == "sqlite":
            # Building only: no syncs, a large page cache. The file keeps SQLite's defaults.
            self.raw.execute("PRAGMA synchronous = OFF")
            self.raw.execute("PRAGMA cache_size = -512000")
            marks = ", ".join("?" for _ in self.tables)
            indexes = self.raw.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({marks})",
                self.tables,
            ).fetchall()
            # Django runs SQLite in autocommit: one explicit transaction for the rows.
            self.raw.execute("BEGIN")
            for name, sql in indexes:
                self.raw.execute(f'DROP INDEX "{name}"')
                self.rebuild.append(sql)
            return self
        with self.raw.cursor() as cursor:
            for table in self.tables:
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
                    [table],
                )
                constraints = cursor.fetchall()
                cursor.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                    "AND indexname NOT IN (SELECT conname FROM pg_constraint "
                    "WHERE conrelid = %s::regclass)",
                    [table, table],
                )
                indexes = cursor.fetchall()
                for name, definition in indexes:
                    cursor.execute(f'DROP INDEX "{name}"')
                    self.rebuild.append(definition)
                for name, definition in constraints:
                    cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                    self.rebuild.append(
                        f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'
                    )
        self.raw.commit()
        return self

    def insert(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
        names = ", ".join(f'"{column}"' for column in columns)
        if self.vendor == "sqlite":
            marks = ", ".join("?" for _ in columns)
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    self.raw.executemany(
                        f'INSERT INTO "{table}" ({names}) VALUES ({marks})', batch
                    )
                    batch = []
            if batch:
                self.raw.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', batch)
            return
        with (
            self.raw.cursor() as cursor,
            cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(row)
        self.raw.commit()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return
        if self.vendor == "sqlite":
            for sql in self.rebuild:
                self.raw.execute(sql)
            self.raw.commit()
            self.raw.execute("ANALYZE")
            self.raw.execute("PRAGMA synchronous = FULL")
            return
        with self.raw.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for sql in self.rebuild:
                cursor.execute(sql)
        self.raw.commit()
        # Hint bits and the visibility map set now, once, rather than by the first
        # queries of every copy of this database.
        self.raw.autocommit = True
        with self.raw.cursor() as cursor:
            for table in self.tables:
                cursor.execute(f'VACUUM ANALYZE "{table}"')
        self.raw.autocommit = False


def build(rows: int, expired_share: float, which: str, seed: int = 7) -> dict[str, Any]:
    """Add ``USERS`` users and ``rows`` rows of each app (``which``: "jwt-email",
    "simplejwt" or "both"), the oldest ``expired_share`` of them expired."""
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from django_jwt_email.models import IssuedToken, SignInSession

    rng = random.Random(seed)
    user_ids = _add_users()
    now = datetime.now(timezone.utc)
    tables = []
    if which in ("jwt-email", "both"):
        tables += [IssuedToken._meta.db_table, SignInSession._meta.db_table]
    if which in ("simplejwt", "both"):
        tables.append(OutstandingToken._meta.db_table)
    with _Loader(tables) as loader:
        if which in ("jwt-email", "both"):
            links, sessions = rows // 2, rows - rows // 2
            _add_links(loader, rng, links, int(links * expired_share), user_ids, now)
            _add_sessions(loader, rng, sessions, int(sessions * expired_share), user_ids, now)
        if which in ("simplejwt", "both"):
            _add_outstanding(loader, rng, rows, int(rows * expired_share), user_ids, now)
    return {"rows": rows, "expired_share": expired_share, "users": len(user_ids)}


def _add_users() -> list[int]:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    start = user_model.objects.count()
    user_model.objects.bulk_create(
        [
            user_model(username=f"bulk{start + n}", email=f"bulk{start + n}@example.com")
            for n in range(USERS)
        ],
        batch_size=500,
    )
    return list(user_model.objects.values_list("pk", flat=True))


def _timeline(
    rows: int, expired: int, now: datetime, ttl: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    """(issued, expires) in issue order, as a real table fills: the oldest ``expired``
    rows expired between 30 days and a day ago; the others expire between 1 and 14
    days from now (a built SQLite file is reused for hours: nothing live may expire
    meanwhile)."""
    for n in range(rows):
        if n < expired:
            expires = now - timedelta(days=30) + timedelta(days=29) * (n / max(expired, 1))
        else:
            share = (n - expired + 1) / max(rows - expired, 1)
            expires = now + timedelta(days=1) + timedelta(days=12, hours=23) * share
        yield expires - ttl, expires


def _add_links(
    loader: _Loader,
    rng: random.Random,
    rows: int,
    expired: int,
    user_ids: list[int],
    now: datetime,
) -> None:
    from django_jwt_email.models import IssuedToken
    from django_jwt_email.tokens import new_id

    columns, fixed = _columns(
        IssuedToken,
        ("jti", "user_id", "email_hash", "issued_at", "expires_at", "used_at", "ip", "user_agent"),
    )
    position = {name: i for i, name in enumerate(columns)}

    def generate() -> Iterator[tuple[Any, ...]]:
        for issued, expires in _timeline(rows, expired, now, timedelta(minutes=10)):
            row = list(fixed)
            row[position["jti"]] = new_id(issued.timestamp())
            row[position["user_id"]] = rng.choice(user_ids)
            row[position["email_hash"]] = secrets.token_hex(32)
            row[position["issued_at"]] = _db_time(issued)
            row[position["expires_at"]] = _db_time(expires)
            # Most links were redeemed.
            row[position["used_at"]] = _db_time(issued) if rng.random() < 0.7 else None
            row[position["ip"]] = "127.0.0.1"
            row[position["user_agent"]] = "bench"
            yield tuple(row)

    loader.insert(IssuedToken._meta.db_table, columns, generate())


def _add_sessions(
    loader: _Loader,
    rng: random.Random,
    rows: int,
    expired: int,
    user_ids: list[int],
    now: datetime,
) -> None:
    from django_jwt_email.models import SignInSession
    from django_jwt_email.tokens import new_id

    columns, fixed = _columns(
        SignInSession,
        (
            "sid", "user_id", "generation", "created_at", "expires_at", "refreshed_at",
            "refresh_count", "ip", "user_agent", "login_jti",
        ),
    )  # fmt: skip
    position = {name: i for i, name in enumerate(columns)}

    def generate() -> Iterator[tuple[Any, ...]]:
        for created, expires in _timeline(rows, expired, now, timedelta(days=14)):
            refreshes = rng.randrange(0, 50)
            row = list(fixed)
            row[position["sid"]] = new_id(created.timestamp())
            row[position["user_id"]] = rng.choice(user_ids)
            row[position["generation"]] = refreshes
            row[position["created_at"]] = _db_time(created)
            row[position["expires_at"]] = _db_time(expires)
            row[position["refreshed_at"]] = _db_time(created) if refreshes else None
            row[position["refresh_count"]] = refreshes
            row[position["ip"]] = "127.0.0.1"
            row[position["user_agent"]] = "bench"
            row[position["login_jti"]] = new_id(created.timestamp())
            yield tuple(row)

    loader.insert(SignInSession._meta.db_table, columns, generate())


def _add_outstanding(
    loader: _Loader,
    rng: random.Random,
    rows: int,
    expired: int,
    user_ids: list[int],
    now: datetime,
) -> None:
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    columns = ["user_id", "jti", "token", "created_at", "expires_at"]
    # simplejwt stores the whole token; an ES256 refresh token of its is ~280 bytes.
    filler = secrets.token_urlsafe(210)

    def generate() -> Iterator[tuple[Any, ...]]:
        for created, expires in _timeline(rows, expired, now, timedelta(days=14)):
            yield (
                rng.choice(user_ids),
                secrets.token_hex(16),
                filler,
                _db_time(created),
                _db_time(expires),
            )

    loader.insert(OutstandingToken._meta.db_table, columns, generate())
