"""RateLimitMiddleware: request, verify, token, code and refresh held back by their limits.

Counters live in a real local-memory cache (cleared before each test), and the
clock of the rate-limit windows is frozen (``frozen_clock``), so no test
straddles a window boundary by chance and the end of a window is reached by
moving the clock.
"""

import json

import pytest
from django.urls import include, path

from django_jwt_email.middleware import wait_in_words
from django_jwt_email.models import IssuedToken, TokenEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]

# A site that mounts the app elsewhere, under its own instance namespace.
urlpatterns = [path("signin/", include("django_jwt_email.urls", namespace="signin"))]


def ask(api_client, email, ip="127.0.0.1", **extra):
    return api_client.post(
        "/auth/request/", {"email": email}, format="json", REMOTE_ADDR=ip, **extra
    )


def limited_events():
    return list(TokenEvent.objects.filter(event="rate_limited").values_list("reason", "ip"))


def assert_429(response):
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"


# --- request -------------------------------------------------------------------


def test_request_over_the_ip_limit_gets_429_and_sends_nothing(user, api_client, rates, mailoutbox):
    rates(request_ip="3/h")
    for _ in range(3):
        assert ask(api_client, user.email).status_code == 202
    response = ask(api_client, user.email)
    assert_429(response)
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "rate_limited"
    assert set(body) == {"detail", "code"}
    assert len(mailoutbox) == 3
    assert IssuedToken.objects.count() == 3
    assert limited_events() == [("request_ip", "127.0.0.1")]


def test_request_limit_is_per_ip(user, api_client, rates, mailoutbox):
    rates(request_ip="1/h")
    assert ask(api_client, user.email, ip="10.0.0.1").status_code == 202
    assert ask(api_client, user.email, ip="10.0.0.1").status_code == 429
    assert ask(api_client, user.email, ip="10.0.0.2").status_code == 202
    assert len(mailoutbox) == 2


def test_request_email_limit_trips_across_ips_and_spellings(user, api_client, rates, mailoutbox):
    rates(request_email="2/h")
    assert ask(api_client, "alice@example.com", ip="10.0.0.1").status_code == 202
    assert ask(api_client, "  ALICE@Example.com ", ip="10.0.0.2").status_code == 202
    response = ask(api_client, "Alice@EXAMPLE.COM", ip="10.0.0.3")
    assert_429(response)
    assert len(mailoutbox) == 2
    assert limited_events() == [("request_email", "10.0.0.3")]


def test_request_email_limit_leaves_other_addresses_alone(user_factory, api_client, rates):
    rates(request_email="1/h")
    user_factory("alice@example.com")
    user_factory("bob@example.com")
    assert ask(api_client, "alice@example.com").status_code == 202
    assert ask(api_client, "alice@example.com").status_code == 429
    assert ask(api_client, "bob@example.com").status_code == 202


def test_request_json_and_form_bodies_share_the_email_bucket(user, client, rates, mailoutbox):
    rates(request_email="2/h")
    as_json = json.dumps({"email": user.email})
    form = {"email": user.email.upper()}
    assert (
        client.post("/auth/request/", as_json, content_type="application/json").status_code == 202
    )
    assert client.post("/auth/request/", form, REMOTE_ADDR="10.0.0.9").status_code == 202
    response = client.post(
        "/auth/request/", as_json, content_type="application/json", REMOTE_ADDR="10.0.0.8"
    )
    assert response.status_code == 429
    assert len(mailoutbox) == 2


