"""Rate limits on the sign-in endpoints: the HTTP adapter of ``limits``.

``RateLimitMiddleware`` resolves each POST to the app's URL names (so the app
can be mounted anywhere), counts it per client IP, takes a failed-verification
reservation for the endpoints that redeem a token (given back unless the view
answers 400), and answers 429 with ``Retry-After`` without calling the view
when a limit is reached: no token is minted, no email is sent. The per-address
limit is counted by the service, on the validated address it acts on, while the
request runs inside ``limits.enforced()``; its ``Refused`` comes back here
through ``process_exception``. The counting is ``limits``'s; nothing here but
finding the endpoint and the client, and the answer. The answer is in the active
language, so ``LocaleMiddleware`` goes before this one.

It runs in both of Django's modes, so an ASGI site's chain is never adapted for
it (each adaptation costs a thread hop per request). Under ASGI the counting runs
through ``sync_to_async``, off the event loop, and not through the cache's
``a*`` methods: django-ratelimit has no async API, and Django's ``aincr`` is a
get then a set, not the atomic INCR the failed-verification reservation relies
on (Django's Redis backend has no async methods of its own: its ``a*`` methods
are ``sync_to_async`` around the same calls). The 429's audit row is a database
write, run the same way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.translation import gettext, ngettext

from . import limits, services
from .adapter import get_adapter
from .clientinfo import current_session_key
from .conf import ratelimit_setting
from .http import client_of, no_store

__all__ = [
    "RateLimitMiddleware",
]

logger = logging.getLogger("django_jwt_email")

#: The group of the views that email a sign-in link: they share it, so a second way
#: to ask (an admin page, say) does not double anyone's budget. Every other group
#: is a redeeming view's, whose 400s are failed verifications (``failed_ip``).
LINK_REQUEST_GROUP = "request_ip"

#: URL names answered with an HTML page when limited (others negotiate on Accept).
HTML_URL_NAMES: set[str] = {"django_jwt_email:verify"}


class RateLimitMiddleware:
    """Hold back requests to the sign-in endpoints beyond ``JWT_EMAIL_RATE_LIMITS``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        url_name = guarded_url_name(request)
        reservation = None
        if url_name is not None:
            try:
                reservation = check(url_name, request)
            except limits.Refused as refused:
                return refuse(request, refused)
        with enforced_for(request):
            response: HttpResponse = self.get_response(request)
        if reservation is not None and response.status_code != 400:
            reservation.release()  # not a failed verification: successes never count
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        """The same steps, with every cache and database call off the event loop."""
        url_name = guarded_url_name(request)
        reservation = None
        if url_name is not None:
            try:
                # Cache calls only (no database): they need not queue behind the
                # request's thread-sensitive work.
                reservation = await sync_to_async(check, thread_sensitive=False)(url_name, request)
            except limits.Refused as refused:
                return await sync_to_async(refuse)(request, refused)
        with enforced_for(request):
            get_response: Callable[[HttpRequest], Awaitable[HttpResponse]] = self.get_response
            response = await get_response(request)
        if reservation is not None and response.status_code != 400:
            await sync_to_async(reservation.release, thread_sensitive=False)()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The 429 of a limit the view's service reached (``request_email``)."""
        if isinstance(exception, limits.Refused):
            return refuse(request, exception)
        return None


@contextmanager
def enforced_for(request: HttpRequest) -> Iterator[None]:
    """The services' limits apply within, and the receivers know which browser asks
    (should its view change its user's address). Context variables: they follow
    the request into ``sync_to_async`` threads."""
    session = getattr(request, "session", None)
    browser = current_session_key.set(getattr(session, "session_key", None) or "")
    try:
        with limits.enforced():
            yield
    finally:
        current_session_key.reset(browser)


def url_name(request: HttpRequest) -> str:
    """The full URL name ("namespace:name") of ``request``'s path, or ''.

    Endpoints are found by resolving the path, never by matching hard-coded
    paths, so a site may mount the app under any prefix or namespace.
    """
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return ""
    return ":".join([*match.app_names, match.url_name or ""])


def guarded_url_name(request: HttpRequest) -> str | None:
    """The URL name of a POST this middleware guards (one the adapter's
    ``rate_limited_views()`` names), or None to let it through."""
    if request.method != "POST" or not ratelimit_setting("RATELIMIT_ENABLE"):
        return None
    name = url_name(request)
    return name if name in get_adapter().rate_limited_views() else None


def check(name: str, request: HttpRequest) -> limits.Reservation | None:
    """Count the per-IP limits of a guarded request; raise ``limits.Refused``.

    The first limit reached stops the rest: an IP locked out for its failures
    does not also spend its per-endpoint budget. A redeeming request returns its
    failed-verification reservation, for the caller to give back or keep.
    """
    adapter = get_adapter()
    group = adapter.rate_limited_views()[name]
    bucket = limits.ip_bucket(adapter.client_ip(request))
    if group == LINK_REQUEST_GROUP:
        limits.count(group, bucket)
        return None
    reservation = limits.reserve_failure(bucket)
    try:
        limits.count(group, bucket)
    except limits.Refused:
        reservation.release()
        raise
    return reservation


def refuse(request: HttpRequest, refused: limits.Refused) -> HttpResponse:
    """The 429 of a limited request: audit it, then answer in the client's format."""
    try:
        services.record_rate_limited(refused.group, client=client_of(request))
    except Exception:  # e.g. the database is down: still answer 429, not 500
        logger.exception("could not record rate_limited %s", refused.group)
    seconds = refused.retry_after
    wait = wait_in_words(seconds)
    # One wording for the API and the page; Retry-After keeps the exact seconds.
    detail = gettext("Too many requests. Try again in %(wait)s.") % {"wait": wait}
    response: HttpResponse
    if wants_html(request):
        context = {"detail": detail, "code": "rate_limited", "wait": wait}
        response = render(request, "django_jwt_email/rate_limited.html", context, status=429)
    else:
        response = JsonResponse({"detail": detail, "code": "rate_limited"}, status=429)
    response["Retry-After"] = str(seconds)
    return no_store(response)


def wants_html(request: HttpRequest) -> bool:
    """The browser verify page always; other endpoints when Accept prefers HTML,
    as DRF's content negotiation decides for the view itself."""
    if url_name(request) in HTML_URL_NAMES:
        return True
    return request.get_preferred_type(["application/json", "text/html"]) == "text/html"


def wait_in_words(seconds: int) -> str:
    """``seconds`` as a person reads a wait: "45 seconds", "37 minutes", "2 hours"
    (rounded up, so that nobody comes back too early)."""
    if seconds < 90:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    hours = math.ceil(minutes / 60)
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
