"""Celery delivery: EMAIL_SENDER = "django_jwt_email.tasks.deliver_later" with a
real worker and a real Redis broker. The request only enqueues; the lookup,
minting and sending happen in the worker."""

import time

import pytest
from django.contrib.auth import get_user_model

from django_jwt_email.addresses import keyed_hash as hash_email
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


def test_the_worker_writes_in_the_language_of_the_request(
    celery_app, queued, user, api_client, mailoutbox
):
    """The worker's own language is the site's default: the requester's travels in the
    payload (the request said fr, with LocaleMiddleware in the suite's settings)."""
    from celery.contrib.testing.worker import start_worker

    response = api_client.post(
        "/auth/request/", {"email": user.email}, format="json", HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert response.status_code == 202
    with start_worker(celery_app, perform_ping_check=False, shutdown_timeout=30):
        assert wait_for(lambda: len(mailoutbox) >= 1), "the worker sent nothing"
    (message,) = mailoutbox
    assert message.subject == "Connexion à app.example.com"
    assert "Utilisez ce lien pour vous connecter à app.example.com" in message.body
    assert '<html lang="fr" dir="ltr">' in message.alternatives[0][0]


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


# --- a broker that is down or hung ----------------------------------------------------

BROKER_URLS = {
    "redis": "redis://127.0.0.1:{port}/0",
    "amqp": "amqp://guest:guest@127.0.0.1:{port}//",
}


@pytest.fixture(params=["down", "hung"])
def broker_outage(request, closed_port, silent_server, queued, settings):
    """Point a Celery app at a broker that is ``down`` (nothing listens on the
    port) or ``hung`` (accepts and never answers), over Redis and over AMQP."""
    pytest.importorskip("celery")
    from tests.testapp.celery import make_app

    def use(scheme: str) -> None:
        port = closed_port if request.param == "down" else silent_server.port
        make_app(BROKER_URLS[scheme].format(port=port))

    settings.JWT_EMAIL_ENQUEUE_TIMEOUT = 0.5
    yield use
    # The client gave up on its own rather than waiting for the server to hang up.
    assert silent_server.hung_up == 0


@pytest.mark.parametrize("scheme", sorted(BROKER_URLS))
def test_broker_outage_is_503_the_same_for_every_address(
    broker_outage, scheme, user_factory, api_client, mailoutbox
):
    broker_outage(scheme)
    user = user_factory("alice@example.com")
    known = api_client.post("/auth/request/", {"email": user.email}, format="json")
    unknown = api_client.post("/auth/request/", {"email": "nobody@example.com"}, format="json")

    assert known.status_code == unknown.status_code == 503
    assert answer(known) == answer(unknown)
    assert known.json()["code"] == "unavailable"
    assert known["Retry-After"] == "5"
    assert known["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    # Nothing looked up, minted or sent; each failure recorded under the address's
    # keyed hash, since no account is known.
    assert not IssuedToken.objects.exists()
    assert mailoutbox == []
    events = TokenEvent.objects.order_by("pk").values_list("event", "reason", "email_hash", "user")
    assert list(events) == [
        ("delivery_failed", "OperationalError", hash_email("alice@example.com"), None),
        ("delivery_failed", "OperationalError", hash_email("nobody@example.com"), None),
    ]


def test_broker_outage_on_the_request_form_is_a_503_page(broker_outage, client):
    broker_outage("redis")
    response = client.post(
        "/auth/request/", {"email": "alice@example.com"}, HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert b'data-code="unavailable"' in response.content
    assert b'action="/auth/request/"' in response.content  # ask again from there


def test_broker_outage_on_the_admin_link_request_is_a_503_page(broker_outage, client, settings):
    broker_outage("redis")
    response = client.post(
        "/auth/admin/request/", {"email": "admin@example.com", "next": "/admin/"}
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b'data-code="unavailable"' in response.content
    assert b'href="/admin/login/?next=%2Fadmin%2F"' in response.content
    (event,) = TokenEvent.objects.all()
    assert (event.event, event.email_hash) == ("delivery_failed", hash_email("admin@example.com"))


def test_the_sender_recovers_when_the_broker_comes_back(
    private_redis, queued, settings, user_factory, api_client, mailoutbox
):
    from celery.contrib.testing.worker import start_worker

    from tests.testapp.celery import make_app

    app = make_app(private_redis.url)
    settings.JWT_EMAIL_ENQUEUE_TIMEOUT = 0.5
    user = user_factory("alice@example.com")

    def ask():
        return api_client.post("/auth/request/", {"email": user.email}, format="json")

    assert ask().status_code == 202  # queued, then lost with the killed broker's memory
    private_redis.stop()
    assert ask().status_code == 503
    private_redis.start()
    assert ask().status_code == 202  # the same pooled connection, reconnected

    with start_worker(app, perform_ping_check=False, shutdown_timeout=30):
        assert wait_for(lambda: len(mailoutbox) >= 1), "the worker sent nothing"
    assert [message.to for message in mailoutbox] == [["alice@example.com"]]
    events = TokenEvent.objects.order_by("pk").values_list("event", flat=True)
    assert list(events) == ["delivery_failed", "issued", "email_sent"]
