"""Settings: every default readable, live values, the RATE_LIMITS merge,
django-ratelimit's settings with its defaults, and the key ring rebuilt when
Django says a setting changed."""

from __future__ import annotations

import copy
import inspect
import json
import re
from base64 import urlsafe_b64decode
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings

from django_jwt_email import tokens
from django_jwt_email.conf import (
    DEFAULTS,
    PREFIX,
    RATELIMIT_DEFAULTS,
    app_settings,
    ratelimit_setting,
)
from django_jwt_email.exceptions import ConfigurationError
from django_jwt_email.keys import get_keyring

KEY_DIR = Path(__file__).parent / "keys"
ED25519 = {"kid": "ed", "algorithm": "EdDSA", "private_key": f"file:{KEY_DIR / 'ed25519.pem'}"}
ES256 = {"kid": "test-es256", "algorithm": "ES256", "private_key": f"file:{KEY_DIR / 'es256.pem'}"}


def kid_of(token: str) -> str:
    head = token.split(".")[0]
    return json.loads(urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]


# The documented defaults, written out: a default is part of the public contract,
# so changing one in conf.py must fail here (and be a changelog entry). A setting
# added to DEFAULTS without a line here fails too.
DOCUMENTED_DEFAULTS = {
    "SIGNING_KEYS": [],
    "ALLOW_SYMMETRIC": False,
    "ISSUER": "django-jwt-email",
    "AUDIENCE": "django-jwt-email",
    "LOGIN_TOKEN_TTL": timedelta(minutes=10),
    "ACCESS_TOKEN_TTL": timedelta(minutes=5),
    "REFRESH_TOKEN_TTL": timedelta(days=14),
    "LEEWAY": timedelta(seconds=30),
    "MAX_TOKEN_LENGTH": 4096,
    "LINK_BASE_URL": "",
    "CREATE_USERS": False,
    "EMAIL_SUBJECT_TEMPLATE": "django_jwt_email/email_subject.txt",
    "EMAIL_TEXT_TEMPLATE": "django_jwt_email/email.txt",
    "EMAIL_HTML_TEMPLATE": "django_jwt_email/email.html",
    "EMAIL_SENDER": "django_jwt_email.services.deliver_now",
    "EMAIL_TIMEOUT": 10,
    "ENQUEUE_TIMEOUT": 2,
    "RATE_LIMITS": {
        "request_ip": "20/h",
        "request_email": "5/h",
        "verify_ip": "60/m",
        "token_ip": "60/m",
        "code_ip": "30/m",
        "refresh_ip": "120/m",
        "failed_ip": "20/h",
        "bearer_failed_ip": "60/m",
    },
    "REVOCATION_CACHE": "default",
    "AUDIT_RETENTION": timedelta(days=90),
    "ACCESS_TOKEN_SCOPES": ["api"],
    "CLIENT_ID": None,
    "CODE_LENGTH": 8,
    "CODE_ALPHABET": "23456789ABCDEFGHJKLMNPQRSTUVWXYZ",
    "CODE_MAX_ATTEMPTS": 3,
    "BIND_TO_BROWSER": False,
    "LINK_URL": None,
    "TOKEN_TRANSPORT": "body",
    "ADAPTER": "django_jwt_email.adapter.DefaultAdapter",
    "UPDATE_LAST_LOGIN": True,
    "SESSION_AGE": None,
    "AUDIT_EVERY_REFRESH": False,
    "ADMIN_LOGIN_LINK": False,
}


def test_every_setting_has_a_documented_default():
    assert sorted(DEFAULTS) == sorted(DOCUMENTED_DEFAULTS)


@pytest.mark.parametrize("name", sorted(DOCUMENTED_DEFAULTS))
def test_every_setting_defaults_to_its_documented_value(settings, name):
    if hasattr(settings, PREFIX + name):
        delattr(settings, PREFIX + name)
    assert getattr(app_settings, name) == DOCUMENTED_DEFAULTS[name]


def test_the_app_names_at_least_the_settings_of_the_design():
    assert set(DEFAULTS) >= {
        "SIGNING_KEYS", "ALLOW_SYMMETRIC", "ISSUER", "AUDIENCE", "LOGIN_TOKEN_TTL",
        "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "LEEWAY", "MAX_TOKEN_LENGTH",
        "LINK_BASE_URL", "CREATE_USERS", "EMAIL_SUBJECT_TEMPLATE", "EMAIL_TEXT_TEMPLATE",
        "EMAIL_HTML_TEMPLATE", "EMAIL_SENDER", "RATE_LIMITS",
        "REVOCATION_CACHE", "AUDIT_RETENTION", "ACCESS_TOKEN_SCOPES", "CODE_LENGTH",
        "CODE_MAX_ATTEMPTS", "BIND_TO_BROWSER",
    }  # fmt: skip


def test_site_value_is_read_live_with_the_settings_fixture(settings):
    settings.JWT_EMAIL_ISSUER = "https://id.example.com"
    assert app_settings.ISSUER == "https://id.example.com"
    assert (
        tokens.mint(tokens.TokenKind.LOGIN, subject="1").claims["iss"] == "https://id.example.com"
    )
    settings.JWT_EMAIL_ISSUER = "https://other.example.com"
    assert app_settings.ISSUER == "https://other.example.com"


