"""End-to-end paths through the URLs: request, email, verify, session or pair."""

import pytest

from django_jwt_email.models import IssuedToken, TokenEvent

pytestmark = pytest.mark.django_db


def test_request_then_token_pair_then_me(user, request_link, api_client):
    token = request_link("ALICE@example.com")
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "refresh_expires_in"}
    assert response["Cache-Control"].count("no-store") == 1
    me = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.json() == {"id": user.pk, "email": "alice@example.com"}


def test_link_works_once(user, request_link, api_client):
    token = request_link(user.email)
    assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200
    again = api_client.post("/auth/token/", {"token": token}, format="json")
    assert again.status_code == 400
    assert again.json()["code"] == "token_used"
    assert TokenEvent.objects.filter(event="rejected", reason="used").count() == 1


def test_browser_sign_in(user, request_link, client):
    token = request_link(user.email)
    page = client.get("/auth/verify/", {"token": token})
    assert page.status_code == 200
    assert IssuedToken.objects.get(kind="login").used_at is None
    response = client.post("/auth/verify/", {"token": token})
    assert response.status_code == 302
    assert response["Location"] == "/home/"
    assert client.get("/home/").content == b"home user1"
