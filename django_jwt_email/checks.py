"""System checks: every bad setting is named, with what is expected and a hint.

Ids: ``django_jwt_email.E00x`` (errors: the app cannot work safely) and
``W00x`` (warnings: it works, but not as it should in production). Each check is
a small function, registered below and tested one by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from . import emails
from .conf import DEFAULTS, PREFIX, app_settings, ratelimit_setting
from .exceptions import ConfigurationError
from .keys import SYMMETRIC_MIN_BYTES, load_keyring
from .limits import parse_rate

__all__ = [
    "EXPECTED",
]

MIDDLEWARE_PATH = "django_jwt_email.middleware.RateLimitMiddleware"
LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
# Django's own Redis backend takes redis-py's argument names in OPTIONS;
# django-redis takes upper-case ones (SOCKET_TIMEOUT). Either may be given in
# the LOCATION's query string too, which redis-py reads.
REDIS_CACHES = ("django.core.cache.backends.redis.RedisCache", "django_redis.cache.RedisCache")
REDIS_TIMEOUTS = ("socket_connect_timeout", "socket_timeout")
SECRET_SETTINGS = {"SIGNING_KEYS"}


def _error(id_: int, msg: str, hint: str) -> Error:
    return Error(msg, hint=hint, id=f"django_jwt_email.E{id_:03d}")


def _warning(id_: int, msg: str, hint: str) -> Warning:
    return Warning(msg, hint=hint, id=f"django_jwt_email.W{id_:03d}")


# What each setting must be: (test, what is expected). Checked before anything else.
def _positive(value: Any) -> bool:
    return isinstance(value, timedelta) and value > timedelta(0)


def _seconds(value: Any) -> bool:
    return type(value) in (int, float) and value > 0


def _string_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(item, str) and item and " " not in item for item in value
    )


def _rates(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    try:
        return all(isinstance(key, str) and parse_rate(rate) for key, rate in value.items())
    except ValueError:
        return False


def _cache_alias(value: Any) -> bool:
    return isinstance(value, str) and value in getattr(settings, "CACHES", {"default": {}})


def _importable(value: Any) -> bool:
    try:
        return isinstance(value, str) and callable(import_string(value))
    except ImportError:
        return False


def _link_template(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str) or "{token}" not in value:
        return False
    try:
        value.format(token="")
    except (KeyError, IndexError, ValueError):  # another {field}, or a stray brace
        return False
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://\S+$", value, re.IGNORECASE))


def _adapter_class(value: Any) -> bool:
    from .adapter import DefaultAdapter

    try:
        adapter = import_string(value) if isinstance(value, str) else None
    except ImportError:
        return False
    return isinstance(adapter, type) and issubclass(adapter, DefaultAdapter)


def _alphabet(value: Any) -> bool:
    # Typed codes are upper-cased before comparison, so the alphabet must be
    # upper case too (and "a" and "A" would be one symbol anyway).
    return (
        isinstance(value, str)
        and len(set(value)) == len(value) >= 16
        and value.isalnum()
        and value.isascii()
        and value == value.upper()
    )


EXPECTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "SIGNING_KEYS": (lambda v: isinstance(v, (list, tuple)), "a list of key dicts"),
    "ALLOW_SYMMETRIC": (lambda v: isinstance(v, bool), "True or False"),
    "ISSUER": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
    "AUDIENCE": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
    "LOGIN_TOKEN_TTL": (_positive, "a positive timedelta"),
    "ACCESS_TOKEN_TTL": (_positive, "a positive timedelta"),
    "REFRESH_TOKEN_TTL": (_positive, "a positive timedelta"),
    "LEEWAY": (
        lambda v: isinstance(v, timedelta) and timedelta(0) <= v <= timedelta(minutes=5),
        "a timedelta from 0 to 5 minutes",
    ),
    "MAX_TOKEN_LENGTH": (
        lambda v: type(v) is int and 512 <= v <= 65536,
        "an integer from 512 to 65536 (bytes)",
    ),
    "LINK_BASE_URL": (
        lambda v: isinstance(v, str) and bool(re.match(r"^https?://[^/?#\s]+/?$", v)),
        "the scheme and host of your site, e.g. 'https://example.com'",
    ),
    "CREATE_USERS": (lambda v: isinstance(v, bool), "True or False"),
    "EMAIL_SUBJECT_TEMPLATE": (lambda v: isinstance(v, str) and bool(v), "a template name"),
    "EMAIL_TEXT_TEMPLATE": (lambda v: isinstance(v, str) and bool(v), "a template name"),
    "EMAIL_HTML_TEMPLATE": (lambda v: v is None or isinstance(v, str), "a template name or None"),
    "EMAIL_SENDER": (_importable, "the dotted path of a callable"),
    "EMAIL_TIMEOUT": (
        lambda v: v is None or _seconds(v),
        "a positive number of seconds, or None for no timeout",
    ),
    "ENQUEUE_TIMEOUT": (_seconds, "a positive number of seconds"),
    "RATE_LIMITS": (_rates, "a dict of group name to django-ratelimit rate, e.g. '5/m'"),
    "REVOCATION_CACHE": (_cache_alias, "an alias in CACHES"),
    "AUDIT_RETENTION": (_positive, "a positive timedelta"),
    "ACCESS_TOKEN_SCOPES": (_string_list, "a list of scope names without spaces"),
    "CODE_LENGTH": (lambda v: type(v) is int and 6 <= v <= 16, "an integer from 6 to 16"),
    "CODE_ALPHABET": (
        _alphabet,
        "a string of 16 or more distinct upper-case ASCII letters and digits",
    ),
    "CODE_MAX_ATTEMPTS": (lambda v: type(v) is int and 1 <= v <= 10, "an integer from 1 to 10"),
    "BIND_TO_BROWSER": (lambda v: isinstance(v, bool), "True or False"),
    "LINK_URL": (_link_template, "None, or a URL template containing {token}"),
    "TOKEN_TRANSPORT": (
        lambda v: v in ("body", "cookie", "both"),
        "'body', 'cookie' or 'both'",
    ),
    "CLIENT_ID": (lambda v: v is None or (isinstance(v, str) and bool(v)), "None or a string"),
    "ADAPTER": (_adapter_class, "the dotted path of a DefaultAdapter subclass"),
    "UPDATE_LAST_LOGIN": (lambda v: isinstance(v, bool), "True or False"),
    "SESSION_AGE": (
        lambda v: v is None or (type(v) is int and v > 0),
        "None or a positive number of seconds",
    ),
    "AUDIT_EVERY_REFRESH": (lambda v: isinstance(v, bool), "True or False"),
    "ADMIN_LOGIN_LINK": (lambda v: isinstance(v, bool), "True or False"),
}
assert set(EXPECTED) == set(DEFAULTS), "every setting has a validation rule"


@register(Tags.security)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E002: a setting has a value of the wrong type or range."""
    messages: list[CheckMessage] = []
    for name, (valid, expected) in EXPECTED.items():
        value = getattr(app_settings, name)
        if not valid(value):
            # Never echo key material into check output (CI logs, terminals).
            shown = f"a {type(value).__name__}" if name in SECRET_SETTINGS else repr(value)
            message = f"{PREFIX}{name} is {shown}; expected {expected}."
            messages.append(_error(2, message, _setting_hint(name, valid)))
    return messages