def test_site_value_is_read_live_with_override_settings():
    with override_settings(JWT_EMAIL_LOGIN_TOKEN_TTL=timedelta(minutes=3)):
        assert app_settings.LOGIN_TOKEN_TTL == timedelta(minutes=3)
        minted = tokens.mint(tokens.TokenKind.LOGIN, subject="1")
        assert minted.claims["exp"] - minted.claims["iat"] == 180
    assert app_settings.LOGIN_TOKEN_TTL == timedelta(minutes=10)


@override_settings(JWT_EMAIL_CREATE_USERS=True)
def test_override_settings_as_a_decorator():
    assert app_settings.CREATE_USERS is True


def test_rate_limits_are_merged_over_the_defaults(settings):
    defaults = copy.deepcopy(DEFAULTS["RATE_LIMITS"])
    settings.JWT_EMAIL_RATE_LIMITS = {"request_email": "2/h", "custom": "1/m"}
    assert app_settings.RATE_LIMITS == {**defaults, "request_email": "2/h", "custom": "1/m"}
    # The defaults themselves are never changed by a merge.
    assert DEFAULTS["RATE_LIMITS"] == defaults
    merged = app_settings.RATE_LIMITS
    merged["request_ip"] = "0/s"
    assert app_settings.RATE_LIMITS["request_ip"] == defaults["request_ip"]


def test_rate_limits_that_are_not_a_dict_are_left_for_the_checks(settings):
    settings.JWT_EMAIL_RATE_LIMITS = "5/m"
    assert app_settings.RATE_LIMITS == "5/m"


def test_the_rate_limit_cache_is_django_ratelimits_own(settings):
    # JWT_EMAIL_RATELIMIT_CACHE is gone: the counters live where RATELIMIT_USE_CACHE says.
    assert "RATELIMIT_CACHE" not in DEFAULTS
    assert ratelimit_setting("RATELIMIT_USE_CACHE") == "default"
    settings.RATELIMIT_USE_CACHE = "limits"
    assert ratelimit_setting("RATELIMIT_USE_CACHE") == "limits"


@pytest.mark.parametrize("name", sorted(RATELIMIT_DEFAULTS))
def test_django_ratelimit_settings_default_to_django_ratelimits_defaults(settings, name):
    from django_ratelimit import core

    if hasattr(settings, name):
        delattr(settings, name)
    assert ratelimit_setting(name) == RATELIMIT_DEFAULTS[name]
    # The defaults are django-ratelimit's own (where its source names one).
    source = inspect.getsource(core)
    if f"'{name}'" in source:
        assert re.search(rf"'{name}',\s*{re.escape(repr(RATELIMIT_DEFAULTS[name]))}", source)


@pytest.mark.parametrize("name", ["NOPE", "DEBUG", "SECRET_KEY", "rate_limits", "PREFIX"])
def test_unknown_name_raises_attribute_error(name):
    with pytest.raises(AttributeError, match=f"{PREFIX}{name}"):
        getattr(app_settings, name)
    assert not hasattr(app_settings, name)


def test_key_ring_is_kept_while_the_setting_is_unchanged():
    assert get_keyring() is get_keyring()


def test_key_ring_is_rebuilt_when_signing_keys_change(settings):
    before = get_keyring()
    assert kid_of(tokens.mint(tokens.TokenKind.LOGIN, subject="1").token) == "test-es256"
    settings.JWT_EMAIL_SIGNING_KEYS = [ED25519, ES256]
    assert get_keyring() is not before
    assert kid_of(tokens.mint(tokens.TokenKind.LOGIN, subject="1").token) == "ed"


def test_key_ring_is_restored_when_an_override_ends():
    with override_settings(JWT_EMAIL_SIGNING_KEYS=[ED25519]):
        assert kid_of(tokens.mint(tokens.TokenKind.LOGIN, subject="1").token) == "ed"
    assert kid_of(tokens.mint(tokens.TokenKind.LOGIN, subject="1").token) == "test-es256"


def test_key_ring_is_rebuilt_when_allow_symmetric_changes(settings):
    secret = {"kid": "hs", "algorithm": "HS256", "private_key": f"file:{KEY_DIR / 'hs256.secret'}"}
    settings.JWT_EMAIL_ALLOW_SYMMETRIC = True
    settings.JWT_EMAIL_SIGNING_KEYS = [secret]
    assert kid_of(tokens.mint(tokens.TokenKind.LOGIN, subject="1").token) == "hs"
    settings.JWT_EMAIL_ALLOW_SYMMETRIC = False
    with pytest.raises(ConfigurationError) as caught:
        tokens.mint(tokens.TokenKind.LOGIN, subject="1")
    assert caught.value.reason == "symmetric"


def test_other_settings_do_not_drop_the_key_ring(settings):
    before = get_keyring()
    settings.JWT_EMAIL_ISSUER = "elsewhere"
    assert get_keyring() is before
