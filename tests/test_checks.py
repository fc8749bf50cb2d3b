"""System checks: each bad setting is named by django_jwt_email.E002, each unsafe
deployment has its own error or warning, and a good configuration has none."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_jwt_email.checks import EXPECTED, MIDDLEWARE_PATH, check_redis_timeouts
from django_jwt_email.conf import DEFAULTS, PREFIX

KEY_DIR = Path(__file__).parent / "keys"
ES256 = {"kid": "k", "algorithm": "ES256", "private_key": f"file:{KEY_DIR / 'es256.pem'}"}
LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
REDIS = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:6379/9",
    "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
}

# One bad value per setting: what a site might plausibly get wrong.
BAD = {
    "SIGNING_KEYS": "file:/etc/jwt/es256.pem",  # a source, not a list of entries
    "ALLOW_SYMMETRIC": "yes",
    "ISSUER": "",
    "AUDIENCE": 42,
    "LOGIN_TOKEN_TTL": 600,  # seconds instead of a timedelta
    "ACCESS_TOKEN_TTL": timedelta(0),
    "REFRESH_TOKEN_TTL": timedelta(days=-1),
    "LEEWAY": timedelta(minutes=10),
    "MAX_TOKEN_LENGTH": 100,
    "LINK_BASE_URL": "app.example.com",
    "CREATE_USERS": 1,
    "EMAIL_SUBJECT_TEMPLATE": None,
    "EMAIL_TEXT_TEMPLATE": "",
    "EMAIL_HTML_TEMPLATE": 3,
    "EMAIL_SENDER": "django_jwt_email.services.no_such_sender",
    "EMAIL_TIMEOUT": timedelta(seconds=10),  # a timedelta, as the TTLs, not seconds
    "ENQUEUE_TIMEOUT": None,  # the enqueue must be bounded
    "RATE_LIMITS": {"request_ip": "lots"},
    "REVOCATION_CACHE": "revocation",
    "AUDIT_RETENTION": "90 days",
    "ACCESS_TOKEN_SCOPES": "api",  # a string, not a list
    "CODE_LENGTH": 4,
    "CODE_ALPHABET": "0123",
    "CODE_MAX_ATTEMPTS": 0,
    "BIND_TO_BROWSER": "no",
    "LINK_URL": "https://app.example.com/signin",  # no {token}
    "TOKEN_TRANSPORT": "cookies",
    "CLIENT_ID": "",
    "ADAPTER": "django_jwt_email.tokens.TokenKind",  # importable, but not an adapter
    "UPDATE_LAST_LOGIN": 1,
    "SESSION_AGE": 0,
    "AUDIT_EVERY_REFRESH": "yes",
    "ADMIN_LOGIN_LINK": None,
}


def app_messages(deploy: bool = False) -> list:
    return [
        message
        for message in run_checks(include_deployment_checks=deploy)
        if message.id and message.id.startswith("django_jwt_email.")
    ]


def ids(deploy: bool = False) -> set[str]:
    return {message.id for message in app_messages(deploy)}


def only(check_id: str, deploy: bool = False):
    (message,) = [m for m in app_messages(deploy) if m.id == check_id]
    assert message.hint
    return message


@pytest.fixture
def good(settings):
    """A production configuration the checks approve of entirely."""
    settings.DEBUG = False
    settings.JWT_EMAIL_SIGNING_KEYS = [ES256]
    settings.JWT_EMAIL_LINK_BASE_URL = "https://app.example.com"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE_PATH]
    settings.CACHES = {"default": LOCMEM, "shared": REDIS}
    settings.RATELIMIT_USE_CACHE = "shared"
    settings.JWT_EMAIL_REVOCATION_CACHE = "shared"
    settings.JWT_EMAIL_EMAIL_SENDER = "django_jwt_email.tasks.deliver_later"
    return settings


def test_good_configuration_has_no_message(good):
    assert app_messages(deploy=True) == []


def test_every_setting_has_a_bad_value_here():
    assert set(BAD) == set(EXPECTED) == set(DEFAULTS)


def test_rate_limits_given_as_a_list_are_e002(good):
    good.JWT_EMAIL_RATE_LIMITS = ["5/m", "100/h"]
    (error,) = [m for m in app_messages() if m.id == "django_jwt_email.E002"]
    assert error.msg.startswith("JWT_EMAIL_RATE_LIMITS is ")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_value_is_named_by_e002(good, name):
    setattr(good, PREFIX + name, BAD[name])
    errors = [m for m in app_messages(deploy=True) if m.id == "django_jwt_email.E002"]
    assert len(errors) == 1, [m.msg for m in errors]
    (error,) = errors
    assert error.msg.startswith(f"{PREFIX}{name} is ")
    assert "expected " in error.msg
    assert f"{PREFIX}{name}" in error.hint


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_default_value_passes_validation_but_for_required_settings(good, name):
    delattr(good, PREFIX + name)
    errors = {m.msg.split(" ")[0] for m in app_messages() if m.id == "django_jwt_email.E002"}
    required = {"LINK_BASE_URL"}  # no sensible default: links need the site's address
    assert errors == ({f"{PREFIX}{name}"} if name in required else set())


def test_required_setting_hint_does_not_offer_its_unusable_default(good):
    del good.JWT_EMAIL_LINK_BASE_URL
    error = only("django_jwt_email.E002")
    assert "JWT_EMAIL_LINK_BASE_URL" in error.msg
    assert error.hint.startswith("Set JWT_EMAIL_LINK_BASE_URL")
    assert "remove it" not in error.hint


def test_bad_settings_fail_manage_py_check(good):
    good.JWT_EMAIL_LEEWAY = timedelta(hours=1)
    with pytest.raises(SystemCheckError, match=r"django_jwt_email\.E002"):
        call_command("check", tags=["security"])


# -- E001: no usable signing key ----------------------------------------------------


@pytest.mark.parametrize(
    "keys",
    [
        [],
        [{"kid": "k", "algorithm": "ES256", "private_key": "file:/nonexistent/key.pem"}],
        [{"kid": "k", "algorithm": "ES256", "private_key": "env:JWT_EMAIL_TEST_UNSET_VAR"}],
        [{"kid": "k", "algorithm": "ES256", "private_key": "not a pem"}],
        [{"kid": "k", "algorithm": "ES256", "public_key": f"file:{KEY_DIR / 'es256.pub.pem'}"}],
        [{"kid": "k", "algorithm": "ES384", "private_key": ES256["private_key"]}],
        [ES256, ES256],
    ],
    ids=["none", "missing-file", "unset-env", "not-pem", "public-only", "wrong-curve", "dup-kid"],
)
def test_unusable_signing_keys_are_e001(good, monkeypatch, keys):
    monkeypatch.delenv("JWT_EMAIL_TEST_UNSET_VAR", raising=False)
    good.JWT_EMAIL_SIGNING_KEYS = keys
    error = only("django_jwt_email.E001")
    assert error.msg.startswith("JWT_EMAIL_SIGNING_KEYS: ")
    assert "jwt_email_keys generate" in error.hint


def test_checks_never_echo_key_material(good):
    # A PEM pasted where the list belongs: E002 and E001 say so without showing it.
    pem = (KEY_DIR / "es256.pem").read_text()
    good.JWT_EMAIL_SIGNING_KEYS = pem
    messages = app_messages(deploy=True)
    assert {"django_jwt_email.E001", "django_jwt_email.E002"} <= {m.id for m in messages}
    body = pem.splitlines()[1]
    for message in messages:
        assert body[:16] not in f"{message.msg} {message.hint}"
    assert "JWT_EMAIL_SIGNING_KEYS is a str;" in only("django_jwt_email.E002").msg


def test_unreadable_key_file_is_named(good):
    good.JWT_EMAIL_SIGNING_KEYS = [{**ES256, "private_key": "file:/nonexistent/key.pem"}]
    assert "/nonexistent/key.pem" in only("django_jwt_email.E001").msg


def test_no_signing_key_by_default(good):
    del good.JWT_EMAIL_SIGNING_KEYS
    assert "django_jwt_email.E001" in ids()


# -- E003, E004, W001, W002 -----------------------------------------------------------


@pytest.mark.parametrize(
    "template,refused",
    [
        ("http://app.example.com/signin#token={token}", True),
        ("HTTP://app.example.com/signin#token={token}", True),
        ("https://app.example.com/signin#token={token}", False),
        ("myapp://signin?token={token}", False),  # a mobile app's deep link
    ],
)
def test_a_link_url_for_the_web_must_be_https_outside_debug(good, template, refused):
    good.JWT_EMAIL_LINK_URL = template
    assert ("django_jwt_email.E003" in ids()) is refused
    good.DEBUG = True
    assert "django_jwt_email.E003" not in ids()


def test_http_link_base_url_outside_debug_is_e003(good):
    good.JWT_EMAIL_LINK_BASE_URL = "http://app.example.com"
    assert "http" in only("django_jwt_email.E003").msg
    good.DEBUG = True
    assert "django_jwt_email.E003" not in ids()


def test_http_link_url_outside_debug_is_e003(good):
    good.JWT_EMAIL_LINK_URL = "http://app.example.com/signin#token={token}"
    assert "JWT_EMAIL_LINK_URL" in only("django_jwt_email.E003").msg
    good.DEBUG = True
    assert "django_jwt_email.E003" not in ids()


@pytest.mark.parametrize(
    "template",
    ["https://app.example.com/signin#token={token}", "myapp://signin?token={token}"],
)
def test_https_or_app_scheme_link_url_is_fine(good, template):
    good.JWT_EMAIL_LINK_URL = template
    assert not [i for i in ids() if i in ("django_jwt_email.E002", "django_jwt_email.E003")]


def test_weak_rsa_key_is_e004(good):
    good.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "rsa", "algorithm": "RS256", "private_key": f"file:{KEY_DIR / 'rs1024.pem'}"}
    ]
    assert "1024" in only("django_jwt_email.E004").msg
    assert "django_jwt_email.E001" not in ids()


def test_weak_rsa_key_in_second_place_is_e004(good):
    good.JWT_EMAIL_SIGNING_KEYS = [
        ES256,
        {"kid": "rsa", "algorithm": "RS256", "private_key": f"file:{KEY_DIR / 'rs1024.pem'}"},
    ]
    assert "django_jwt_email.E004" in ids()


def test_symmetric_key_is_w001_when_allowed_and_e001_otherwise(good):
    good.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "hs", "algorithm": "HS256", "private_key": f"file:{KEY_DIR / 'hs256.secret'}"}
    ]
    assert "ALLOW_SYMMETRIC" in only("django_jwt_email.E001").msg
    assert "django_jwt_email.W001" not in ids()
    good.JWT_EMAIL_ALLOW_SYMMETRIC = True
    assert "hs" in only("django_jwt_email.W001").msg
    assert "django_jwt_email.E001" not in ids()


def test_login_ttl_over_an_hour_is_w002(good):
    good.JWT_EMAIL_LOGIN_TOKEN_TTL = timedelta(hours=1)
    assert "django_jwt_email.W002" not in ids()
    good.JWT_EMAIL_LOGIN_TOKEN_TTL = timedelta(hours=1, seconds=1)
    assert "JWT_EMAIL_LOGIN_TOKEN_TTL" in only("django_jwt_email.W002").msg


# -- W003/W004: caches that each process keeps to itself -----------------------------


def test_local_rate_limit_cache_outside_debug_is_w003(good):
    good.RATELIMIT_USE_CACHE = "default"
    warning = only("django_jwt_email.W003")
    assert "RATELIMIT_USE_CACHE 'default'" in warning.msg
    assert "RATELIMIT_USE_CACHE" in warning.hint
    assert "django_jwt_email.W004" not in ids()


def test_rate_limit_cache_defaults_to_django_ratelimits_default(good):
    del good.RATELIMIT_USE_CACHE  # django-ratelimit's default: "default", local here
    assert "django_jwt_email.W003" in ids()


def test_rate_limit_cache_not_in_caches_is_e002(good):
    good.RATELIMIT_USE_CACHE = "limits"
    error = only("django_jwt_email.E002")
    assert error.msg == "RATELIMIT_USE_CACHE is 'limits'; expected an alias in CACHES."


def test_local_revocation_cache_outside_debug_is_w004(good):
    good.JWT_EMAIL_REVOCATION_CACHE = "default"
    assert "JWT_EMAIL_REVOCATION_CACHE" in only("django_jwt_email.W004").msg
    assert "django_jwt_email.W003" not in ids()


def test_dummy_cache_is_not_shared_either(good):
    good.CACHES = {
        "default": LOCMEM,
        "shared": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    assert {"django_jwt_email.W003", "django_jwt_email.W004"} <= ids()


def test_local_caches_are_fine_in_debug(good):
    good.RATELIMIT_USE_CACHE = good.JWT_EMAIL_REVOCATION_CACHE = "default"
    assert {"django_jwt_email.W003", "django_jwt_email.W004"} <= ids()
    good.DEBUG = True
    assert not {"django_jwt_email.W003", "django_jwt_email.W004"} & ids()


# -- W007: Redis without socket timeouts -------------------------------------------


DJANGO_REDIS = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/9"}


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({**REDIS, "OPTIONS": {}}, "socket_connect_timeout and socket_timeout"),
        ({**REDIS, "OPTIONS": {"socket_timeout": 1}}, "socket_connect_timeout"),
        ({**REDIS, "OPTIONS": {"socket_connect_timeout": 1}}, "socket_timeout"),
        ({k: v for k, v in REDIS.items() if k != "OPTIONS"}, "socket_connect_timeout and"),
        (DJANGO_REDIS, "socket_connect_timeout and socket_timeout"),
        (
            {**REDIS, "OPTIONS": {}, "LOCATION": ["redis://primary/0", "redis://replica/0"]},
            "socket_connect_timeout and socket_timeout",
        ),
    ],
    ids=[
        "no-options",
        "no-connect-timeout",
        "no-read-timeout",
        "no-options-key",
        "django-redis",
        "replicas",
    ],
)
def test_redis_without_socket_timeouts_is_w008_on_deploy(good, config, missing):
    good.CACHES = {"default": LOCMEM, "shared": config}
    # Called alone: Django's own cache checks would load django-redis, not installed here.
    warnings = check_redis_timeouts()
    assert {w.id for w in warnings} == {"django_jwt_email.W007"}
    # Both the rate-limit and the revocation cache are "shared" in the good setup.
    assert {("RATELIMIT_USE_CACHE" in w.msg, "REVOCATION_CACHE" in w.msg) for w in warnings} == {
        (True, False),
        (False, True),
    }
    assert all(missing in w.msg and "'shared'" in w.hint for w in warnings)


@pytest.mark.parametrize(
    "config",
    [
        REDIS,
        {**DJANGO_REDIS, "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}},
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/9?socket_timeout=1&socket_connect_timeout=1",
        },
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": [
                "redis://primary/0?socket_timeout=1&socket_connect_timeout=1",
                "redis://replica/0?socket_timeout=1&socket_connect_timeout=1",
            ],
        },
        {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache"},
    ],
    ids=["redis-options", "django-redis-options", "in-the-url", "in-each-url", "not-redis"],
)
def test_redis_with_socket_timeouts_or_another_cache_is_fine(good, config):
    good.CACHES = {"default": LOCMEM, "shared": config}
    assert check_redis_timeouts() == []


def test_w008_is_a_deploy_check(good):
    good.CACHES = {"default": LOCMEM, "shared": {**REDIS, "OPTIONS": {}}}
    assert "django_jwt_email.W007" not in ids(deploy=False)
    assert "django_jwt_email.W007" in ids(deploy=True)


def test_only_the_caches_the_app_uses_are_checked_for_timeouts(good):
    good.CACHES = {**good.CACHES, "sessions": {**REDIS, "OPTIONS": {}}}
    assert "django_jwt_email.W007" not in ids(deploy=True)
    good.JWT_EMAIL_REVOCATION_CACHE = "sessions"
    warning = only("django_jwt_email.W007", deploy=True)
    assert "'sessions' (JWT_EMAIL_REVOCATION_CACHE)" in warning.msg


# -- W005, W006 -----------------------------------------------------------------------


def test_missing_middleware_is_w005(good):
    good.MIDDLEWARE = [path for path in good.MIDDLEWARE if path != MIDDLEWARE_PATH]
    assert MIDDLEWARE_PATH in only("django_jwt_email.W005").msg


def test_inline_sender_outside_debug_is_w006_on_deploy_only(good):
    del good.JWT_EMAIL_EMAIL_SENDER
    assert "django_jwt_email.W006" not in ids(deploy=False)
    assert "deliver_later" in only("django_jwt_email.W006", deploy=True).hint
    good.DEBUG = True
    assert "django_jwt_email.W006" not in ids(deploy=True)


@pytest.mark.parametrize(
    "sender",
    [
        "django_jwt_email.services.deliver_now",
        "django_jwt_email.tasks.deliver_later",
        "django_jwt_email.django_tasks.deliver_later",
    ],
)
def test_each_shipped_sender_is_accepted(good, sender):
    good.JWT_EMAIL_EMAIL_SENDER = sender
    assert "django_jwt_email.E002" not in ids(deploy=True)


def test_inline_sender_hint_names_both_queued_senders(good):
    del good.JWT_EMAIL_EMAIL_SENDER
    hint = only("django_jwt_email.W006", deploy=True).hint
    assert "django_jwt_email.tasks.deliver_later" in hint
    assert "django_jwt_email.django_tasks.deliver_later" in hint


def test_check_deploy_command_reports_w006(good):
    del good.JWT_EMAIL_EMAIL_SENDER
    # Warnings do not fail the command; they are printed.
    # (Tagged: the suite also loads other apps' checks, which are not ours to test.)
    call_command("check", deploy=True, tags=["security"], fail_level="ERROR")
    with pytest.raises(SystemCheckError, match=r"django_jwt_email\.W006"):
        call_command("check", deploy=True, tags=["security"], fail_level="WARNING")


# -- W008: sign-in emails without any timeout ---------------------------------------

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def test_no_email_timeout_with_an_smtp_backend_that_sets_none_is_w008_on_deploy_only(good):
    good.EMAIL_BACKEND = SMTP
    good.EMAIL_TIMEOUT = None
    good.JWT_EMAIL_EMAIL_TIMEOUT = None
    assert "django_jwt_email.W008" not in ids(deploy=False)
    message = only("django_jwt_email.W008", deploy=True)
    assert "JWT_EMAIL_EMAIL_TIMEOUT is None" in message.msg
    assert "10 seconds" in message.hint


def test_the_default_email_timeout_is_no_w008(good):
    good.EMAIL_BACKEND = SMTP
    good.EMAIL_TIMEOUT = None
    assert "django_jwt_email.W008" not in ids(deploy=True)


def test_a_timeout_of_the_backends_own_is_no_w008(good):
    good.EMAIL_BACKEND = SMTP
    good.EMAIL_TIMEOUT = 5
    good.JWT_EMAIL_EMAIL_TIMEOUT = None
    assert "django_jwt_email.W008" not in ids(deploy=True)


def test_a_backend_without_a_timeout_option_is_no_w008(good):
    # The locmem backend (as an email provider's API client) has no socket to bound.
    good.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    good.JWT_EMAIL_EMAIL_TIMEOUT = None
    assert "django_jwt_email.W008" not in ids(deploy=True)


def test_an_unusable_mail_backend_is_left_to_django(good):
    """W008 cannot tell whether a backend it cannot load has a timeout: it says
    nothing (sending would fail loudly), and the checks themselves do not fail."""
    good.EMAIL_BACKEND = "mysite.mail.NoSuchBackend"
    good.JWT_EMAIL_EMAIL_TIMEOUT = None
    assert "django_jwt_email.W008" not in ids(deploy=True)
