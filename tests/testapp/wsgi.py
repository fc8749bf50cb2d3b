"""WSGI entry point of the test site, for the tests that run it as real server
processes (gunicorn); DJANGO_SETTINGS_MODULE picks the settings."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

application = get_wsgi_application()
