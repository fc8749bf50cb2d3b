"""Celery delivery: EMAIL_SENDER = "django_jwt_email.tasks.deliver_later" with a
real worker and a real Redis broker. The request only enqueues; the lookup,
minting and sending happen in the worker."""

import time

import pytest
from django.contrib.auth import get_user_model

from django_jwt_email.models import IssuedToken, TokenEvent
from tests.conftest import answer, token_of

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_app():
    redis = pytest.importorskip("redis")
    pytest.importorskip("celery")
    from tests.testapp.celery import KEY_PREFIX, REDIS_URL, make_app

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis (the Celery broker) is unreachable at {REDIS_URL}: {exc}")
    app = make_app()
    yield app
    for key in client.scan_iter(match=f"{KEY_PREFIX}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def queued(settings):
    settings.JWT_EMAIL_EMAIL_SENDER = "django_jwt_email.tasks.deliver_later"


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_request_only_enqueues_and_the_worker_delivers(
    celery_app, queued, user_factory, api_client, mailoutbox
):
    from celery.contrib.testing.worker import start_worker

    user = user_factory("alice@example.com")
    unknown = api_client.post("/auth/request/", {"email": "nobody@example.com"}, format="json")
    known = api_client.post("/auth/request/", {"email": user.email}, format="json")

    # The answer does not depend on the account: the same bytes, and nothing
    # was looked up, minted or sent while answering.
    assert known.status_code == unknown.status_code == 202
    assert answer(known) == answer(unknown)
    assert not IssuedToken.objects.exists()
    assert mailoutbox == []

    with start_worker(celery_app, perform_ping_check=False, shutdown_timeout=30):
        # One solo worker runs the tasks in order: the known address's email
        # arriving means the unknown one was handled first.
        assert wait_for(lambda: len(mailoutbox) >= 1), "the worker sent nothing"

    assert [message.to for message in mailoutbox] == [["alice@example.com"]]
    assert IssuedToken.objects.get().user == user
    events = list(TokenEvent.objects.order_by("pk").values_list("event", flat=True))
    assert events == ["issued", "email_sent"]
    assert TokenEvent.objects.filter(ip="127.0.0.1").count() == 2  # the requester's IP

    # And the queued link signs in like any other.
    pair = api_client.post("/auth/token/", {"token": token_of(mailoutbox[0])}, format="json")
    assert pair.status_code == 200


def test_queued_sign_up_is_created_only_on_redemption(
    celery_app, queued, settings, api_client, mailoutbox
):
    from celery.contrib.testing.worker import start_worker

    settings.JWT_EMAIL_CREATE_USERS = True
    api_client.post("/auth/request/", {"email": "new@example.com"}, format="json")
    with start_worker(celery_app, perform_ping_check=False, shutdown_timeout=30):
        assert wait_for(lambda: len(mailoutbox) >= 1)
    assert not get_user_model().objects.exists()
    response = api_client.post("/auth/token/", {"token": token_of(mailoutbox[0])}, format="json")
    assert response.status_code == 200
    assert get_user_model().objects.get().email == "new@example.com"


def test_a_failing_email_backend_in_the_worker_is_recorded(
    celery_app, queued, settings, user_factory, api_client
):
    from celery.contrib.testing.worker import start_worker

    settings.EMAIL_BACKEND = "tests.testapp.mail.FailingEmailBackend"
    user = user_factory("alice@example.com")
    assert (
        api_client.post("/auth/request/", {"email": user.email}, format="json").status_code == 202
    )
    with start_worker(celery_app, perform_ping_check=False, shutdown_timeout=30):
        assert wait_for(lambda: TokenEvent.objects.filter(event="email_failed").exists())
    assert TokenEvent.objects.get(event="email_failed").reason == "SMTPException"
