"""Delivery through Django's Tasks framework: EMAIL_SENDER =
"django_jwt_email.django_tasks.deliver_later". The request only enqueues; the
lookup, minting and sending run in the task backend's worker, here the database
backend's ``db_worker`` in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

import django
import pytest
from django.db import connection

from django_jwt_email.addresses import keyed_hash as hash_email
from django_jwt_email.models import IssuedToken, TokenEvent
from tests.conftest import LINK, answer, token_of

ROOT = Path(__file__).resolve().parent.parent
SENDER = "django_jwt_email.django_tasks.deliver_later"
DATABASE_BACKEND = {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}


@pytest.fixture
def tasks(settings):
    """The Tasks sender on the database backend (the worker's settings say the same)."""
    settings.JWT_EMAIL_EMAIL_SENDER = SENDER
    settings.TASKS = {"default": DATABASE_BACKEND}
    return settings


def run_worker(outbox: Path) -> subprocess.CompletedProcess:
    """Run the backend's worker in another process until the queue is empty, on the
    test's own PostgreSQL database (an in-memory SQLite one has no other process)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://... (a database another process can use)")
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.tasks_worker_settings",
        "DATABASE_URL": database_url,
        "JWT_EMAIL_TEST_OUTBOX": str(outbox),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "django", "db_worker", "--batch", "--no-startup-delay"]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


class Sent:
    """An email the worker wrote to the file outbox, shaped like Django's
    ``mail.outbox`` entries for the suite's helpers (``token_of``)."""

    def __init__(self, raw: bytes) -> None:
        message = message_from_bytes(raw)
        self.to = [message["To"]]
        self.subject = str(make_header(decode_header(message["Subject"])))
        text = next(part for part in message.walk() if part.get_content_type() == "text/plain")
        self.body = text.get_payload(decode=True).decode()


def outbox_of(directory: Path) -> list[Sent]:
    separator = b"\n" + b"-" * 79 + b"\n"
    return [
        Sent(raw)
        for path in sorted(directory.iterdir())
        for raw in path.read_bytes().split(separator)
        if raw.strip()
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_request_only_enqueues_and_the_worker_in_another_process_delivers(
    tasks, user_factory, api_client, tmp_path
):
    user = user_factory("alice@example.com")
    unknown = api_client.post("/auth/request/", {"email": "nobody@example.com"}, format="json")
    known = api_client.post("/auth/request/", {"email": user.email}, format="json")

    # The same answer, and nothing looked up, minted or sent while answering.
    assert known.status_code == unknown.status_code == 202
    assert answer(known) == answer(unknown)
    assert not IssuedToken.objects.exists()
    assert not TokenEvent.objects.exists()

    worker = run_worker(tmp_path)
    assert worker.returncode == 0, worker.stderr

    (sent,) = outbox_of(tmp_path)  # the unknown address got nothing
    assert sent.to == ["alice@example.com"]
    assert LINK.search(sent.body)
    assert IssuedToken.objects.get().user == user
    events = TokenEvent.objects.order_by("pk").values_list("event", "ip")
    assert list(events) == [("issued", "127.0.0.1"), ("email_sent", "127.0.0.1")]
    # And the queued link signs in like any other.
    response = api_client.post("/auth/token/", {"token": token_of(sent)}, format="json")
    assert response.status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_worker_writes_in_the_language_of_the_request(tasks, user, api_client, tmp_path):
    """The worker process runs in the site's default language: the requester's (de,
    picked by LocaleMiddleware) travels in the task's payload."""
    response = api_client.post(
        "/auth/request/", {"email": user.email}, format="json", HTTP_ACCEPT_LANGUAGE="de"
    )
    assert response.status_code == 202
    worker = run_worker(tmp_path)
    assert worker.returncode == 0, worker.stderr
    (sent,) = outbox_of(tmp_path)
    assert sent.subject == "Anmeldung bei app.example.com"
    assert "Mit diesem Link melden Sie sich bei app.example.com an:" in sent.body


@pytest.mark.django_db
def test_with_the_immediate_backend_the_email_is_sent_in_the_request(
    settings, user, api_client, mailoutbox
):
    # The framework's default backend runs a task as it is enqueued.
    settings.JWT_EMAIL_EMAIL_SENDER = SENDER
    response = api_client.post("/auth/request/", {"email": user.email}, format="json")
    assert response.status_code == 202
    assert [message.to for message in mailoutbox] == [["alice@example.com"]]


@pytest.mark.django_db
def test_a_backend_that_refuses_the_task_is_503_the_same_for_every_address(
    tasks, user, api_client, mailoutbox
):
    # A real refusal of the real backend: it serves another queue than the task's.
    tasks.TASKS = {"default": {**DATABASE_BACKEND, "QUEUES": ["reports"]}}
    known = api_client.post("/auth/request/", {"email": user.email}, format="json")
    unknown = api_client.post("/auth/request/", {"email": "nobody@example.com"}, format="json")

    assert known.status_code == unknown.status_code == 503
    assert answer(known) == answer(unknown)
    assert known.json()["code"] == "unavailable"
    assert known["Retry-After"] == "5"
    assert not IssuedToken.objects.exists()
    assert mailoutbox == []
    events = TokenEvent.objects.order_by("pk").values_list("event", "reason", "email_hash")
    reason = "InvalidTask" if django.VERSION >= (6, 0) else "InvalidTaskError"  # the backport's
    assert list(events) == [
        ("delivery_failed", reason, hash_email("alice@example.com")),
        ("delivery_failed", reason, hash_email("nobody@example.com")),
    ]
