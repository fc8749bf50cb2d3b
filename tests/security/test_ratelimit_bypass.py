"""Attempts to slip past the rate limits: respelled addresses, bodies in every
content type the view accepts, forged client IPs, IPv4 through an IPv6 socket,
and floods of forged Bearer tokens.

The per-address limit (``request_email``) counts the mailbox an address
reaches, so case, surrounding whitespace, Unicode compatibility forms,
``+tags`` and Gmail's dots all land in one bucket (see
``addresses.mailbox``), and it counts the address the view parsed and
validated, whatever the body's media type or charset. The per-IP limits count
``REMOTE_ADDR`` unless a proxy is configured, so headers a client writes itself
change nothing.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from django_jwt_email import limits
from django_jwt_email.models import TokenEvent

pytestmark = pytest.mark.django_db

EMAIL_LIMIT = 5  # RATE_LIMITS["request_email"] = "5/h"
IP_LIMIT = 20  # RATE_LIMITS["request_ip"] = "20/h", ["failed_ip"] = "20/h"
BEARER_LIMIT = 60  # RATE_LIMITS["bearer_failed_ip"] = "60/m"


def ask(email: str, ip: str, **headers):
    return APIClient().post(
        "/auth/request/", {"email": email}, format="json", REMOTE_ADDR=ip, **headers
    )


def assert_limited(response, group: str) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert TokenEvent.objects.filter(event="rate_limited", reason=group).exists()


SPELLINGS = {
    "upper-case": "ALICE@EXAMPLE.COM",
    "mixed-case": "Alice@Example.Com",
    "surrounding-spaces": "  alice@example.com  ",
    "tab-and-newline": "\talice@example.com\n",
    "plus-tag": "alice+bomb@example.com",
    "plus-tag-upper": "ALICE+x@Example.com",
    "fullwidth-domain": "alice@\uff45xample.com",
}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_request_email_limit_holds_across_spellings(user_factory, mailoutbox, spelling):
    user_factory("alice@example.com")
    for n in range(EMAIL_LIMIT):  # each from its own IP: only the address is shared
        assert ask("alice@example.com", f"198.51.100.{n + 1}").status_code == 202
    mails = len(mailoutbox)

    response = ask(SPELLINGS[spelling], "198.51.100.99")

    assert_limited(response, "request_email")
    assert len(mailoutbox) == mails


def test_request_email_limit_counts_every_spelling_together(user_factory, mailoutbox):
    user_factory("alice@example.com")
    spellings = list(SPELLINGS.values())[: EMAIL_LIMIT + 1]
    answers = [ask(email, f"198.51.100.{n + 1}") for n, email in enumerate(spellings)]
    assert [answer.status_code for answer in answers[:EMAIL_LIMIT]].count(429) == 0
    assert_limited(answers[EMAIL_LIMIT], "request_email")
    assert len(mailoutbox) <= EMAIL_LIMIT
    assert {r for message in mailoutbox for r in message.recipients()} == {"alice@example.com"}


def test_request_for_a_fullwidth_local_part_is_refused_not_a_new_budget(user_factory, mailoutbox):
    # NFKC would fold it onto alice, but no mailbox takes it: the view refuses it.
    user_factory("alice@example.com")
    for n in range(EMAIL_LIMIT):
        assert ask("alice@example.com", f"198.51.100.{n + 1}").status_code == 202
    response = ask("\uff41lice@example.com", "198.51.100.99")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_email"
    assert len(mailoutbox) == EMAIL_LIMIT


@pytest.mark.parametrize(
    "spelling",
    ["alicesmith@gmail.com", "a.l.i.c.e.smith@gmail.com", "alice.smith+x@googlemail.com"],
)
def test_request_email_limit_folds_gmail_dots(user_factory, mailoutbox, spelling):
    user_factory("alice.smith@gmail.com")
    for n in range(EMAIL_LIMIT):
        assert ask("alice.smith@gmail.com", f"198.51.100.{n + 1}").status_code == 202
    assert_limited(ask(spelling, "198.51.100.99"), "request_email")


FORGED_IP_HEADERS = {
    "x-forwarded-for": "HTTP_X_FORWARDED_FOR",
    "x-real-ip": "HTTP_X_REAL_IP",
    "forwarded": "HTTP_FORWARDED",
    "client-ip": "HTTP_CLIENT_IP",
    "true-client-ip": "HTTP_TRUE_CLIENT_IP",
}


@pytest.mark.parametrize("header", list(FORGED_IP_HEADERS))
def test_request_ip_limit_ignores_client_written_ip_headers(db, mailoutbox, header):
    meta = FORGED_IP_HEADERS[header]
    for n in range(IP_LIMIT):
        forged = f"203.0.113.{n + 1}" if header != "forwarded" else f"for=203.0.113.{n + 1}"
        response = ask(f"someone{n}@example.com", "192.0.2.10", **{meta: forged})
        assert response.status_code == 202
    response = ask("someone-else@example.com", "192.0.2.10", **{meta: "203.0.113.250"})
    assert_limited(response, "request_ip")
    # The audit log names the real client, not the forged one.
    assert set(TokenEvent.objects.values_list("ip", flat=True)) == {"192.0.2.10"}


def test_failed_ip_limit_ignores_rotating_x_forwarded_for(db):
    api = APIClient()
    for n in range(IP_LIMIT):
        response = api.post(
            "/auth/token/",
            {"token": "not.a.token"},
            format="json",
            REMOTE_ADDR="192.0.2.20",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n + 1}",
        )
        assert response.status_code == 400
    response = api.post(
        "/auth/token/",
        {"token": "not.a.token"},
        format="json",
        REMOTE_ADDR="192.0.2.20",
        HTTP_X_FORWARDED_FOR="203.0.113.200",
    )
    assert_limited(response, "failed_ip")


def test_request_ip_limit_holds_across_one_ipv6_subnet(db):
    # One subscriber holds a whole /64: rotating the interface id is free.
    for n in range(IP_LIMIT):
        assert ask(f"someone{n}@example.com", f"2001:db8:1:2::{n + 1:x}").status_code == 202
    assert_limited(ask("someone-else@example.com", "2001:db8:1:2::ffff"), "request_ip")


def test_request_ip_limit_behind_appending_proxy_ignores_client_prefix(db, settings):
    # Behind a proxy that appends the peer (nginx $proxy_add_x_forwarded_for, AWS
    # ALB, Heroku), the first entries are the client's own words; only the last,
    # written by the proxy, is trusted.
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    real = "192.0.2.30"
    for n in range(IP_LIMIT):
        # The client sends "X-Forwarded-For: <anything>"; the proxy appends the peer.
        chain = f"203.0.113.{n + 1}, {real}"
        response = ask(f"someone{n}@example.com", "10.0.0.2", HTTP_X_FORWARDED_FOR=chain)
        assert response.status_code == 202
    response = ask("someone-else@example.com", "10.0.0.2", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {real}")
    assert_limited(response, "request_ip")
    assert set(TokenEvent.objects.values_list("ip", flat=True)) == {real}


# --- the address in every body the view accepts --------------------------------------

# DRF's JSON parser takes any media type that matches application/json with a
# wildcard, and decodes the body in the charset the request names (the test
# client encodes the body in that charset).
JSON_CONTENT_TYPES = [
    "application/*",
    "*/*",
    "*/json",
    "application/json; charset=cp037",
    "application/json; charset=utf-16",
    "application/json",
]


@pytest.mark.parametrize("content_type", JSON_CONTENT_TYPES)
def test_request_email_limit_holds_for_every_content_type_the_view_parses(
    user_factory, mailoutbox, content_type
):
    user_factory("alice@example.com")
    body = json.dumps({"email": "alice@example.com"})
    answers = [
        Client().post(
            "/auth/request/", body, content_type=content_type, REMOTE_ADDR=f"198.51.100.{n + 1}"
        )
        for n in range(EMAIL_LIMIT + 1)
    ]
    assert [answer.status_code for answer in answers[:EMAIL_LIMIT]] == [202] * EMAIL_LIMIT
    assert_limited(answers[EMAIL_LIMIT], "request_email")
    assert len(mailoutbox) == EMAIL_LIMIT


def test_request_email_limit_counts_json_form_and_multipart_together(user_factory, mailoutbox):
    user_factory("alice@example.com")
    as_json = json.dumps({"email": "alice@example.com"})
    sends = [
        lambda ip: Client().post(
            "/auth/request/", as_json, content_type="application/*", REMOTE_ADDR=ip
        ),
        lambda ip: Client().post(
            "/auth/request/",
            "email=alice%40example.com",
            content_type="application/x-www-form-urlencoded",
            REMOTE_ADDR=ip,
        ),
        lambda ip: Client().post("/auth/request/", {"email": "alice@example.com"}, REMOTE_ADDR=ip),
    ]
    answers = [sends[n % 3](f"198.51.100.{n + 1}") for n in range(EMAIL_LIMIT + 1)]
    assert [answer.status_code for answer in answers[:EMAIL_LIMIT]] == [202] * EMAIL_LIMIT
    assert_limited(answers[EMAIL_LIMIT], "request_email")
    assert len(mailoutbox) == EMAIL_LIMIT


# A lone surrogate is no character at all: JSON can carry one ("\\ud800"), UTF-8
# cannot encode it, so nothing may hash it. The serializer refuses it.
LONE_SURROGATES = ["\\ud800@x.org", "alice@\\udfff.example.com", "\\ud83d@example.com"]


@pytest.mark.parametrize("email", LONE_SURROGATES)
def test_request_with_a_lone_surrogate_is_invalid_email_not_500(db, mailoutbox, email):
    body = f'{{"email": "{email}"}}'  # the escape as the client sends it
    client = Client(raise_request_exception=False)
    response = client.post("/auth/request/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": response.json()["detail"], "code": "invalid_email"}
    assert mailoutbox == []


@pytest.mark.parametrize("email", LONE_SURROGATES)
def test_code_with_a_lone_surrogate_is_invalid_email_not_500(db, email):
    body = f'{{"email": "{email}", "code": "AAAA-AAAA"}}'
    client = Client(raise_request_exception=False)
    response = client.post("/auth/code/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_email"


# --- IPv4 clients of a dual-stack socket ----------------------------------------------


def test_ipv4_mapped_clients_each_have_their_own_bucket(db):
    # On a dual-stack socket every IPv4 client arrives as ::ffff:a.b.c.d; masked as
    # IPv6 (/64), all of them would share the one bucket "::".
    for n in range(IP_LIMIT):
        assert ask(f"someone{n}@example.com", "::ffff:192.0.2.40").status_code == 202
    assert_limited(ask("someone-else@example.com", "::ffff:192.0.2.40"), "request_ip")
    assert ask("another@example.com", "::ffff:192.0.2.41").status_code == 202
    # The plain IPv4 address is the same client as its mapped form.
    assert_limited(ask("a-third@example.com", "192.0.2.40"), "request_ip")
    # The audit log names the IPv4 client too.
    assert set(TokenEvent.objects.values_list("ip", flat=True)) == {"192.0.2.40"}


# --- floods of forged Bearer tokens ----------------------------------------------------


def test_forged_bearer_flood_writes_at_most_the_rate_then_one_count(
    db, frozen_clock, django_assert_num_queries
):
    api = APIClient()
    forged = {"HTTP_AUTHORIZATION": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."}
    for _ in range(BEARER_LIMIT):
        response = api.get("/api/me/", REMOTE_ADDR="192.0.2.50", **forged)
        assert response.status_code == 401
    assert TokenEvent.objects.filter(event="rejected", ip="192.0.2.50").count() == BEARER_LIMIT
    # Beyond the rate, a refusal is still a 401, but writes nothing to the database.
    for _ in range(500):
        with django_assert_num_queries(0):
            response = api.get("/api/me/", REMOTE_ADDR="192.0.2.50", **forged)
        assert response.status_code == 401
    assert TokenEvent.objects.count() == BEARER_LIMIT
    # Once the window is over, the next refusal (anyone's) writes one row that counts them.
    frozen_clock.now += 60
    api.get("/api/me/", REMOTE_ADDR="198.51.100.60", **forged)
    summary = TokenEvent.objects.get(event="rate_limited")
    assert (summary.reason, summary.ip, summary.count) == ("bearer_failed_ip", "192.0.2.50", 500)
    assert limits.write_bearer_summaries(frozen_clock.now + 3600) == 0  # never twice
