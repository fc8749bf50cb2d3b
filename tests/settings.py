"""Settings of the test suite: SQLite in memory, local caches, the locmem email backend.

``DATABASE_URL`` (postgres://...) switches the database for the ``postgres``
tests; ``REDIS_URL`` is read by the tests that need Redis.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import django

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "tests-only-not-secret-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "app.example.com"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    # The Django Tasks sender's tests: the database task backend (django-tasks-db);
    # before Django 6.0, the django-tasks backport of django.tasks too.
    *([] if django.VERSION >= (6, 0) else ["django_tasks"]),
    "django_tasks_db",
    "django_jwt_email",
    "tests.testapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Where the README says: after sessions, before the rate limits (a 429 in the
    # visitor's language).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_jwt_email.middleware.RateLimitMiddleware",
]

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def _database() -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/") or "test",
            "USER": parts.username or "postgres",
            "PASSWORD": parts.password or "",
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 5432),
            # Distinct names let several checkouts run their tests at once.
            "TEST": {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_django_jwt_email")},
        }
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "test.sqlite3"}


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_REDIRECT_URL = "/home/"

KEY_DIR = BASE_DIR / "keys"
JWT_EMAIL_SIGNING_KEYS = [
    {"kid": "test-es256", "algorithm": "ES256", "private_key": f"file:{KEY_DIR / 'es256.pem'}"},
]
JWT_EMAIL_LINK_BASE_URL = "https://app.example.com"
# The admin's login page offers a sign-in link (off by default).
JWT_EMAIL_ADMIN_LOGIN_LINK = True

REST_FRAMEWORK = {"UNAUTHENTICATED_USER": None}
