"""Settings of the Django Tasks worker that ``tests/test_django_tasks.py`` starts in
a process of its own: the suite's settings, on the database the test names
(``DATABASE_URL``), with the database task backend and emails written as files to
``JWT_EMAIL_TEST_OUTBOX``, where the test reads them."""

import os

from tests.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["JWT_EMAIL_TEST_OUTBOX"]
