"""Settings of the site that ``test_middleware_redis`` runs as separate server processes.

The test suite's settings, with the rate-limit counters in Redis (``REDIS_URL``
or ``redis://127.0.0.1:6379/0``, under the key prefix ``RATELIMIT_TEST_PREFIX``
so that runs never share counters), an SQLite file database at
``RATELIMIT_TEST_DB`` (migrated by the test first), the rate
``RATELIMIT_TEST_RATE`` for ``request_ip`` and ``RATELIMIT_TEST_FAILED_RATE``
for ``failed_ip``.
"""

import os

from tests.servers import REDIS_URL
from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["RATELIMIT_TEST_DB"]}
}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "limits": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ["RATELIMIT_TEST_PREFIX"],
    },
}
RATELIMIT_USE_CACHE = "limits"
JWT_EMAIL_RATE_LIMITS = {
    "request_ip": os.environ["RATELIMIT_TEST_RATE"],
    "request_email": "100/d",
    "token_ip": "1000/m",
    "failed_ip": os.environ.get("RATELIMIT_TEST_FAILED_RATE", "20/h"),
}
