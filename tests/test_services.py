"""The flows of ``services``: account lookup, pair → refresh → revoke, and the
database guarantees under concurrency (PostgreSQL)."""

import threading
import time
from datetime import timedelta

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from django_jwt_email import services, signals, tokens
from django_jwt_email.models import IssuedToken, RevokedToken, SignInSession, TokenEvent
from django_jwt_email.testing import bearer
from tests.conftest import code_of

pytestmark = pytest.mark.django_db


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def refresh_with(api_client, refresh_token):
    return api_client.post("/auth/token/refresh/", {"refresh": refresh_token}, format="json")


@pytest.fixture
def signal_calls():
    """Collect (signal name, kwargs) of every signal sent during the test."""
    calls = []
    receivers = {}
    for name in (
        "token_issued",
        "token_verified",
        "token_rejected",
        "token_refreshed",
        "token_revoked",
        "refresh_reuse_detected",
    ):

        def receiver(sender, _name=name, **kwargs):
            calls.append((_name, kwargs))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield calls
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


# --- pair → refresh ---------------------------------------------------------------


def test_refresh_rotates_into_a_new_pair_of_the_same_session(pair, api_client):
    response = refresh_with(api_client, pair["refresh"])
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["refresh"] != pair["refresh"]
    assert rotated["access"] != pair["access"]
    old, new = claims_of(pair["refresh"]), claims_of(rotated["refresh"])
    assert new["sid"] == old["sid"] == claims_of(rotated["access"])["sid"]
    assert new["exp"] <= old["exp"]
    assert api_client.get("/api/pk/", **bearer(rotated["access"])).status_code == 200


def test_refresh_never_extends_the_sessions_absolute_lifetime(
    user, request_link, api_client, settings
):
    settings.JWT_EMAIL_REFRESH_TOKEN_TTL = timedelta(minutes=2)
    first = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    current = first.json()
    for _ in range(3):
        current = refresh_with(api_client, current["refresh"]).json()
        assert claims_of(current["refresh"])["exp"] == claims_of(first.json()["refresh"])["exp"]
        # Nor does an access token outlive the session.
        assert claims_of(current["access"])["exp"] <= claims_of(current["refresh"])["exp"]
    assert current["refresh_expires_in"] <= 120


def test_each_refresh_token_works_once(pair, api_client):
    assert refresh_with(api_client, pair["refresh"]).status_code == 200
    again = refresh_with(api_client, pair["refresh"])
    assert again.status_code == 400
    assert again.json()["code"] == "token_used"


def test_refresh_reuse_revokes_the_whole_family(pair, api_client, signal_calls):
    rotated = refresh_with(api_client, pair["refresh"]).json()
    newest = refresh_with(api_client, rotated["refresh"]).json()
    sid = claims_of(pair["refresh"])["sid"]

    reuse = refresh_with(api_client, pair["refresh"])  # a stolen copy of the first

    assert reuse.status_code == 400
    assert reuse.json()["code"] == "token_used"
    assert refresh_with(api_client, newest["refresh"]).json()["code"] == "token_revoked"
    for access in (pair["access"], rotated["access"], newest["access"]):
        response = api_client.get("/api/pk/", **bearer(access))
        assert response.status_code == 401
        assert response.json()["code"] == "token_revoked"
    assert TokenEvent.objects.filter(event="refresh_reuse", reason="reuse").count() == 1
    assert RevokedToken.objects.get(jti=sid).reason == "refresh_reuse"
    assert SignInSession.objects.get(sid=sid).revoke_reason == "refresh_reuse"
    reuse_signals = [kw for name, kw in signal_calls if name == "refresh_reuse_detected"]
    assert len(reuse_signals) == 1
    assert reuse_signals[0]["jti"] == claims_of(pair["refresh"])["jti"]


