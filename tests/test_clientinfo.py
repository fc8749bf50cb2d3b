"""Who is asking: the client IP (and RATELIMIT_IP_META_KEY) and user agent."""

import pytest
from django.test import RequestFactory

from django_jwt_email.clientinfo import client_ip
from django_jwt_email.models import TokenEvent

factory = RequestFactory()


def test_without_the_setting_remote_addr_is_used_and_forwarded_for_ignored():
    request = factory.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert client_ip(request) == "192.0.2.1"


def test_a_header_setting_takes_the_entry_the_proxy_appended(settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    request = factory.get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.23"
    )
    assert client_ip(request) == "198.51.100.23"


def test_a_header_setting_with_one_entry(settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    assert client_ip(factory.get("/", HTTP_X_REAL_IP=" 198.51.100.23 ")) == "198.51.100.23"


def test_a_callable_setting_decides(settings):
    settings.RATELIMIT_IP_META_KEY = lambda request: request.META["HTTP_X_FORWARDED_FOR"].split(
        ","
    )[-2]
    request = factory.get("/", HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.23, 10.0.0.1")
    assert client_ip(request) == "198.51.100.23"


def pick_custom_header(request):
    return request.META.get("HTTP_X_CLIENT", "")


def test_a_dotted_path_setting_is_imported(settings):
    settings.RATELIMIT_IP_META_KEY = "tests.test_clientinfo.pick_custom_header"
    assert client_ip(factory.get("/", HTTP_X_CLIENT="2001:db8::7")) == "2001:db8::7"


@pytest.mark.parametrize(
    "value,expected",
    [
        ("203.0.113.9:51234", "203.0.113.9"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("not-an-ip", None),
        ("", None),
        ("203.0.113.9<script>", None),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # IPv4 through a dual-stack socket
        ("[::ffff:cb00:7109]:443", "203.0.113.9"),
        ("::ffff:0:203.0.113.9", "::ffff:0:cb00:7109"),  # IPv4-translated: not mapped
    ],
)
def test_addresses_are_normalised_or_dropped(value, expected, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    assert client_ip(factory.get("/", HTTP_X_REAL_IP=value)) == expected


def test_an_ipv4_client_of_a_dual_stack_socket_is_its_ipv4_address():
    assert client_ip(factory.get("/", REMOTE_ADDR="::ffff:192.0.2.1")) == "192.0.2.1"
    assert client_ip(factory.get("/", REMOTE_ADDR="::FFFF:C000:0201")) == "192.0.2.1"


@pytest.mark.django_db
def test_the_audit_log_records_the_configured_client_ip(user, api_client, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    api_client.post(
        "/auth/request/",
        {"email": user.email},
        format="json",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.23",
        HTTP_USER_AGENT="curl/8.5.0",
    )
    assert set(TokenEvent.objects.values_list("ip", "user_agent")) == {
        ("198.51.100.23", "curl/8.5.0")
    }


@pytest.mark.django_db
def test_the_audit_log_records_an_ipv4_mapped_client_as_ipv4(user, api_client):
    api_client.post(
        "/auth/request/", {"email": user.email}, format="json", REMOTE_ADDR="::ffff:198.51.100.23"
    )
    assert set(TokenEvent.objects.values_list("ip", flat=True)) == {"198.51.100.23"}