def test_request_with_bad_json_reaches_the_view_and_counts_by_ip(client, rates):
    rates(request_ip="1/h")
    response = client.post("/auth/request/", "{not json", content_type="application/json")
    assert response.status_code == 400
    again = client.post("/auth/request/", "{not json", content_type="application/json")
    assert again.status_code == 429


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[" * 100_000, "application/json"),  # deeper than Python's recursion limit
        (b'{"email": ["a@example.com"]}', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"email=a%40example.com", "text/plain"),
        (b"email=a%40example.com", "multipart/form-data"),  # no boundary
        (b"x" * 3_000_000, "application/json"),  # over DATA_UPLOAD_MAX_MEMORY_SIZE
        (  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
            b"&".join([b"a=1"] * 1001) + b"&email=a%40example.com",
            "application/x-www-form-urlencoded",
        ),
    ],
)
def test_request_bodies_the_view_refuses_are_answered_and_spend_no_address(
    client, rates, mailoutbox, body, content_type
):
    rates(request_email="1/h")
    response = client.post("/auth/request/", body, content_type=content_type)
    assert response.status_code in (400, 413, 415)
    # The address in a body the view refused was not counted: its one request is left.
    ok = client.post("/auth/request/", {"email": "a@example.com"}, REMOTE_ADDR="10.0.0.7")
    assert ok.status_code == 202
    assert limited_events() == []


def test_request_from_a_browser_gets_the_html_page(user, client, rates, mailoutbox):
    rates(request_ip="1/h")
    accept = "text/html,application/xhtml+xml,*/*;q=0.8"
    assert client.post("/auth/request/", {"email": user.email}, HTTP_ACCEPT=accept)
    response = client.post("/auth/request/", {"email": user.email}, HTTP_ACCEPT=accept)
    assert_429(response)
    assert response["Content-Type"].startswith("text/html")
    assert b"Too many attempts" in response.content
    assert b'data-code="rate_limited"' in response.content
    assert len(mailoutbox) == 1


def test_request_plus_tags_share_the_email_bucket(user, api_client, rates, settings):
    settings.JWT_EMAIL_CREATE_USERS = True  # sign-up links go to the address as typed
    rates(request_email="2/h")
    assert ask(api_client, "carol+1@example.com").status_code == 202
    assert ask(api_client, "carol+2@example.com").status_code == 202
    assert ask(api_client, "carol+3@example.com").status_code == 429


# --- verify / token / code / refresh -------------------------------------------------


def test_token_over_the_ip_limit_gets_429(user, api_client, request_link, rates):
    rates(token_ip="1/m")
    first, second = request_link(user.email), request_link(user.email)
    assert api_client.post("/auth/token/", {"token": first}, format="json").status_code == 200
    response = api_client.post("/auth/token/", {"token": second}, format="json")
    assert_429(response)
    assert response.json()["code"] == "rate_limited"
    assert IssuedToken.objects.get(used_at__isnull=True)  # second one untouched
    assert limited_events() == [("token_ip", "127.0.0.1")]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/auth/token/", {"token": "not-a-token"}),
        ("/auth/code/", {"email": "alice@example.com", "code": "AAAA-AAAA"}),
        ("/auth/token/refresh/", {"refresh": "not-a-token"}),
    ],
)
def test_failed_verifications_lock_out_the_ip_even_for_a_valid_token(
    user, api_client, request_link, rates, url, body
):
    rates(failed_ip="3/h")
    for _ in range(3):
        assert api_client.post(url, body, format="json").status_code == 400
    token = request_link(user.email)  # asking for a link is not a verification
    response = api_client.post("/auth/token/", {"token": token}, format="json")
    assert_429(response)
    assert IssuedToken.objects.get().used_at is None
    assert limited_events() == [("failed_ip", "127.0.0.1")]
    other_ip = api_client.post("/auth/token/", {"token": token}, format="json", REMOTE_ADDR="::1")
    assert other_ip.status_code == 200


def test_successful_verifications_do_not_count_as_failures(user, api_client, request_link, rates):
    rates(failed_ip="2/h")
    for _ in range(4):
        token = request_link(user.email)
        assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200
    assert api_client.post("/auth/token/", {"token": "x"}, format="json").status_code == 400
    token = request_link(user.email)
    assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200


def test_verify_failures_lock_out_the_browser_with_an_html_page(user, client, request_link, rates):
    rates(failed_ip="2/h")
    for _ in range(2):
        assert client.post("/auth/verify/", {"token": "not-a-token"}).status_code == 400
    token = request_link(user.email)
    response = client.post("/auth/verify/", {"token": token})
    assert_429(response)
    assert response["Content-Type"].startswith("text/html")
    assert b"Too many attempts" in response.content
    assert IssuedToken.objects.get().used_at is None
    assert client.get("/home/").content == b"home AnonymousUser"  # not signed in
    assert limited_events() == [("failed_ip", "127.0.0.1")]


