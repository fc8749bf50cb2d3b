"""The Celery app of scenario (e): a Redis broker on 127.0.0.1, queue "jwt-email-bench"."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.benchsite.settings")

app = Celery("benchsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.set_default()
