"""Build what the benchmarks run on: key pairs, a migrated SQLite file, bulk rows.

Rows go in through the raw sqlite3 connection in large ``executemany`` batches
(millions of ORM saves would take longer than the whole suite). The column list
comes from the models themselves, so a column added later gets its field
default instead of breaking the build.

Run inside a configured Django process (``python -m benchmarks.scenarios build``).
"""

from __future__ import annotations

import random
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

BATCH = 20_000
USERS = 1_000
# Of every 10 issued rows, 3 are login links and 7 refresh tokens (rotations).
LOGIN_SHARE = 0.3


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


def migrated_copy(template: Path, target: Path, env: dict[str, str]) -> None:
    """``target`` as a freshly migrated database (the template is migrated once)."""
    if not template.exists():
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "-v", "0"],
            env={**env, "BENCH_DB": str(template)},
            check=True,
        )
    shutil.copyfile(template, target)


def _sqlite_time(value: datetime) -> str:
    # Django's SQLite backend stores aware datetimes as naive UTC text.
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ")


def _columns(model: Any, known: dict[str, Any]) -> tuple[list[str], list[Any]]:
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


def _insert(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    from django.db import connection

    raw = connection.connection
    marks = ", ".join("?" for _ in columns)
    raw.executemany(f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})', rows)


def build(rows: int, expired_share: float, which: str, seed: int = 7) -> dict[str, Any]:
    """Add ``USERS`` users and ``rows`` token rows (``which``: "jwt-email" issued
    tokens, "simplejwt" outstanding tokens, or "both"), ``expired_share`` expired."""
    from django.db import connection

    rng = random.Random(seed)
    connection.ensure_connection()
    raw = connection.connection
    # Building only: no syncs, a large page cache. The file keeps SQLite's defaults.
    raw.execute("PRAGMA synchronous = OFF")
    raw.execute("PRAGMA cache_size = -512000")
    user_ids = _add_users(rng)
    tables = ["django_jwt_email_issuedtoken", "token_blacklist_outstandingtoken"]
    # Indexes are built faster once, from sorted rows, than row by row: set the
    # migrations' own CREATE INDEX statements aside and run them after the rows.
    indexes = raw.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({', '.join('?' for _ in tables)})",
        tables,
    ).fetchall()
    # Django runs SQLite in autocommit: one explicit transaction for the bulk rows.
    raw.execute("BEGIN")
    for name, _ in indexes:
        raw.execute(f'DROP INDEX "{name}"')
    now = datetime.now(timezone.utc)
    expired = int(rows * expired_share)
    if which in ("jwt-email", "both"):
        _add_issued(rng, rows, expired, user_ids, now)
    if which in ("simplejwt", "both"):
        _add_outstanding(rng, rows, expired, user_ids, now)
    for _, sql in indexes:
        raw.execute(sql)
    raw.commit()
    raw.execute("ANALYZE")
    raw.execute("PRAGMA synchronous = FULL")
    return {"rows": rows, "expired": expired, "users": len(user_ids)}


def _add_users(rng: random.Random) -> list[int]:
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


def _add_issued(
    rng: random.Random, rows: int, expired: int, user_ids: list[int], now: datetime
) -> None:
    from django_jwt_email.models import IssuedToken

    known = {
        "jti", "kind", "user_id", "sid", "email_hash", "issued_at", "expires_at",
        "used_at", "revoked_at", "ip", "user_agent",
    }  # fmt: skip
    columns, fixed = _columns(IssuedToken, known)
    position = {name: i for i, name in enumerate(columns)}
    sid = secrets.token_urlsafe(24)
    batch: list[tuple[Any, ...]] = []
    for n, (issued, expires, login) in enumerate(_timeline(rng, rows, expired, now)):
        if n % 5 == 0:
            sid = secrets.token_urlsafe(24)
        row = list(fixed)
        row[position["jti"]] = secrets.token_urlsafe(24)
        row[position["kind"]] = "login" if login else "refresh"
        row[position["user_id"]] = rng.choice(user_ids)
        row[position["sid"]] = "" if login else sid
        row[position["email_hash"]] = secrets.token_hex(32) if login else ""
        row[position["issued_at"]] = _sqlite_time(issued)
        row[position["expires_at"]] = _sqlite_time(expires)
        # Most links were redeemed and most refresh tokens rotated.
        row[position["used_at"]] = _sqlite_time(issued) if rng.random() < 0.7 else None
        row[position["revoked_at"]] = None
        row[position["ip"]] = "127.0.0.1"
        row[position["user_agent"]] = "bench"
        batch.append(tuple(row))
        if len(batch) >= BATCH:
            _insert(IssuedToken._meta.db_table, columns, batch)
            batch = []
    if batch:
        _insert(IssuedToken._meta.db_table, columns, batch)


def _timeline(
    rng: random.Random, rows: int, expired: int, now: datetime, login_share: float = LOGIN_SHARE
) -> Iterator[tuple[datetime, datetime, bool]]:
    """(issued, expires, is_login) in issue order, as a real table fills: the oldest
    ``expired`` rows expired between 30 days and 1 day ago; the rest are refresh
    tokens that expire between 1 and 14 days from now (a live login link lives
    10 minutes: too few to matter, and a built file is reused for hours)."""
    refresh_ttl = timedelta(days=14)
    for n in range(rows):
        if n < expired:
            login = rng.random() < login_share
            ttl = timedelta(minutes=10) if login else refresh_ttl
            expires = now - timedelta(days=30) + timedelta(days=29) * (n / max(expired, 1))
        else:
            login, ttl = False, refresh_ttl
            share = (n - expired + 1) / max(rows - expired, 1)
            expires = now + timedelta(days=1) + timedelta(days=12, hours=23) * share
        yield expires - ttl, expires, login


def _add_outstanding(
    rng: random.Random, rows: int, expired: int, user_ids: list[int], now: datetime
) -> None:
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    columns = ["user_id", "jti", "token", "created_at", "expires_at"]
    # simplejwt stores the whole token; an ES256 refresh token of its is ~280 bytes.
    filler = secrets.token_urlsafe(210)
    batch: list[tuple[Any, ...]] = []
    for created, expires, _ in _timeline(rng, rows, expired, now, login_share=0.0):
        batch.append(
            (
                rng.choice(user_ids),
                secrets.token_hex(16),
                filler,
                _sqlite_time(created),
                _sqlite_time(expires),
            )
        )
        if len(batch) >= BATCH:
            _insert(OutstandingToken._meta.db_table, columns, batch)
            batch = []
    if batch:
        _insert(OutstandingToken._meta.db_table, columns, batch)
