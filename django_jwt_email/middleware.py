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
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.translation import gettext, ngettext

from . import limits, services
from .adapter import get_adapter
from .conf import ratelimit_setting
from .http import client_of, no_store
from .receivers import current_session_key

logger = logging.getLogger("django_jwt_email")

#: URL names ("app_name:url_name") of the views that email a sign-in link. They
#: share the ``request_ip`` bucket, so a second way to ask (e.g. an admin page)
#: does not double anyone's budget (``request_email`` is counted by the service,
#: for every caller). Extend it with ``add()``.
REQUEST_URL_NAMES: set[str] = {"django_jwt_email:request", "django_jwt_email:admin_request"}

#: URL names of the views that redeem or refresh a token, with their per-IP group.
#: A 400 from any of them is a failed verification, counted in ``failed_ip``.
REDEEM_GROUPS: dict[str, str] = {
    "django_jwt_email:verify": "verify_ip",
    "django_jwt_email:token": "token_ip",
    "django_jwt_email:code": "code_ip",
    "django_jwt_email:refresh": "refresh_ip",
}

#: URL names answered with an HTML page when limited (others negotiate on Accept).
HTML_URL_NAMES: set[str] = {"django_jwt_email:verify"}


class RateLimitMiddleware:
    """Hold back requests to the sign-in endpoints beyond ``JWT_EMAIL_RATE_LIMITS``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        url_name = guarded_url_name(request)
        reservation = None
        if url_name is not None:
            try:
                reservation = check(url_name, request)
            except limits.Refused as refused:
                return refuse(request, refused)
        session = getattr(request, "session", None)
        # Which browser is asking, should its view change its user's address (receivers).
        browser = current_session_key.set(getattr(session, "session_key", None) or "")
        try:
            with limits.enforced():
                response = self.get_response(request)
        finally:
            current_session_key.reset(browser)
        if reservation is not None and response.status_code != 400:
            reservation.release()  # not a failed verification: successes never count
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The 429 of a limit the view's service reached (``request_email``)."""
        if isinstance(exception, limits.Refused):
            return refuse(request, exception)
        return None


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
    """The app URL name of a POST this middleware guards, or None to let it through."""
    if request.method != "POST" or not ratelimit_setting("RATELIMIT_ENABLE"):
        return None
    name = url_name(request)
    return name if name in REQUEST_URL_NAMES or name in REDEEM_GROUPS else None


def check(name: str, request: HttpRequest) -> limits.Reservation | None:
    """Count the per-IP limits of a guarded request; raise ``limits.Refused``.

    The first limit reached stops the rest: an IP locked out for its failures
    does not also spend its per-endpoint budget. A redeeming request returns its
    failed-verification reservation, for the caller to give back or keep.
    """
    bucket = limits.ip_bucket(get_adapter().client_ip(request))
    if name in REQUEST_URL_NAMES:
        limits.count("request_ip", bucket)
        return None
    reservation = limits.reserve_failure(bucket)
    try:
        limits.count(REDEEM_GROUPS[name], bucket)
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
