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
    ],
)
def test_addresses_are_normalised_or_dropped(value, expected, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    assert client_ip(factory.get("/", HTTP_X_REAL_IP=value)) == expected


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