def _setting_hint(name: str, valid: Callable[[Any], bool]) -> str:
    # A setting without a usable default (LINK_BASE_URL) is required: say so
    # rather than suggest removing it.
    if not valid(DEFAULTS[name]):
        return f"Set {PREFIX}{name} in your settings: it has no usable default."
    return (
        f"Fix {PREFIX}{name} in your settings, or remove it to use the default "
        f"({DEFAULTS[name]!r})."
    )


@register(Tags.security)
def check_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001 no usable signing key; E004 weak RSA key; W001 symmetric algorithm."""
    try:
        ring = load_keyring(app_settings.SIGNING_KEYS, app_settings.ALLOW_SYMMETRIC)
        ring.signing_key  # noqa: B018 - raises if the first key cannot sign
    except ConfigurationError as exc:
        if exc.reason == "weak_rsa":
            return [
                _error(4, str(exc.detail), "Generate a key of 2048 bits or more, or use ES256.")
            ]
        return [
            _error(
                1,
                f"{PREFIX}SIGNING_KEYS: {exc.detail}",
                "Generate a key with `python manage.py jwt_email_keys generate "
                "--algorithm ES256` and add the entry it prints.",
            )
        ]
    symmetric = [key.kid for key in ring.keys if key.algorithm in SYMMETRIC_MIN_BYTES]
    if symmetric:
        return [
            _warning(
                1,
                f"Keys {', '.join(symmetric)} use a shared secret (HS*): anyone who can "
                "verify a token can also forge one.",
                "Prefer ES256 or EdDSA, and publish the public key instead of sharing a secret.",
            )
        ]
    return []


@register(Tags.security)
def check_link_base_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E003: links would travel over plain http outside DEBUG (LINK_BASE_URL, or a
    LINK_URL whose scheme is http; an app's own scheme, myapp://, is not the web's)."""
    if settings.DEBUG:
        return []
    messages: list[CheckMessage] = []
    for name in ("LINK_BASE_URL", "LINK_URL"):
        url = getattr(app_settings, name)
        if isinstance(url, str) and url.lower().startswith("http://"):
            messages.append(
                _error(
                    3,
                    f"{PREFIX}{name} is {url!r}: sign-in links would travel over http.",
                    f"Serve the site over https and set an https:// {PREFIX}{name}.",
                )
            )
    return messages


