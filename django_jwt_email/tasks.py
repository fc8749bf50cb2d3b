"""Celery delivery (optional extra ``celery``): set
``JWT_EMAIL_EMAIL_SENDER = "django_jwt_email.tasks.deliver_later"``.

With a queue, the request view only enqueues: the account lookup, minting and
sending all run in the worker, so the response is the same in content and in
time whether or not the address has an account.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from . import services


@shared_task(name="django_jwt_email.deliver", ignore_result=True)
def deliver_task(payload: dict[str, Any]) -> None:
    services.deliver(**payload)


def deliver_later(payload: dict[str, Any]) -> None:
    """EMAIL_SENDER that queues the delivery unit on Celery."""
    deliver_task.delay(payload)
