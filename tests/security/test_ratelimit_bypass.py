"""Attempts to slip past the rate limits: respelled addresses, forged client IPs.

The per-address limit (``request_email``) counts the mailbox an address
reaches, so case, surrounding whitespace, Unicode compatibility forms,
``+tags`` and Gmail's dots all land in one bucket (see
``middleware.fold``). The per-IP limits count ``REMOTE_ADDR`` unless a proxy is
configured, so headers a client writes itself change nothing.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from django_jwt_email.models import TokenEvent

pytestmark = pytest.mark.django_db

EMAIL_LIMIT = 5  # RATE_LIMITS["request_email"] = "5/h"
IP_LIMIT = 20  # RATE_LIMITS["request_ip"] = "20/h", ["failed_ip"] = "20/h"


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
    "fullwidth": "\uff41lice@example.com",
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
