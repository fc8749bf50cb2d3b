"""JWTEmailAuthentication: ``Authorization: Bearer <access>`` on a DRF view."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from django_jwt_email import tokens
from django_jwt_email.models import TokenEvent
from django_jwt_email.testing import bearer

pytestmark = pytest.mark.django_db


def assert_refused(response, code):
    assert response.status_code == 401
    assert response.json() == {"detail": response.json()["detail"], "code": code}
    assert response["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{code}"'
    )


def test_bearer_access_token_authenticates(user, pair, api_client):
    response = api_client.get("/api/me/", **bearer(pair["access"]))
    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "email": user.email}


def test_bearer_scheme_is_case_insensitive(user, pair, api_client):
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"bearer {pair['access']}")
    assert response.status_code == 200


def test_no_credentials_get_the_realm_challenge_without_error(api_client):
    response = api_client.get("/api/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert "error" not in response["WWW-Authenticate"]


def test_another_scheme_is_not_ours(api_client):
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION="Basic YWxpY2U6cGFzc3dvcmQ=")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer not-a-jwt", "Bearer a.b.c", "Bearer \u00e9t\u00e9"],
)
def test_malformed_bearer_is_refused(header, api_client):
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=header.encode().decode("latin-1"))
    assert_refused(response, "invalid_token")


def test_tampered_access_token_is_refused(pair, api_client):
    head, payload, signature = pair["access"].split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert_refused(api_client.get("/api/me/", **bearer(forged)), "invalid_token")
    assert TokenEvent.objects.filter(event="rejected", reason="bad_signature").exists()


def test_expired_access_token_is_refused(user, api_client, settings):
    settings.JWT_EMAIL_LEEWAY = timedelta(0)
    expired = tokens.mint(
        tokens.TokenKind.ACCESS,
        subject=str(user.pk),
        sid="s1",
        scope="api",
        expires_at=tokens.datetime.now(tokens.timezone.utc) - timedelta(seconds=5),
    )
    assert_refused(api_client.get("/api/me/", **bearer(expired.token)), "token_expired")


def test_revoked_access_token_is_refused(pair, api_client):
    api_client.post("/auth/token/revoke/", {"token": pair["access"]}, format="json")
    assert_refused(api_client.get("/api/me/", **bearer(pair["access"])), "token_revoked")


@pytest.mark.parametrize("kind", ["login", "refresh"])
def test_login_and_refresh_tokens_are_not_access_tokens(kind, user, request_link, api_client):
    if kind == "login":
        token = request_link(user.email)
    else:
        token = api_client.post(
            "/auth/token/", {"token": request_link(user.email)}, format="json"
        ).json()["refresh"]
    assert_refused(api_client.get("/api/me/", **bearer(token)), "invalid_token")
    assert TokenEvent.objects.filter(event="rejected", reason="wrong_typ").exists()


def test_request_user_is_the_real_user_model_instance(user, pair, api_client):
    from rest_framework.test import APIRequestFactory

    from django_jwt_email.authentication import JWTEmailAuthentication

    request = APIRequestFactory().get("/api/me/", **bearer(pair["access"]))
    from rest_framework.request import Request

    drf_request = Request(request, authenticators=[JWTEmailAuthentication()])
    assert isinstance(drf_request.user, get_user_model())
    assert drf_request.user == user
    assert drf_request.user.email == "alice@example.com"
    assert drf_request.auth["sub"] == str(user.pk)
    assert drf_request.auth["scope"] == "api"


def test_reading_only_the_pk_makes_no_query_once_the_revocation_cache_is_warm(
    user, pair, api_client, django_assert_num_queries
):
    api_client.get("/api/pk/", **bearer(pair["access"]))  # warms the revocation marks
    with django_assert_num_queries(0):
        response = api_client.get("/api/pk/", **bearer(pair["access"]))
    assert response.json() == {"id": user.pk}


def test_reading_the_user_loads_it_with_one_query(
    user, pair, api_client, django_assert_num_queries
):
    api_client.get("/api/pk/", **bearer(pair["access"]))
    with django_assert_num_queries(1):
        api_client.get("/api/me/", **bearer(pair["access"]))


def test_a_cold_revocation_cache_costs_one_query(pair, api_client, django_assert_num_queries):
    cache.clear()
    with django_assert_num_queries(1):
        assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 200


def test_deactivating_the_user_refuses_their_access_token_without_a_user_query(
    user, pair, api_client, django_assert_num_queries
):
    api_client.get("/api/pk/", **bearer(pair["access"]))
    user.is_active = False
    user.save()
    with django_assert_num_queries(1):  # the audit row of the refusal, no SELECT
        response = api_client.get("/api/pk/", **bearer(pair["access"]))
    assert_refused(response, "token_revoked")


def test_deleting_the_user_refuses_their_access_token_without_a_user_query(
    user, pair, api_client, django_assert_num_queries
):
    api_client.get("/api/pk/", **bearer(pair["access"]))
    user.delete()
    with django_assert_num_queries(1):
        response = api_client.get("/api/pk/", **bearer(pair["access"]))
    assert_refused(response, "token_revoked")


def test_user_deactivated_behind_the_orms_back_is_refused_when_read(user, pair, api_client):
    """A queryset ``update()`` sends no signal: a view that reads the user still
    refuses the token, since the lazy user is loaded only if active."""
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert_refused(api_client.get("/api/me/", **bearer(pair["access"])), "invalid_token")


def test_other_users_sessions_are_untouched_by_a_deactivation(
    user, user_factory, request_link, api_client
):
    bob = user_factory("bob@example.com")
    alice_pair = api_client.post(
        "/auth/token/", {"token": request_link(user.email)}, format="json"
    ).json()
    bob_pair = api_client.post(
        "/auth/token/", {"token": request_link(bob.email)}, format="json"
    ).json()
    bob.is_active = False
    bob.save()
    assert api_client.get("/api/pk/", **bearer(alice_pair["access"])).status_code == 200
    assert api_client.get("/api/pk/", **bearer(bob_pair["access"])).status_code == 401


def test_access_token_whose_subject_is_no_key_of_the_user_model_is_refused(api_client):
    odd = tokens.mint(tokens.TokenKind.ACCESS, subject="not-a-number", sid="s1", scope="api")
    assert_refused(api_client.get("/api/pk/", **bearer(odd.token)), "invalid_token")


def test_bearer_failure_on_logout_is_json_with_the_challenge(api_client):
    response = api_client.post("/auth/logout/", HTTP_AUTHORIZATION="Bearer nope")
    assert_refused(response, "invalid_token")
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