def test_refresh_reuse_leaves_other_sessions_alone(user, request_link, api_client, pair):
    other = api_client.post(
        "/auth/token/", {"token": request_link(user.email)}, format="json"
    ).json()
    refresh_with(api_client, pair["refresh"])
    refresh_with(api_client, pair["refresh"])
    assert api_client.get("/api/pk/", **bearer(other["access"])).status_code == 200
    assert refresh_with(api_client, other["refresh"]).status_code == 200


def test_access_token_is_refused_at_refresh(pair, api_client):
    response = refresh_with(api_client, pair["access"])
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    assert TokenEvent.objects.filter(event="rejected", reason="wrong_typ").exists()


def test_login_token_is_refused_at_refresh(user, request_link, api_client):
    response = refresh_with(api_client, request_link(user.email))
    assert response.json()["code"] == "invalid_token"


def test_refresh_of_a_deactivated_user_is_refused(user, pair, api_client):
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = refresh_with(api_client, pair["refresh"])
    assert response.status_code == 400
    assert response.json()["code"] == "token_revoked"
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401


def test_expired_refresh_token_is_refused(user, request_link, api_client, settings):
    settings.JWT_EMAIL_REFRESH_TOKEN_TTL = timedelta(minutes=-5)
    expired = api_client.post(
        "/auth/token/", {"token": request_link(user.email)}, format="json"
    ).json()["refresh"]
    response = refresh_with(api_client, expired)
    assert response.json()["code"] == "token_expired"


def test_refresh_is_counted_on_the_session_and_sends_its_signal(pair, api_client, signal_calls):
    refresh_with(api_client, pair["refresh"])
    session = SignInSession.objects.get()
    assert (session.generation, session.refresh_count) == (1, 1)
    assert session.refreshed_at is not None
    assert not TokenEvent.objects.filter(event="refreshed").exists()
    assert [name for name, _ in signal_calls] == ["token_refreshed"]


def test_a_refresh_token_carries_its_sessions_generation(pair, api_client):
    assert claims_of(pair["refresh"])["gen"] == 0
    rotated = refresh_with(api_client, pair["refresh"]).json()
    assert claims_of(rotated["refresh"])["gen"] == 1


def signed_refresh(user, sid, gen=0):
    """A refresh token signed with the site's own key that no refresh issued: what a
    leaked key, a restored backup or a bug could put in a client's hands."""
    return tokens.mint(
        tokens.TokenKind.REFRESH, subject=str(user.pk), sid=sid, generation=gen
    ).token


def assert_refused(response, code, reason):
    """A 400 with ``code``, recorded as rejected for ``reason``."""
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert TokenEvent.objects.filter(event="rejected", reason=reason).exists()


def test_refresh_of_an_unknown_session_is_refused(user, api_client):
    response = refresh_with(api_client, signed_refresh(user, tokens.new_id()))
    assert_refused(response, "invalid_token", "unknown_sid")


def test_refresh_of_another_users_session_is_refused(pair, user_factory, api_client):
    other = user_factory()
    response = refresh_with(api_client, signed_refresh(other, claims_of(pair["refresh"])["sid"]))
    assert_refused(response, "invalid_token", "unknown_sid")


def test_refresh_whose_subject_is_no_user_key_is_refused(pair, api_client):
    sid = claims_of(pair["refresh"])["sid"]
    token = tokens.mint(tokens.TokenKind.REFRESH, subject="not-a-number", sid=sid, generation=0)

    response = refresh_with(api_client, token.token)

    assert_refused(response, "invalid_token", "unknown_sid")
    assert SignInSession.objects.get(sid=sid).generation == 0


def test_refresh_of_a_browser_session_is_refused(user, request_link, api_client):
    Client().post("/auth/verify/", {"token": request_link(user.email)})
    browser = SignInSession.objects.get(user=user)
    assert browser.is_browser

    response = refresh_with(api_client, signed_refresh(user, browser.sid))

    assert_refused(response, "invalid_token", "unknown_sid")
    assert SignInSession.objects.get(pk=browser.pk).generation == 0


