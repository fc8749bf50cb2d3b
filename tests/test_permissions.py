"""HasScope: a view's ``required_scopes`` against the access token's ``scope``."""

import pytest
from rest_framework.test import APIRequestFactory

from django_jwt_email.permissions import HasScope
from django_jwt_email.testing import bearer

pytestmark = pytest.mark.django_db


def new_pair(user, request_link, api_client):
    response = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    return response.json()


def test_access_token_carries_the_configured_scopes(pair):
    import jwt

    assert jwt.decode(pair["access"], options={"verify_signature": False})["scope"] == "api"


def test_token_without_the_required_scope_is_refused_with_insufficient_scope(pair, api_client):
    response = api_client.get("/api/admin-only/", **bearer(pair["access"]))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "The token lacks a required scope.",
        "code": "insufficient_scope",
    }


def test_token_with_the_required_scope_is_allowed(user, request_link, api_client, settings):
    settings.JWT_EMAIL_ACCESS_TOKEN_SCOPES = ["api", "admin"]
    access = new_pair(user, request_link, api_client)["access"]
    response = api_client.get("/api/admin-only/", **bearer(access))
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_scopes_are_those_at_issue_time_not_the_current_setting(
    user, request_link, api_client, settings
):
    settings.JWT_EMAIL_ACCESS_TOKEN_SCOPES = ["api", "admin"]
    access = new_pair(user, request_link, api_client)["access"]
    settings.JWT_EMAIL_ACCESS_TOKEN_SCOPES = ["api"]
    assert api_client.get("/api/admin-only/", **bearer(access)).status_code == 200


def test_refresh_keeps_issuing_the_configured_scopes(user, request_link, api_client, settings):
    settings.JWT_EMAIL_ACCESS_TOKEN_SCOPES = ["api", "admin"]
    first = new_pair(user, request_link, api_client)
    rotated = api_client.post(
        "/auth/token/refresh/", {"refresh": first["refresh"]}, format="json"
    ).json()
    assert api_client.get("/api/admin-only/", **bearer(rotated["access"])).status_code == 200


def test_no_token_is_401_not_403(api_client):
    response = api_client.get("/api/admin-only/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_session_user_without_token_claims_is_refused(user):
    """A request authenticated some other way (no claims in ``request.auth``) has
    no scopes at all."""

    class View:
        required_scopes = ["api"]

    request = APIRequestFactory().get("/")
    request.auth = None
    assert HasScope().has_permission(request, View()) is False


def test_a_view_without_required_scopes_allows_any_token():
    class View:
        pass

    request = APIRequestFactory().get("/")
    request.auth = {"scope": ""}
    assert HasScope().has_permission(request, View()) is True


def test_scope_matching_is_by_whole_words():
    class View:
        required_scopes = ["admin"]

    request = APIRequestFactory().get("/")
    request.auth = {"scope": "api administrator"}
    assert HasScope().has_permission(request, View()) is False
