"""Deactivating or deleting a user revokes their tokens (the signal receivers)."""

import pytest
from django.contrib.auth import get_user_model
from django.core import serializers
from django.db import connection
from django.test import Client

from django_jwt_email.models import IssuedToken, RevokedToken, TokenEvent
from django_jwt_email.testing import bearer

pytestmark = pytest.mark.django_db


def test_deactivating_a_user_revokes_sessions_and_pending_links(
    user, pair, request_link, api_client
):
    pending = request_link(user.email)
    user.is_active = False
    user.save()
    assert RevokedToken.objects.get(kind="session").reason == "user_inactive"
    assert not IssuedToken.objects.redeemable().exists()
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401
    assert api_client.post("/auth/token/", {"token": pending}, format="json").status_code == 400


def test_saving_an_active_user_revokes_nothing(user, pair, api_client):
    user.first_name = "Alice"
    user.save()
    assert not RevokedToken.objects.exists()
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 200


def test_saving_an_inactive_user_again_records_nothing_new(user, pair):
    user.is_active = False
    user.save()
    before = TokenEvent.objects.filter(event="revoked").count()
    user.last_name = "Smith"
    user.save()
    assert TokenEvent.objects.filter(event="revoked").count() == before == 1


def test_deleting_a_user_revokes_their_access_tokens(user, pair, api_client):
    pk = user.pk
    user.delete()
    response = api_client.get("/api/pk/", **bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    # The denylist outlives the user, without a dangling reference to them.
    assert RevokedToken.objects.get(kind="session").reason == "user_deleted"
    assert not RevokedToken.objects.filter(user_id=pk).exists()
    assert not TokenEvent.objects.filter(user_id=pk).exists()
    assert not IssuedToken.objects.exists()
    connection.check_constraints()


def test_loading_a_fixture_of_an_inactive_user_revokes_nothing(user, pair, api_client):
    user.is_active = False
    data = serializers.serialize("json", [user])
    for obj in serializers.deserialize("json", data):
        obj.save()  # raw save, as loaddata does
    assert not RevokedToken.objects.exists()
    assert get_user_model().objects.get().is_active is False


def signed_in_browser(user, request_link) -> Client:
    browser = Client()
    assert browser.post("/auth/verify/", {"token": request_link(user.email)}).status_code == 302
    return browser


@pytest.mark.django_db(transaction=True)  # the sign-out runs when the change commits
def test_a_new_address_signs_out_everywhere_but_the_browser_that_changed_it(
    user, request_link, api_client
):
    changing = signed_in_browser(user, request_link)
    other = signed_in_browser(user, request_link)
    pair = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    pending = request_link(user.email)

    assert changing.post("/account/email/", {"email": "alice@new.example"}).content == b"changed"

    changed = type(user).objects.get(pk=user.pk)
    assert changing.get("/home/").content == f"home {changed}".encode()
    assert other.get("/home/").content == b"home AnonymousUser"
    assert api_client.get("/api/pk/", **bearer(pair.json()["access"])).status_code == 401
    assert api_client.post("/auth/token/", {"token": pending}, format="json").json()["code"] == (
        "token_revoked"
    )
    assert set(RevokedToken.objects.values_list("reason", flat=True)) == {"email_changed"}


@pytest.mark.django_db(transaction=True)  # the sign-out runs when the change commits
def test_a_new_address_signs_out_the_other_browsers_with_cached_sessions(
    user, request_link, settings
):
    """With sessions in the cache, not the database, the browsers this app signed in
    are signed out all the same (by their session keys, without a scan)."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    changing = signed_in_browser(user, request_link)
    other = signed_in_browser(user, request_link)

    assert changing.post("/account/email/", {"email": "alice@new.example"}).content == b"changed"

    assert changing.get("/home/").content != b"home AnonymousUser"
    assert other.get("/home/").content == b"home AnonymousUser"


def test_signing_out_a_browser_without_a_session_records_nothing(rf, user):
    """django.contrib.auth's logout() of a request whose session was never saved."""
    from django.contrib.auth import logout
    from django.contrib.sessions.backends.db import SessionStore

    request = rf.post("/logout/")
    request.session, request.user = SessionStore(), user

    logout(request)

    assert not RevokedToken.objects.exists()
    assert not TokenEvent.objects.filter(event="revoked").exists()


def test_saving_a_user_without_a_new_address_signs_nobody_out(user, request_link):
    browser = signed_in_browser(user, request_link)
    user.is_staff = True
    user.save()
    user.save(update_fields=["is_staff"])
    assert browser.get("/home/").content == f"home {user}".encode()