def test_refresh_after_the_sessions_absolute_lifetime_is_refused(pair, api_client):
    SignInSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = refresh_with(api_client, pair["refresh"])
    assert_refused(response, "token_expired", "expired")


def test_refresh_of_a_generation_never_issued_is_refused(user, pair, api_client):
    ahead = signed_refresh(user, claims_of(pair["refresh"])["sid"], gen=5)

    response = refresh_with(api_client, ahead)

    assert_refused(response, "invalid_token", "unknown_generation")
    assert refresh_with(api_client, pair["refresh"]).status_code == 200  # not reuse


def test_a_signed_link_with_no_row_is_refused(user, api_client):
    """A login token signed with the site's key but never issued (or its row deleted
    by a restore): refused, and nothing is written but the refusal."""
    token = tokens.mint(tokens.TokenKind.LOGIN, subject=str(user.pk)).token

    response = api_client.post("/auth/token/", {"token": token}, format="json")

    assert_refused(response, "invalid_token", "unknown_jti")
    assert not SignInSession.objects.exists()


# --- revoke --------------------------------------------------------------------------


def test_revoke_endpoint_kills_the_session_of_a_refresh_token(pair, api_client):
    response = api_client.post("/auth/token/revoke/", {"token": pair["refresh"]}, format="json")
    assert response.status_code == 200
    assert refresh_with(api_client, pair["refresh"]).json()["code"] == "token_revoked"
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401


def test_revoke_endpoint_kills_the_session_of_an_access_token(pair, api_client):
    api_client.post("/auth/token/revoke/", {"token": pair["access"]}, format="json")
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401
    assert refresh_with(api_client, pair["refresh"]).json()["code"] == "token_revoked"


def test_revoke_endpoint_revokes_a_login_link(user, request_link, api_client):
    token = request_link(user.email)
    api_client.post("/auth/token/revoke/", {"token": token}, format="json")
    assert IssuedToken.objects.get().revoke_reason == "client_revoked"
    assert RevokedToken.objects.get().kind == "login"


def test_revoke_endpoint_records_nothing_for_garbage(api_client):
    api_client.post("/auth/token/revoke/", {"token": "garbage"}, format="json")
    assert not RevokedToken.objects.exists()
    assert not TokenEvent.objects.filter(event="revoked").exists()


def test_revoke_takes_effect_on_the_very_next_request(pair, api_client):
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 200
    api_client.post("/auth/logout/", **bearer(pair["access"]))
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401


def test_logout_records_revoked_and_sends_its_signal(pair, api_client, signal_calls):
    api_client.post("/auth/logout/", **bearer(pair["access"]))
    sid = claims_of(pair["access"])["sid"]
    assert TokenEvent.objects.get(event="revoked").jti == sid
    assert TokenEvent.objects.get(event="revoked").reason == "logout"
    assert [name for name, _ in signal_calls] == ["token_revoked"]


def test_logout_all_twice_records_each_session_once(user, pair, api_client):
    services.logout_all(user)
    services.logout_all(user)
    assert TokenEvent.objects.filter(event="revoked").count() == 1


def test_revoke_sessions_signs_the_session_out(pair, api_client):
    assert services.revoke_sessions(SignInSession.objects.all(), reason="admin") == 1
    assert api_client.get("/api/pk/", **bearer(pair["access"])).status_code == 401


def test_revoke_issued_skips_what_is_already_revoked(user, request_link):
    request_link(user.email)
    rows = IssuedToken.objects.all()
    assert services.revoke_issued(rows, reason="admin") == 1
    assert services.revoke_issued(IssuedToken.objects.all(), reason="admin") == 0


def test_check_login_consumes_nothing_and_records_nothing(user, request_link):
    token = request_link(user.email)
    before = TokenEvent.objects.count()
    assert services.check_login(token).used_at is None
    assert TokenEvent.objects.count() == before


