"""In-process measurements, one per subprocess: ``python -m benchmarks.scenarios NAME``.

Each command configures Django on one database (the environment of
``benchmarks.run``: PostgreSQL or SQLite), does its untimed setup and warm-up,
times what it measures with ``perf_counter`` and prints one
JSON object on stdout. The runner (``benchmarks.run``) interleaves these
processes and turns their samples into medians and ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.benchsite.settings")


def _ms(start: int) -> float:
    return (time.perf_counter_ns() - start) / 1e6


class QueryCounter:
    """``connection.execute_wrapper`` that counts reads, writes and commits.

    A write outside a transaction is its own commit (a disk sync on SQLite);
    writes inside ``atomic()`` count one commit when the outermost block commits.
    """

    def __init__(self) -> None:
        self.reads = self.writes = self.commits = 0
        self.pending = False

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        from django.db import connection, transaction

        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb == "WITH":  # a CTE: a write if any of its parts writes
            words = set(sql.upper().replace("(", " ").split())
            verb = "INSERT" if words & {"INSERT", "UPDATE", "DELETE"} else "SELECT"
        if verb == "SELECT":
            self.reads += 1
        elif verb in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            self.writes += 1
            if not connection.in_atomic_block:
                self.commits += 1
            elif not self.pending:
                self.pending = True
                transaction.on_commit(self._committed)
        return execute(sql, params, many, context)

    def _committed(self) -> None:
        self.commits += 1
        self.pending = False

    def as_dict(self) -> dict[str, int]:
        return {
            "queries": self.reads + self.writes,
            "reads": self.reads,
            "writes": self.writes,
            "commits": self.commits,
        }


def count_queries(call: Callable[[], Any]) -> dict[str, int]:
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        call()
    return counter.as_dict()


# --- setup helpers ---------------------------------------------------------------


def bench_user(email: str) -> Any:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=email, defaults={"email": email, "is_active": True}
    )
    return user


def login_tokens(email: str, count: int) -> list[tuple[str, str]]:
    """``count`` real login links for ``email``, through the request flow (inline
    sender, locmem email backend): (token, link) pairs."""
    from django.core import mail
    from django.test import override_settings

    from django_jwt_email import services

    out = []
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        JWT_EMAIL_EMAIL_SENDER="django_jwt_email.services.deliver_now",
    ):
        mail.outbox = []
        for _ in range(count):
            services.request_link(email)
            body = mail.outbox[-1].body
            link = next(word for word in body.split() if "/auth/verify/?token=" in word)
            out.append((parse_qs(urlsplit(link).query)["token"][0], link))
    return out


def _post(client: Any, path: str, data: dict[str, str]) -> dict[str, Any]:
    response = client.post(path, data, content_type="application/json")
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code} {response.content[:200]!r}")
    body: dict[str, Any] = response.json()
    return body


# --- (b) and (c): redemption and refresh against simplejwt's refresh -------------------


def auth_operations(calls: int) -> dict[str, Callable[[], Any]]:
    """Redeem a login link (auth/token/), refresh a pair (auth/token/refresh/),
    simplejwt's refresh with rotation and blacklist: ``calls`` of each are ready."""
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    user = bench_user("bench-auth@example.com")
    links = [token for token, _ in login_tokens(user.email, calls + 2)]
    client = Client()
    state = {
        "refresh": _post(client, "/auth/token/", {"token": links.pop()})["refresh"],
        "simplejwt": str(RefreshToken.for_user(user)),
    }

    def redeem() -> None:
        _post(client, "/auth/token/", {"token": links.pop()})

    def refresh() -> None:
        state["refresh"] = _post(client, "/auth/token/refresh/", {"refresh": state["refresh"]})[
            "refresh"
        ]

    def simplejwt_refresh() -> None:
        state["simplejwt"] = _post(
            client, "/simplejwt/token/refresh/", {"refresh": state["simplejwt"]}
        )["refresh"]

    return {"redeem": redeem, "refresh": refresh, "simplejwt_refresh": simplejwt_refresh}


