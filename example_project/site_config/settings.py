"""Settings of the example site, twelve-factor style: read from the environment,
with defaults that make ``make demo`` work on a fresh clone (DEBUG on, SQLite,
local-memory cache, emails written to ``example_project/outbox/``).

Outside DEBUG nothing secret has a default: ``DJANGO_SECRET_KEY`` and
``JWT_EMAIL_LINK_BASE_URL`` must be set, or the site refuses to start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import django
from django.core.exceptions import ImproperlyConfigured

import django_jwt_email

BASE_DIR = Path(__file__).resolve().parent.parent  # example_project/


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}.")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or default


def database_from_url(url: str) -> dict[str, Any]:
    """``postgres://user:pass@host:port/name`` or ``sqlite:///path`` to a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path) or ":memory:"}
    raise ImproperlyConfigured(f"DATABASE_URL: unsupported scheme {parts.scheme!r}.")


# --- core -------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (it has no default outside DEBUG).")
    # DEBUG only: never deployed, since DEBUG off without DJANGO_SECRET_KEY stops above.
    SECRET_KEY = "dev-only-insecure-" + "k" * 40

# Empty in DEBUG means Django's own default: localhost, 127.0.0.1 and [::1].
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and Redoc's files, served by this site: the API page works offline.
    "drf_spectacular_sidecar",
    "django_jwt_email",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The visitor's language (Accept-Language), before the rate limits: a 429 is
    # translated too. It sets Content-Language on every answer.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The rate limits of the auth/ endpoints (by IP, by address, by failures).
    "django_jwt_email.middleware.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "site_config.urls"
WSGI_APPLICATION = "site_config.wsgi.application"
ASGI_APPLICATION = "site_config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Before the apps' templates: the site restyles django_jwt_email's pages.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "site_config.context_processors.site",
            ]
        },
    }
]

DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Rate-limit counters and revocation marks live in the default cache: Redis when
# REDIS_URL is set (needed as soon as there is more than one process).
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that hangs must not hold every request (check W007).
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LANGUAGE_CODE = "en-us"
# The languages the app ships catalogs for; this site's own pages are translated
# in example_project/locale.
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("fr", "Français"),
    ("pt-br", "Português (Brasil)"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "/signin/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

# --- email ------------------------------------------------------------------------

# In DEBUG the emails are files in example_project/outbox/, read by the /outbox/
# page: the file backend works across processes, unlike the console backend.
OUTBOX_DIR = os.environ.get("EMAIL_FILE_PATH", "") or (str(BASE_DIR / "outbox") if DEBUG else "")
# The one mailer of the site, in the shape of Django 6.1's MAILERS entries.
SITE_MAILER: dict[str, Any] = (
    {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": OUTBOX_DIR},
    }
    if OUTBOX_DIR
    else {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("EMAIL_PORT", "25")),
        },
    }
)
if django.VERSION >= (6, 1):
    MAILERS = {"default": SITE_MAILER}
else:  # the settings that MAILERS replaces (deprecated since Django 6.1)
    EMAIL_BACKEND = SITE_MAILER["BACKEND"]
    if OUTBOX_DIR:
        EMAIL_FILE_PATH = OUTBOX_DIR
    else:
        EMAIL_HOST = SITE_MAILER["OPTIONS"]["host"]
        EMAIL_PORT = SITE_MAILER["OPTIONS"]["port"]
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "sign-in@localhost")

# --- django-jwt-email -------------------------------------------------------------

JWT_EMAIL_LINK_BASE_URL = os.environ.get("JWT_EMAIL_LINK_BASE_URL", "") or (
    "http://127.0.0.1:8000" if DEBUG else ""
)
if not JWT_EMAIL_LINK_BASE_URL:
    raise ImproperlyConfigured("Set JWT_EMAIL_LINK_BASE_URL, e.g. https://example.com.")

# `make demo` writes this key once (git-ignored); production points it elsewhere.
JWT_EMAIL_KEY_FILE = os.environ.get("JWT_EMAIL_KEY_FILE", "") or str(
    BASE_DIR / "dev-signing-key.pem"
)
JWT_EMAIL_SIGNING_KEYS = [
    {
        "kid": os.environ.get("JWT_EMAIL_KEY_ID", "dev"),
        "algorithm": os.environ.get("JWT_EMAIL_KEY_ALGORITHM", "ES256"),
        "private_key": f"file:{JWT_EMAIL_KEY_FILE}",
    }
]
# The demo lets anyone sign up with an address: the account is created when its
# first link is redeemed. A site with invited users only turns this off.
JWT_EMAIL_CREATE_USERS = env_bool("JWT_EMAIL_CREATE_USERS", True)
# The admin's login page offers staff "Email me a sign-in link".
JWT_EMAIL_ADMIN_LOGIN_LINK = True
# The emailed link: the verify page by default; for the single-page app (/app/),
# JWT_EMAIL_LINK_URL="http://127.0.0.1:8000/app/#token={token}".
JWT_EMAIL_LINK_URL = os.environ.get("JWT_EMAIL_LINK_URL", "") or None
# The single-page app asks for the refresh token in an HttpOnly cookie; curl and
# mobile clients get it in the body.
JWT_EMAIL_TOKEN_TRANSPORT = "both"

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {
    "TITLE": "django-jwt-email example site",
    "DESCRIPTION": "Passwordless sign-in by emailed links carried by signed JWTs.",
    "VERSION": django_jwt_email.__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    # The API page (api/docs/) loads Redoc from this site, never from a CDN.
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Redoc's loading spinner is a logo fetched from Redocly's CDN: none, offline.
    "REDOC_UI_SETTINGS": {"hideLoading": True},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_jwt_email": {"handlers": ["console"], "level": "INFO"},
    },
}