def assert_sign_up_refused(api_client, mailoutbox, address):
    """The sign-up link of ``address`` is refused at redemption, and nothing is left."""
    from tests.conftest import token_of

    User = get_user_model()
    before = User.objects.count()
    api_client.post("/auth/request/", {"email": address}, format="json")
    response = api_client.post("/auth/token/", {"token": token_of(mailoutbox[0])}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "The token is invalid.", "code": "invalid_token"}
    assert TokenEvent.objects.filter(event="rejected", reason="signup_failed").count() == 1
    assert User.objects.count() == before
    assert not User.objects.filter(email=address).exists()


@pytest.mark.usefixtures("default_user_model")
def test_sign_up_refused_when_the_username_is_taken_by_another_address(
    settings, api_client, mailoutbox, user_factory
):
    """The new account's username (the address) belongs to an account of another
    address: the unique username refuses the account, and the link with it."""
    settings.JWT_EMAIL_CREATE_USERS = True
    user_factory("owner@example.com", username="newcomer@example.com")
    assert_sign_up_refused(api_client, mailoutbox, "newcomer@example.com")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("default_user_model")
def test_sign_up_refused_when_the_address_is_too_long_for_the_user_model(
    postgres, settings, api_client, mailoutbox
):
    """An address too long for the default User's username column (150 characters):
    PostgreSQL enforces VARCHAR lengths (SQLite does not, hence the marker)."""
    settings.JWT_EMAIL_CREATE_USERS = True
    assert_sign_up_refused(api_client, mailoutbox, "a" * 140 + "@example.com")


# --- concurrency, for real, on PostgreSQL -----------------------------------------


