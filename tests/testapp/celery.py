"""The Celery app of the ``celery`` tests: a real Redis broker (``REDIS_URL`` or
``redis://127.0.0.1:6379/0``), every key under one prefix per run so that runs
(and other users of the same Redis) never see each other's queues.

A site does the same in its own ``celery.py``; the app's task is a
``shared_task``, so it binds to whichever app is current.
"""

import uuid

from celery import Celery

from tests.servers import REDIS_URL

KEY_PREFIX = f"jwt-email-celery-test-{uuid.uuid4().hex}:"


def make_app(broker_url: str = REDIS_URL) -> Celery:
    """The current Celery app, on ``broker_url`` (the tests' Redis by default)."""
    app = Celery("tests.testapp", set_as_current=True)
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options={"global_keyprefix": KEY_PREFIX},
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=1,
        task_ignore_result=True,
        result_backend=None,
        worker_hijack_root_logger=False,
        task_serializer="json",
        accept_content=["json"],
    )
    app.set_default()
    return app
