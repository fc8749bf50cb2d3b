"""Settings: every ``JWT_EMAIL_*`` default in one place, read live on each access.

This is the only module that reads ``django.conf.settings`` for the app's own
settings. Nothing is captured at import time, so ``override_settings`` and
pytest-django's ``settings`` fixture just work; derived values (the loaded keys)
are cached elsewhere and dropped on Django's ``setting_changed`` signal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

__all__ = [
    "DEFAULTS",
    "PREFIX",
    "app_settings",
    "ratelimit_setting",
]

PREFIX = "JWT_EMAIL_"

DEFAULTS: dict[str, Any] = {
    # Signing keys, newest first: the first signs, all verify (key rotation).
    # Each entry: {"kid": str, "algorithm": "ES256", "private_key": PEM | "file:PATH"
    # | "env:VAR"} or, for a verify-only key, "public_key" instead of "private_key".
    "SIGNING_KEYS": [],
    # HS256/384/512 shared secrets are refused unless this is True (and a check warns).
    "ALLOW_SYMMETRIC": False,
    # The "iss" claim of every token, and the base of each kind's "aud" claim.
    "ISSUER": "django-jwt-email",
    "AUDIENCE": "django-jwt-email",
    # Lifetimes. Login links are short-lived (OWASP ASVS 5.0, 6.5.5).
    "LOGIN_TOKEN_TTL": timedelta(minutes=10),
    "ACCESS_TOKEN_TTL": timedelta(minutes=5),
    # The absolute lifetime of a sign-in session: rotation never extends it.
    "REFRESH_TOKEN_TTL": timedelta(days=14),
    # Clock skew tolerated on exp/nbf/iat.
    "LEEWAY": timedelta(seconds=30),
    # Tokens longer than this (bytes) are refused before any parsing.
    "MAX_TOKEN_LENGTH": 4096,
    # Scheme and host of the links in emails, e.g. "https://example.com". Never
    # taken from the request's Host header. Must be https unless DEBUG.
    "LINK_BASE_URL": "",
    # The emailed link as a template with "{token}", for a front end or a mobile app
    # ("https://app.example.com/signin#token={token}", "myapp://signin?token={token}").
    # None: the app's own verify page on LINK_BASE_URL.
    "LINK_URL": None,
    # Where auth/token/, auth/code/ and auth/token/refresh/ put the refresh token:
    # "body" (JSON), "cookie" (an HttpOnly cookie "jwt_email_refresh" sent only to
    # the refresh endpoint; refresh then needs Django's CSRF token), or "both" (a
    # request asks for the cookie with "transport": "cookie" in its body).
    "TOKEN_TRANSPORT": "body",
    # Create an account when an unknown address redeems its link.
    "CREATE_USERS": False,
    # Templates of the sign-in email (overridable by the site's templates too).
    "EMAIL_SUBJECT_TEMPLATE": "django_jwt_email/email_subject.txt",
    "EMAIL_TEXT_TEMPLATE": "django_jwt_email/email.txt",
    "EMAIL_HTML_TEMPLATE": "django_jwt_email/email.html",
    # Dotted path of the callable that runs the delivery unit (user lookup,
    # minting, sending): inline, or queued with "django_jwt_email.tasks.deliver_later"
    # (Celery) or "django_jwt_email.django_tasks.deliver_later" (Django's Tasks).
    "EMAIL_SENDER": "django_jwt_email.services.deliver_now",
    # Seconds the connection that sends a sign-in email may wait on the mail server
    # (connect and each reply), unless the mail backend's own configuration sets a
    # timeout (EMAIL_TIMEOUT, or the mailer's "timeout" option on Django 6.1+).
    # None: no timeout of the app's (a deploy check warns).
    "EMAIL_TIMEOUT": 10,
    # Seconds a queued sender may spend handing a delivery to the Celery broker
    # (connecting, retrying, publishing) before the request is answered 503.
    "ENQUEUE_TIMEOUT": 2,
    # django-ratelimit rates per group ("5/m", "3/15m"); a site's dict is merged
    # over these. Counted in django-ratelimit's own cache (RATELIMIT_USE_CACHE), per
    # client IP (an IPv6 /64) unless the group says otherwise.
    "RATE_LIMITS": {
        # POST auth/request/ (and any admin link request): link requests per IP...
        "request_ip": "20/h",
        # ...and per address (folded: case, whitespace, +tags, Gmail dots), so one
        # inbox cannot be bombed from many IPs.
        "request_email": "5/h",
        # POST auth/verify/, auth/token/, auth/code/, auth/token/refresh/.
        "verify_ip": "60/m",
        "token_ip": "60/m",
        "code_ip": "30/m",
        "refresh_ip": "120/m",
        # Failed verifications (a 400 from the four above); successes do not count.
        "failed_ip": "20/h",
        # Refused Bearer tokens written to the audit log per client; beyond it they
        # are counted, and one rate_limited row per window says how many.
        "bearer_failed_ip": "60/m",
    },
    # Cache alias holding the access-token revocation marks (shared, non-evicting).
    "REVOCATION_CACHE": "default",
    # How long audit events are kept before jwt_email_cleanup deletes them.
    "AUDIT_RETENTION": timedelta(days=90),
    # The "scope" claim of every access token (space-separated in the token); the
    # adapter's scopes_for(user) may give a user other scopes.
    "ACCESS_TOKEN_SCOPES": ["api"],
    # The "client_id" claim of access tokens (RFC 9068 §2.2); None: the AUDIENCE value.
    "CLIENT_ID": None,
    # The short code sent beside the link, for another device.
    "CODE_LENGTH": 8,
    "CODE_ALPHABET": "23456789ABCDEFGHJKLMNPQRSTUVWXYZ",
    "CODE_MAX_ATTEMPTS": 3,
    # Bind a link to the browser that asked for it (an HttpOnly cookie).
    "BIND_TO_BROWSER": False,
    # The class a site subclasses to change a decision (who gets a link, how an
    # account is created, extra claims, scopes, the link, the client IP...).
    "ADAPTER": "django_jwt_email.adapter.DefaultAdapter",
    # API sign-ins (auth/token/, auth/code/) send user_logged_in, which sets
    # last_login, as a browser sign-in does. Never on refresh.
    "UPDATE_LAST_LOGIN": True,
    # Seconds a browser session from a link or code lasts; None: SESSION_COOKIE_AGE.
    "SESSION_AGE": None,
    # One audit row per refresh; False: refreshes are counted on the session's row.
    "AUDIT_EVERY_REFRESH": False,
    # The Django admin's login page offers "Email me a sign-in link" (staff only).
    "ADMIN_LOGIN_LINK": False,
}


class Settings:
    """Attribute access to ``JWT_EMAIL_<NAME>``, falling back to ``DEFAULTS``."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"No setting {PREFIX}{name}")
        value = getattr(settings, PREFIX + name, DEFAULTS[name])
        if name == "RATE_LIMITS" and isinstance(value, dict):
            return {**DEFAULTS["RATE_LIMITS"], **value}
        return value


app_settings = Settings()

# django-ratelimit's own settings, which the app honours, with django-ratelimit's
# defaults: the client IP (RATELIMIT_IP_META_KEY), how much of it is one client,
# the cache of the counters, and what to do when that cache fails.
RATELIMIT_DEFAULTS: dict[str, Any] = {
    "RATELIMIT_ENABLE": True,
    "RATELIMIT_USE_CACHE": "default",
    "RATELIMIT_FAIL_OPEN": False,
    "RATELIMIT_IP_META_KEY": None,
    "RATELIMIT_IPV4_MASK": 32,
    "RATELIMIT_IPV6_MASK": 64,
    "RATELIMIT_CACHE_PREFIX": "rl:",
}


def ratelimit_setting(name: str) -> Any:
    """The live value of django-ratelimit's setting ``name`` (e.g.
    ``"RATELIMIT_USE_CACHE"``), or django-ratelimit's default."""
    return getattr(settings, name, RATELIMIT_DEFAULTS[name])