def run_at_once(count, action):
    """Run ``action()`` in ``count`` threads released together; their results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        try:
            barrier.wait(timeout=10)
            results[index] = action()
        except Exception as exc:  # a crash must fail the test, not hang it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
        )


def post_json(url, body):
    response = APIClient().post(url, body, format="json")
    return response.status_code, response.json()


def refresh_json(refresh_token):
    return post_json("/auth/token/refresh/", {"refresh": refresh_token})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_redemptions_of_one_link_sign_in_once(
    postgres, user_factory, request_link
):
    user = user_factory("alice@example.com")
    token = request_link(user.email)

    results = run_at_once(20, lambda: post_json("/auth/token/", {"token": token}))

    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [400] * 19
    assert {body["code"] for status, body in results if status == 400} == {"token_used"}
    assert SignInSession.objects.count() == 1
    assert TokenEvent.objects.filter(event="verified").count() == 1
    assert TokenEvent.objects.filter(event="rejected", reason="used").count() == 19


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_succeed_once_and_count_as_reuse(
    postgres, user_factory, request_link
):
    """Design: the loser presented a refresh token that was used meanwhile, which is
    indistinguishable from a stolen copy. So it gets token_used and the whole family
    is revoked — including the pair the winner just received. A client must send
    one refresh at a time."""
    user = user_factory("alice@example.com")
    pair = (
        APIClient().post("/auth/token/", {"token": request_link(user.email)}, format="json").json()
    )

    results = run_at_once(
        2, lambda: post_json("/auth/token/refresh/", {"refresh": pair["refresh"]})
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    winners = [body for status, body in results if status == 200]
    losers = [body for status, body in results if status == 400]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0]["code"] == "token_used"
    assert TokenEvent.objects.filter(event="refresh_reuse").count() == 1
    won = winners[0]
    assert post_json("/auth/token/refresh/", {"refresh": won["refresh"]})[1]["code"] == (
        "token_revoked"
    )
    assert APIClient().get("/api/pk/", **bearer(won["access"])).status_code == 401


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_refreshes_succeed_once(postgres, user_factory, request_link):
    user = user_factory("alice@example.com")
    pair = (
        APIClient().post("/auth/token/", {"token": request_link(user.email)}, format="json").json()
    )

    results = run_at_once(10, lambda: refresh_json(pair["refresh"]))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(status for status, _ in results) == [200] + [400] * 9
    # The first loser detects the reuse and revokes the family; the later ones may
    # find it revoked already.
    codes = [body["code"] for status, body in results if status == 400]
    assert "token_used" in codes
    assert set(codes) <= {"token_used", "token_revoked"}
    sid = claims_of(pair["refresh"])["sid"]
    assert SignInSession.objects.get(sid=sid).revoked_at is not None
    assert RevokedToken.objects.filter(jti=sid).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_case_insensitive_lookup_on_postgres_still_refuses_a_dotless_i(
    postgres, user_factory, api_client, mailoutbox, settings
):
    """On PostgreSQL, UPPER of a dotless i is I: iexact matches, and the Unicode check
    (and the sign-up look-alike check) must still keep the typed address out."""
    settings.JWT_EMAIL_CREATE_USERS = True
    user_factory("mike@example.org")
    api_client.post("/auth/request/", {"email": "m\u0131ke@example.org"}, format="json")
    assert mailoutbox == []
    assert not IssuedToken.objects.exists()
    assert timezone.now()  # the request itself went through


def test_revoke_sessions_counts_and_records_each_session_once(pair, api_client):
    refresh_with(api_client, pair["refresh"])  # two refresh tokens, one session
    assert services.revoke_session(claims_of(pair["refresh"])["sid"], reason="admin") == 1
    assert services.revoke_sessions(SignInSession.objects.all(), reason="admin") == 0
    assert TokenEvent.objects.filter(event="revoked").count() == 1


def test_revoking_a_revoked_session_again_changes_and_records_nothing(pair, api_client):
    api_client.post("/auth/token/revoke/", {"token": pair["refresh"]}, format="json")
    api_client.post("/auth/token/revoke/", {"token": pair["access"]}, format="json")
    assert TokenEvent.objects.filter(event="revoked").count() == 1
    assert RevokedToken.objects.get().reason == "client_revoked"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_refresh_slips_past_a_logout_50_trials(postgres, user_factory, request_link, settings):
    """A thread keeps refreshing a stolen session while the owner logs out everywhere:
    after the 204, no refresh sent may succeed, and the chain stays dead (rotation and
    revocation are serialised on the session's row)."""
    settings.RATELIMIT_ENABLE = False
    user = user_factory("alice@example.com")
    for trial in range(50):
        pair = post_json("/auth/token/", {"token": request_link(user.email)})[1]
        stop = threading.Event()
        attempts = []  # (sent at, status)
        latest = {"refresh": pair["refresh"]}

        def refresher():
            try:
                while not stop.is_set():
                    sent = time.monotonic()
                    status, body = refresh_json(latest["refresh"])
                    attempts.append((sent, status))
                    if status == 200:
                        latest["refresh"] = body["refresh"]
            finally:
                connection.close()

        thread = threading.Thread(target=refresher)
        thread.start()
        while len(attempts) < 1 + trial % 5:  # log out at a different moment each trial
            time.sleep(0.001)
        response = APIClient().post(
            "/auth/logout/all/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}"
        )
        answered = time.monotonic()
        time.sleep(0.02)  # let the refresher send a few more after the 204
        stop.set()
        thread.join(timeout=30)

        assert response.status_code == 204
        after = [status for sent, status in attempts if sent > answered]
        assert 200 not in after, (trial, after)
        assert refresh_json(latest["refresh"])[1]["code"] == "token_revoked", trial
    assert not SignInSession.objects.live().exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_refresh_on_postgres_rotates_in_one_statement(postgres, user, pair):
    """The PostgreSQL path: one UPDATE … RETURNING advances the session and brings its
    user back (no other query), and a user deactivated without save() is refused."""
    sid = claims_of(pair["refresh"])["sid"]
    with CaptureQueriesContext(connection) as queries:
        rotated = SignInSession.objects.rotate(sid, user.pk, 0, timezone.now())
    assert rotated is not None
    assert (rotated[0].generation, rotated[1].email) == (1, "alice@example.com")
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["UPDATE"]
    get_user_model().objects.update(is_active=False)  # no save(): no receiver ran
    assert SignInSession.objects.rotate(sid, user.pk, 1, timezone.now()) is None
    assert SignInSession.objects.get(sid=sid).generation == 1


# --- sign-in side effects: last_login, browser sessions --------------------------------


@pytest.mark.parametrize("endpoint", ["token", "code"])
def test_an_api_sign_in_is_a_django_login(user, request_link, api_client, mailoutbox, endpoint):
    logged_in = []

    def receiver(sender, user, request, **kwargs):
        logged_in.append((user, request))

    user_logged_in.connect(receiver)
    try:
        token = request_link(user.email)
        if endpoint == "token":
            response = api_client.post("/auth/token/", {"token": token}, format="json")
        else:
            body = {"email": user.email, "code": code_of(mailoutbox[-1])}
            response = api_client.post("/auth/code/", body, format="json")
        assert response.status_code == 200
        user.refresh_from_db()
        assert user.last_login is not None
        assert [who for who, _ in logged_in] == [user]
        assert logged_in[0][1].path == f"/auth/{endpoint}/"  # the request, for receivers
        # A refresh is not a sign-in.
        refresh_with(api_client, response.json()["refresh"])
        assert len(logged_in) == 1
    finally:
        user_logged_in.disconnect(receiver)


def test_api_sign_ins_may_leave_last_login_alone(user, pair, settings, request_link, api_client):
    settings.JWT_EMAIL_UPDATE_LAST_LOGIN = False
    user.last_login = None
    user.save()
    api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")
    user.refresh_from_db()
    assert user.last_login is None


def browser_sign_in(user, request_link) -> Client:
    browser = Client()
    assert browser.post("/auth/verify/", {"token": request_link(user.email)}).status_code == 302
    return browser


def test_a_browser_sign_in_lasts_session_age(user, request_link, settings):
    settings.JWT_EMAIL_SESSION_AGE = 3600
    browser = browser_sign_in(user, request_link)
    assert browser.session.get_expiry_age() == 3600
    assert browser.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 3600
    session = SignInSession.objects.get()
    assert (session.expires_at - session.created_at) == timedelta(hours=1)


def test_without_session_age_a_browser_session_is_djangos(user, request_link, settings):
    browser = browser_sign_in(user, request_link)
    assert browser.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_a_session_that_ends_with_the_browser_still_does(user, request_link, settings):
    settings.JWT_EMAIL_SESSION_AGE = 3600
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    browser = browser_sign_in(user, request_link)
    assert browser.session.get_expire_at_browser_close()
    assert browser.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == ""


def test_signing_out_of_a_browser_ends_its_session_row(user, request_link):
    browser = browser_sign_in(user, request_link)
    assert browser.post("/auth/logout/").status_code == 204
    session = SignInSession.objects.get()
    assert (session.state(), session.revoke_reason) == ("revoked", "logout")


def test_logout_all_ends_every_browser_session_of_the_user(
    user, user_factory, request_link, api_client
):
    by_link = browser_sign_in(user, request_link)
    by_password = Client()
    by_password.force_login(user)  # a session this app did not sign in
    someone_else = Client()
    bob = user_factory("bob@example.com")
    someone_else.force_login(bob)
    pair = api_client.post("/auth/token/", {"token": request_link(user.email)}, format="json")

    response = api_client.post("/auth/logout/all/", **bearer(pair.json()["access"]))

    assert response.status_code == 204
    for browser in (by_link, by_password):
        assert browser.get("/home/").content == b"home AnonymousUser"
    assert someone_else.get("/home/").content == f"home {bob}".encode()