def test_verify_page_get_is_not_limited(user, client, request_link, rates):
    rates(verify_ip="1/h", failed_ip="1/h")
    token = request_link(user.email)
    for _ in range(3):
        assert client.get("/auth/verify/", {"token": token}).status_code == 200
        assert client.get("/auth/verify/", {"token": "bad"}).status_code == 400
    assert client.post("/auth/verify/", {"token": token}).status_code == 302


# --- windows ----------------------------------------------------------------------


def test_limit_resets_when_retry_after_has_passed(
    user, api_client, rates, frozen_clock, mailoutbox
):
    rates(request_ip="2/h")
    ask(api_client, user.email), ask(api_client, user.email)
    retry_after = int(ask(api_client, user.email)["Retry-After"])
    frozen_clock.now += retry_after - 1
    assert ask(api_client, user.email).status_code == 429
    assert int(ask(api_client, user.email)["Retry-After"]) == 1
    frozen_clock.now += 1
    assert ask(api_client, user.email).status_code == 202
    assert len(mailoutbox) == 3


def test_per_second_rate_resets_the_next_second(user, api_client, rates, frozen_clock):
    rates(request_ip="2/s")
    assert [ask(api_client, user.email).status_code for _ in range(3)] == [202, 202, 429]
    frozen_clock.now += 1
    assert ask(api_client, user.email).status_code == 202


# --- who is asking -----------------------------------------------------------------


