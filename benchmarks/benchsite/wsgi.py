"""WSGI entry point of the benchmark servers (gunicorn).

``BENCH_TRACKING=off`` turns off the revocation marks' tracked copy in each
process, so that every check asks Redis: the diagnostic row of scenario (a).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.benchsite.settings")
application = get_wsgi_application()

if os.environ.get("BENCH_TRACKING") == "off":
    from django_jwt_email import revocation

    revocation.TRACK_IN_PROCESS = False