def auth_serve(calls: int) -> None:
    """Answer the runner, one line at a time, so that it can interleave calls on two
    databases (two processes) call by call: "time NAME" runs one operation and
    prints its milliseconds; "count" prints the queries of one more call of each as
    JSON; "stop" ends. Prints "ready" once the links are made."""
    operations = auth_operations(calls + 1)
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, name = line.strip().partition(" ")
        if command == "time":
            start = time.perf_counter_ns()
            operations[name]()
            print(_ms(start), flush=True)
        elif command == "count":
            queries = {name: count_queries(operation) for name, operation in operations.items()}
            print(json.dumps(queries), flush=True)
        else:
            return


# --- (d): cleanup of expired rows -----------------------------------------------------


def cleanup(tool: str) -> dict[str, Any]:
    """Time ``jwt_email_cleanup`` or simplejwt's ``flushexpiredtokens`` on this file."""
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from django_jwt_email.models import IssuedToken, SignInSession

    models: list[Any] = [IssuedToken, SignInSession] if tool == "jwt-email" else [OutstandingToken]
    command = "jwt_email_cleanup" if tool == "jwt-email" else "flushexpiredtokens"

    def counts() -> dict[str, int]:
        now = timezone.now()
        return {
            "rows": sum(model.objects.count() for model in models),
            "expired": sum(model.objects.filter(expires_at__lte=now).count() for model in models),
        }

    before = counts()
    output = io.StringIO()
    start = time.perf_counter_ns()
    call_command(command, stdout=output, stderr=output)
    seconds = _ms(start) / 1000
    return {
        "tool": tool,
        "seconds": seconds,
        "before": before,
        "after": counts(),
        "output": output.getvalue()[-500:],
    }


# --- (e): the request endpoint, known vs unknown address --------------------------------


def request(calls: int, sender: str, warmup: int = 3) -> dict[str, Any]:
    """POST auth/request/ for an address with an account and one without, interleaved,
    with an email backend that takes 50 ms."""
    from django.test import Client, override_settings

    senders = {
        "inline": "django_jwt_email.services.deliver_now",
        "celery": "django_jwt_email.tasks.deliver_later",
    }
    if sender == "celery":
        from benchmarks.benchsite.celery import app

        _check_broker(app)
    known = bench_user("known@example.com").email
    addresses = {"known": known, "unknown": "nobody@example.com"}
    client = Client()
    samples: dict[str, list[float]] = {"known": [], "unknown": []}
    with override_settings(
        EMAIL_BACKEND="benchmarks.benchsite.email_backend.SlowEmailBackend",
        JWT_EMAIL_EMAIL_SENDER=senders[sender],
    ):
        for i in range(warmup + calls):
            order = ["known", "unknown"] if i % 2 else ["unknown", "known"]
            for name in order:
                start = time.perf_counter_ns()
                response = client.post(
                    "/auth/request/", {"email": addresses[name]}, content_type="application/json"
                )
                elapsed = _ms(start)
                if response.status_code != 202:
                    raise SystemExit(f"auth/request/: {response.status_code}")
                if i >= warmup:
                    samples[name].append(elapsed)
    result: dict[str, Any] = {"sender": sender, "samples_ms": samples}
    if sender == "celery":
        result["purged"] = _purge(app)
    return result


def _check_broker(app: Any) -> None:
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)


def _purge(app: Any) -> int:
    """Drop the messages this run queued (no worker consumed them)."""
    from django.conf import settings

    with app.connection_for_write() as connection:
        purged: int = connection.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
        return purged


# --- (f): sizes ---------------------------------------------------------------------------


def sizes() -> dict[str, int]:
    from rest_framework_simplejwt.tokens import RefreshToken
    from sesame.utils import get_query_string, get_token

    from django_jwt_email import services
    from django_jwt_email.clientinfo import Client

    user = bench_user("bench-sizes@example.com")
    token, link = login_tokens(user.email, 1)[0]
    pair = services.sign_in_pair(token, client=Client("127.0.0.1", "bench"))
    simplejwt = RefreshToken.for_user(user)
    link_base = link.split("?", 1)[0]
    return {
        "jwt_email_login_token": len(token),
        "jwt_email_link": len(link),
        "jwt_email_access": len(pair.access.token),
        "jwt_email_refresh": len(pair.refresh.token),
        "simplejwt_access": len(str(simplejwt.access_token)),
        "simplejwt_refresh": len(str(simplejwt)),
        "sesame_token": len(get_token(user)),
        "sesame_link": len(link_base + get_query_string(user)),
    }


