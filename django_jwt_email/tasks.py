"""Celery delivery (optional extra ``celery``): set
``JWT_EMAIL_EMAIL_SENDER = "django_jwt_email.tasks.deliver_later"``.

With a queue, the request view only enqueues: the account lookup, minting and
sending all run in the worker, so the response is the same in content and in
time whether or not the address has an account. Handing the delivery to the
broker takes at most about ENQUEUE_TIMEOUT seconds: a broker that is down or
hung raises Unavailable (the request is answered 503, the same for every
address) instead of holding the request. The module is named ``tasks`` so that
Celery's ``autodiscover_tasks()`` registers the task in the worker.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from kombu import pools

from . import services
from .conf import app_settings
from .exceptions import Unavailable

__all__ = [
    "deliver_later",
    "deliver_task",
]


@shared_task(name="django_jwt_email.deliver", ignore_result=True)
def deliver_task(payload: dict[str, Any]) -> None:
    services.deliver(**payload)


def deliver_later(payload: dict[str, Any]) -> None:
    """EMAIL_SENDER that queues the delivery unit on Celery, within ENQUEUE_TIMEOUT.

    The message goes out through connections of their own, made from the site's
    broker settings with the timeouts below on top (the producer pool's carry the
    site's settings alone, whose defaults retry for long and, on a Redis broker
    that accepts and never answers, wait for ever). kombu pools them by their
    parameters, so requests reuse open connections, as Celery's own pool does.
    """
    timeout = float(app_settings.ENQUEUE_TIMEOUT)
    template = deliver_task.app.connection_for_write(
        connect_timeout=timeout, transport_options=bounded_transport_options(timeout)
    )
    try:
        with pools.producers[template].acquire(block=True, timeout=timeout) as producer:
            # No publish retries: they would start the connection's budget again.
            deliver_task.apply_async((payload,), producer=producer, retry=False)
    except Exception as exc:  # every transport raises its own errors (kombu wraps most)
        raise Unavailable(type(exc).__name__) from exc


def bounded_transport_options(timeout: float) -> dict[str, Any]:
    """kombu transport options that keep one enqueue within about ``timeout`` seconds.

    Each transport reads its own keys and ignores the others'.
    """
    return {
        # Connection attempts (kombu): retried until ``connect_timeout`` has passed
        # in all, with short pauses (the defaults start at 2 s and grow to 30 s).
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
        # Redis: connecting, then every command (the publish itself).
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        # AMQP (py-amqp; ``connect_timeout`` also bounds its handshake): reads and
        # writes after it.
        "read_timeout": timeout,
        "write_timeout": timeout,
    }