@register(Tags.security)
def check_login_ttl(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W002: login links that live over an hour."""
    ttl = app_settings.LOGIN_TOKEN_TTL
    if isinstance(ttl, timedelta) and ttl > timedelta(hours=1):
        return [
            _warning(
                2,
                f"{PREFIX}LOGIN_TOKEN_TTL is {ttl}: a leaked link stays usable that long.",
                "Keep login links short-lived: 10 minutes (OWASP ASVS 6.5.5), at most an hour.",
            )
        ]
    return []


def _cache_config(alias: object) -> dict[str, Any]:
    caches_setting = getattr(settings, "CACHES", {})
    if not isinstance(alias, str) or alias not in caches_setting:
        return {}
    config: dict[str, Any] = caches_setting[alias]
    return config


def _local_cache(alias: object) -> bool:
    return _cache_config(alias).get("BACKEND") in LOCAL_CACHES


@register(Tags.security, Tags.caches)
def check_caches(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E002 django-ratelimit's cache is not in CACHES; W003 rate-limit counters /
    W004 revocation marks in a cache not shared between processes, outside DEBUG."""
    counters = ratelimit_setting("RATELIMIT_USE_CACHE")
    if not _cache_alias(counters):
        return [
            _error(
                2,
                f"RATELIMIT_USE_CACHE is {counters!r}; expected an alias in CACHES.",
                "Name the shared cache of the rate-limit counters in RATELIMIT_USE_CACHE "
                "(django-ratelimit's setting), or remove it to use 'default'.",
            )
        ]
    if settings.DEBUG:
        return []
    messages: list[CheckMessage] = []
    if _local_cache(counters):
        messages.append(
            _warning(
                3,
                f"RATELIMIT_USE_CACHE {counters!r} is local to each process: every "
                "worker counts on its own, so limits are multiplied.",
                "Use a shared cache (Redis or memcached) for the rate-limit counters, "
                "and name it in RATELIMIT_USE_CACHE.",
            )
        )
    if _local_cache(app_settings.REVOCATION_CACHE):
        messages.append(
            _warning(
                4,
                f"{PREFIX}REVOCATION_CACHE {app_settings.REVOCATION_CACHE!r} is local to each "
                "process: a logout reaches the other workers only when they reload the marks "
                "from the database, up to a minute later.",
                "Use a shared cache (Redis) for the revocation marks.",
            )
        )
    return messages


@register(Tags.security, Tags.caches, deploy=True)
def check_redis_timeouts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W007: the rate-limit or revocation cache is Redis without socket timeouts,
    so a Redis that hangs holds every sign-in and every Bearer request with it."""
    aliases = {
        "RATELIMIT_USE_CACHE": ratelimit_setting("RATELIMIT_USE_CACHE"),
        f"{PREFIX}REVOCATION_CACHE": app_settings.REVOCATION_CACHE,
    }
    messages: list[CheckMessage] = []
    for setting, alias in aliases.items():
        missing = _missing_redis_timeouts(_cache_config(alias))
        if missing:
            messages.append(
                _warning(
                    7,
                    f"The cache {alias!r} ({setting}) is Redis without {' and '.join(missing)}: "
                    "if Redis hangs, every request that reads it hangs too, and workers run out.",
                    f"Add {', '.join(repr(name) for name in REDIS_TIMEOUTS)} to the OPTIONS of "
                    f"CACHES[{alias!r}] (e.g. 0.5 seconds each; SOCKET_CONNECT_TIMEOUT and "
                    "SOCKET_TIMEOUT with django-redis).",
                )
            )
    return messages


def _missing_redis_timeouts(config: dict[str, Any]) -> list[str]:
    if config.get("BACKEND") not in REDIS_CACHES:
        return []
    options = config.get("OPTIONS")
    given = {str(name).lower() for name in options} if isinstance(options, dict) else set()
    locations = config.get("LOCATION") or ""
    if isinstance(locations, str):
        locations = locations.split(",")
    for location in locations:
        given |= set(parse_qs(urlsplit(str(location)).query))
    return [name for name in REDIS_TIMEOUTS if name not in given]


@register(Tags.security)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W005: the rate-limit middleware is not installed."""
    if MIDDLEWARE_PATH not in getattr(settings, "MIDDLEWARE", []):
        return [
            _warning(
                5,
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: sign-in endpoints are not "
                "rate limited (email bombing, code guessing).",
                f"Add '{MIDDLEWARE_PATH}' to MIDDLEWARE.",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_inline_sender(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W006: inline delivery outside DEBUG: response time tells whether an account exists."""
    if not settings.DEBUG and app_settings.EMAIL_SENDER == DEFAULTS["EMAIL_SENDER"]:
        return [
            _warning(
                6,
                "Sign-in emails are sent inline, in the request: a request for a known "
                "address takes longer than one for an unknown address.",
                f"Queue the delivery: set {PREFIX}EMAIL_SENDER to "
                "'django_jwt_email.tasks.deliver_later' (Celery) or "
                "'django_jwt_email.django_tasks.deliver_later' (Django's Tasks) and run "
                "its worker.",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_email_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W008: sign-in emails sent without any timeout: a mail server that accepts the
    connection and never answers holds the request (or worker) that sends."""
    if app_settings.EMAIL_TIMEOUT is not None:
        return []
    try:
        backend = emails.default_connection()
    except Exception:  # an unusable mail configuration is Django's to report
        return []
    # A backend without a ``timeout`` (an email provider's API client) has
    # timeouts of its own, or none that the app could set.
    if getattr(backend, "timeout", False) is not None:
        return []
    return [
        _warning(
            8,
            f"{PREFIX}EMAIL_TIMEOUT is None and the mail backend sets no timeout: a mail "
            "server that accepts the connection and never answers holds each sign-in "
            "request (or worker) for ever.",
            f"Remove {PREFIX}EMAIL_TIMEOUT to use the default (10 seconds), or give the "
            'backend a timeout of its own (EMAIL_TIMEOUT, or the "timeout" '
            "option of the default mailer in MAILERS on Django 6.1+).",
        )
    ]
