"""``manage.py jwt_email_revoke --user EMAIL | --jti JTI``."""

from io import StringIO

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from django_jwt_email.models import IssuedToken, RevokedToken
from django_jwt_email.testing import bearer

pytestmark = pytest.mark.django_db


def revoke(*args):
    out = StringIO()
    call_command("jwt_email_revoke", *args, stdout=out)
    return out.getvalue()


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_revoke_user_signs_them_out_everywhere(user, pair, request_link, api_client):
    pending = request_link(user.email)
    assert revoke("--user", "ALICE@example.com") == f"Revoked every token of user {user.pk}.\n"
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401
    refresh = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refresh.json()["code"] == "token_revoked"
    assert api_client.post("/auth/token/", {"token": pending}, format="json").json()["code"] == (
        "token_revoked"
    )
    assert RevokedToken.objects.get(kind="session").reason == "revoked_by_command"


def test_revoke_user_leaves_other_users_alone(user, user_factory, request_link, api_client):
    bob = user_factory("bob@example.com")
    bobs = api_client.post("/auth/token/", {"token": request_link(bob.email)}, format="json")
    revoke("--user", user.email)
    assert api_client.get("/api/pk/", **bearer(bobs.json()["access"])).status_code == 200


def test_revoke_a_session_with_a_reason(pair, api_client):
    sid = claims_of(pair["refresh"])["sid"]
    assert revoke("--jti", sid, "--reason", "stolen laptop") == f"Revoked session {sid}.\n"
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401
    assert RevokedToken.objects.get().reason == "stolen laptop"


def test_revoke_user_ends_their_browser_sessions(user, request_link):
    browser = Client()
    browser.post("/auth/verify/", {"token": request_link(user.email)})
    assert browser.get("/home/").content == f"home {user}".encode()
    revoke("--user", user.email)
    assert browser.get("/home/").content == b"home AnonymousUser"


def test_revoke_jti_of_a_login_link(user, request_link, api_client):
    token = request_link(user.email)
    revoke("--jti", claims_of(token)["jti"])
    assert api_client.post("/auth/token/", {"token": token}, format="json").json()["code"] == (
        "token_revoked"
    )


def test_revoke_a_session_by_its_sid(pair, api_client):
    sid = claims_of(pair["access"])["sid"]
    assert revoke("--jti", sid) == f"Revoked session {sid}.\n"
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401


def test_unknown_user_or_jti_is_an_error(user, request_link):
    request_link(user.email)
    with pytest.raises(CommandError, match="No user"):
        revoke("--user", "nobody@example.com")
    with pytest.raises(CommandError, match="No login link"):
        revoke("--jti", "nope")
    with pytest.raises(CommandError, match="No login link"):
        revoke("--jti", "")
    assert IssuedToken.objects.get().revoked_at is None


def test_user_and_jti_together_are_refused(user):
    with pytest.raises(CommandError):
        revoke("--user", user.email, "--jti", "x")
