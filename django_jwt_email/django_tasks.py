"""Delivery through Django's Tasks framework (optional extra ``tasks``): set
``JWT_EMAIL_EMAIL_SENDER = "django_jwt_email.django_tasks.deliver_later"``.

The delivery unit becomes a task of whichever backend the site's ``TASKS``
setting names (``django.tasks`` on Django 6.0+, the ``django-tasks`` backport
before): the request view only enqueues, the lookup, minting and sending run in
the backend's worker, so the answer is the same for every address. A backend
that cannot take the task (its database or broker down) raises Unavailable: the
request is answered 503. How long an enqueue may wait is the backend's own
setting (its database's or broker's timeouts); ENQUEUE_TIMEOUT is Celery's.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "deliver_later",
    "deliver_task",
]

try:
    from django.tasks import task
except ImportError:  # Django < 6.0: the backport
    from django_tasks import task  # type: ignore[no-redef]

from . import services
from .exceptions import Unavailable


@task()
def deliver_task(payload: dict[str, Any]) -> None:
    """The delivery unit, run by the task backend's worker."""
    services.deliver(**payload)


def deliver_later(payload: dict[str, Any]) -> None:
    """EMAIL_SENDER that enqueues the delivery unit on the default task backend."""
    try:
        deliver_task.enqueue(payload)
    except Exception as exc:  # each backend raises its own errors
        raise Unavailable(type(exc).__name__) from exc