# --- (a): tokens for the load generator -----------------------------------------------------


def bearer_tokens(cold: int, out: Path) -> dict[str, Any]:
    """One access token of each app for the hot runs, and ``cold`` distinct access
    tokens of this app (one per request, so none is ever verified twice)."""
    from rest_framework_simplejwt.tokens import AccessToken

    from django_jwt_email import services, tokens
    from django_jwt_email.clientinfo import Client

    user = bench_user("bench-bearer@example.com")
    pair = services.issue_pair(user, client=Client("127.0.0.1", "bench"))
    claims = pair.access.claims
    with out.open("w") as handle:
        for _ in range(cold):
            minted = tokens.mint(
                tokens.TokenKind.ACCESS,
                subject=claims["sub"],
                sid=claims["sid"],
                scope=claims["scope"],
            )
            handle.write(minted.token + "\n")
    return {
        "user_id": user.pk,
        "jwt_email": pair.access.token,
        "simplejwt": str(AccessToken.for_user(user)),
        "cold_file": str(out),
        "cold_count": cold,
    }


# --- (g): reloading the revocation marks ----------------------------------------------------


def reload(marks: int) -> dict[str, Any]:
    """``revocation.reload_marks()`` with ``marks`` live revoked sessions in the
    database and no mark in the cache; Redis round trips counted at the socket."""
    from datetime import timedelta

    from django.utils import timezone
    from redis.connection import AbstractConnection

    from django_jwt_email import revocation
    from django_jwt_email.models import RevokedKind, RevokedToken

    expires = timezone.now() + timedelta(minutes=5)
    RevokedToken.objects.bulk_create(
        [
            RevokedToken(jti=f"bench-{n:08d}", kind=RevokedKind.SESSION, expires_at=expires)
            for n in range(marks)
        ],
        batch_size=5_000,
    )
    revocation._cache().clear()
    round_trips = 0
    send = AbstractConnection.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> None:
        nonlocal round_trips
        round_trips += 1
        send(self, command, check_health)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    try:
        start = time.perf_counter_ns()
        reloaded = revocation.reload_marks()
        seconds = _ms(start) / 1000
    finally:
        AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
    if reloaded != marks or not revocation.is_session_revoked(f"bench-{marks - 1:08d}"):
        raise SystemExit(f"reload_marks reloaded {reloaded} of {marks} marks")
    batches = -(-marks // revocation.RELOAD_BATCH)
    # One round trip more than the batches: the "loaded" key, set last.
    return {"marks": marks, "seconds": seconds, "batches": batches, "round_trips": round_trips - 1}


# --- (a): sessions for the spread of a revocation -------------------------------------------


def sessions(count: int) -> dict[str, Any]:
    """``count`` API sessions of one user, each with its access token."""
    from django_jwt_email import services
    from django_jwt_email.clientinfo import Client

    user = bench_user("bench-spread@example.com")
    client = Client("127.0.0.1", "bench")
    return {
        "access": [services.issue_pair(user, client=client).access.token for _ in range(count)]
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scenarios")
    parser.add_argument(
        "name",
        choices=["build", "auth", "cleanup", "request", "sizes", "bearer", "sessions", "reload"],
    )
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--expired-share", type=float, default=0.5)
    parser.add_argument("--which", default="both")
    parser.add_argument("--tool", default="jwt-email")
    parser.add_argument("--sender", default="inline")
    parser.add_argument("--cold", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    import django

    django.setup()
    if args.name == "build":
        from benchmarks import datasets

        result: Any = datasets.build(args.rows, args.expired_share, args.which)
    elif args.name == "auth":
        auth_serve(args.calls)
        return
    elif args.name == "cleanup":
        result = cleanup(args.tool)
    elif args.name == "request":
        result = request(args.calls, args.sender)
    elif args.name == "sizes":
        result = sizes()
    elif args.name == "sessions":
        result = sessions(args.count)
    elif args.name == "reload":
        result = reload(args.count)
    else:
        result = bearer_tokens(args.cold, args.out)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
