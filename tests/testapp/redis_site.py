"""Settings of the site that ``test_revocation``'s Redis test runs as two server
processes: the test suite's settings, an SQLite file at ``REVOCATION_TEST_DB``
(migrated by the test first), emails written as files to
``REVOCATION_TEST_MAIL_DIR``, and the revocation marks in Redis (``REDIS_URL``
or ``redis://127.0.0.1:6379/0``) under the key prefix ``REVOCATION_TEST_PREFIX``,
so that runs never share marks. ``REVOCATION_TEST_CACHE=locmem`` keeps the marks
in each process instead: the control case that must fail to share them.
"""

import os

from tests.servers import REDIS_URL
from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["REVOCATION_TEST_DB"]}
}
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["REVOCATION_TEST_MAIL_DIR"]

_shared = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": REDIS_URL,
    "KEY_PREFIX": os.environ["REVOCATION_TEST_PREFIX"],
}
_local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
CACHES = {
    "default": _shared,
    "revocation": _local if os.environ.get("REVOCATION_TEST_CACHE") == "locmem" else _shared,
}
JWT_EMAIL_REVOCATION_CACHE = "revocation"
RATELIMIT_USE_CACHE = "default"