def test_forwarded_for_is_ignored_without_ip_meta_key(user, api_client, rates):
    rates(request_ip="1/h")
    assert ask(api_client, user.email, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 202
    response = ask(api_client, user.email, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert response.status_code == 429
    assert limited_events() == [("request_ip", "127.0.0.1")]


def test_forwarded_for_is_honoured_with_ip_meta_key(user, api_client, rates, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    rates(request_ip="1/h")
    proxy = "10.0.0.1"
    first = ask(api_client, user.email, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")
    second = ask(api_client, user.email, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert (first.status_code, second.status_code) == (202, 202)
    response = ask(api_client, user.email, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert response.status_code == 429
    assert limited_events() == [("request_ip", "198.51.100.1")]


def test_ipv6_addresses_of_one_64_share_a_bucket(user, api_client, rates):
    rates(request_ip="1/h")
    assert ask(api_client, user.email, ip="2001:db8:1:2::1").status_code == 202
    assert ask(api_client, user.email, ip="2001:db8:1:2::ffff").status_code == 429
    assert ask(api_client, user.email, ip="2001:db8:1:3::1").status_code == 202
    assert limited_events() == [("request_ip", "2001:db8:1:2::ffff")]


# --- where the app is mounted, and which cache counts --------------------------------


def test_limits_follow_the_app_when_mounted_elsewhere(user, api_client, rates, settings):
    settings.ROOT_URLCONF = "tests.test_middleware"
    rates(request_ip="1/h")
    url = "/signin/request/"
    assert api_client.post(url, {"email": user.email}, format="json").status_code == 202
    assert api_client.post(url, {"email": user.email}, format="json").status_code == 429


def test_counters_live_in_the_ratelimit_cache(user, api_client, rates, settings):
    from django.core.cache import caches

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "limits",
        },
    }
    settings.RATELIMIT_USE_CACHE = "limits"
    rates(request_ip="1/h")
    assert ask(api_client, user.email).status_code == 202
    caches["default"].clear()
    assert ask(api_client, user.email).status_code == 429
    caches["limits"].clear()
    assert ask(api_client, user.email).status_code == 202


def test_cache_down_fails_closed_by_default(
    user, api_client, unreachable_ratelimit_cache, mailoutbox
):
    response = ask(api_client, user.email)
    assert_429(response)
    assert response.json()["code"] == "rate_limited"
    assert mailoutbox == []
    assert limited_events() == [("request_ip", "127.0.0.1")]


def test_cache_down_fails_open_with_ratelimit_fail_open(
    user, api_client, request_link, unreachable_ratelimit_cache, settings, mailoutbox
):
    settings.RATELIMIT_FAIL_OPEN = True
    token = request_link(user.email)
    # No reservation could be taken: the verification runs unlimited, as it would
    # with RATELIMIT_ENABLE off, and its failure changes nothing.
    assert api_client.post("/auth/token/", {"token": "x"}, format="json").status_code == 400
    assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200
    assert len(mailoutbox) == 1


def test_a_bad_rate_fails_closed_like_a_cache_outage(user, api_client, settings, mailoutbox):
    settings.JWT_EMAIL_RATE_LIMITS = {"request_ip": "lots"}  # check E002 reports it too
    assert_429(ask(api_client, user.email))
    assert mailoutbox == []


def test_ratelimit_enable_false_turns_the_limits_off(user, api_client, rates, settings):
    settings.RATELIMIT_ENABLE = False
    rates(request_ip="1/h")
    assert [ask(api_client, user.email).status_code for _ in range(3)] == [202, 202, 202]


def test_without_the_middleware_nothing_is_limited_and_nothing_fails(
    user, api_client, rates, settings, mailoutbox
):
    # Check W005 warns about this; the per-address count of the service must not
    # turn into a 500 where no middleware answers its 429.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("RateLimitMiddleware")]
    rates(request_ip="1/h", request_email="1/h")
    assert [ask(api_client, user.email).status_code for _ in range(3)] == [202, 202, 202]
    assert len(mailoutbox) == 3


def test_admin_request_shares_the_request_buckets(user_factory, client, rates, mailoutbox):
    from django.urls import reverse

    # Mounted by django_jwt_email.urls whenever django.contrib.admin is installed,
    # as it is in the test settings: a missing route fails the test.
    admin_request = reverse("django_jwt_email:admin_request")
    rates(request_email="1/h")
    staff = user_factory("staff@example.com", is_staff=True)
    assert client.post("/auth/request/", {"email": staff.email}).status_code == 202
    response = client.post(
        admin_request, {"email": "Staff@Example.com"}, HTTP_ACCEPT="text/html,*/*;q=0.8"
    )
    assert_429(response)
    assert b"Too many attempts" in response.content
    assert len(mailoutbox) == 1
    assert limited_events() == [("request_email", "127.0.0.1")]


# --- the answer ----------------------------------------------------------------------


def test_the_api_and_the_page_say_the_same_wait(user, client, rates):
    rates(request_ip="1/h")
    assert client.post("/auth/request/", {"email": user.email}).status_code == 202
    as_json = client.post("/auth/request/", {"email": user.email})
    as_page = client.post("/auth/request/", {"email": user.email}, HTTP_ACCEPT="text/html")
    assert as_json["Retry-After"] == as_page["Retry-After"]
    wait = wait_in_words(int(as_json["Retry-After"]))
    assert as_json.json()["detail"] == f"Too many requests. Try again in {wait}."
    assert f"Please wait {wait} and try again." in as_page.content.decode()
    assert "seconds" not in wait or int(as_json["Retry-After"]) < 90


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (89, "89 seconds"),
        (90, "2 minutes"),
        (2195, "37 minutes"),
        (3600, "60 minutes"),
        (5340, "89 minutes"),
        (5341, "2 hours"),
        (86400, "24 hours"),
    ],
)
def test_waits_are_told_in_the_unit_a_person_reads(seconds, words):
    assert wait_in_words(seconds) == words


# --- both modes ----------------------------------------------------------------------


def test_the_middleware_takes_the_mode_of_the_chain_it_is_in():
    from asgiref.sync import iscoroutinefunction

    from django_jwt_email.middleware import RateLimitMiddleware

    async def async_view(request):
        return None

    assert RateLimitMiddleware.sync_capable and RateLimitMiddleware.async_capable
    assert iscoroutinefunction(RateLimitMiddleware(async_view))
    assert not iscoroutinefunction(RateLimitMiddleware(lambda request: None))
