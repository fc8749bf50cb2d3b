"""HTTP helpers shared by the views, the middleware and the admin: who is asking,
response headers for anything that carries a token, safe redirects, the browser
binding cookie and the answers of an outage. No token or database logic here.

Every response that carries or consumes a token is ``Cache-Control: no-store``
and ``Referrer-Policy: no-referrer``: a token must not linger in a cache or leak
in a Referer. Pages with a form posting to a CSRF-protected view say
``strict-origin`` instead (see ``FORM_PAGE_REFERRER_POLICY``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme

from . import emails, signin_codes
from .adapter import get_adapter
from .availability import is_outage
from .clientinfo import Client
from .conf import app_settings
from .exceptions import ConfigurationError, Unavailable

__all__ = [
    "BINDING_COOKIE",
    "FORM_PAGE_REFERRER_POLICY",
    "bind_browser",
    "client_of",
    "form_page",
    "no_store",
    "safe_next",
    "unavailable_page",
]

BINDING_COOKIE = "jwt_email_binding"

# A page holding a form that posts to a CSRF-protected view (the Sign in button,
# the code form) cannot be "no-referrer": a browser then posts "Origin: null"
# (Fetch standard), which Django's CSRF check refuses, so nobody could sign in.
# "strict-origin" still never sends the page's URL, and so never its token: only
# the origin, which the Origin header sends anyway.
FORM_PAGE_REFERRER_POLICY = "strict-origin"


def client_of(request: HttpRequest) -> Client:
    """The IP (as the adapter finds it) and user agent of ``request``."""
    return Client(
        ip=get_adapter().client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
    )


def no_store(response: HttpResponse, referrer_policy: str = "no-referrer") -> HttpResponse:
    """Keep a response that carries or consumes a token out of every cache and
    its URL out of every Referer."""
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True)
    response["Referrer-Policy"] = referrer_policy
    return response


def form_page(
    request: HttpRequest, template_name: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """A no-store page whose form posts to a CSRF-protected view (see above)."""
    context = {**context, "referrer_policy": FORM_PAGE_REFERRER_POLICY}
    response = render(request, template_name, context, status=status)
    return no_store(response, referrer_policy=FORM_PAGE_REFERRER_POLICY)


def safe_next(request: HttpRequest, *candidates: str) -> str:
    """The first candidate that stays on this site (no open redirect), else ''."""
    allowed = {request.get_host()}
    try:
        allowed.add(emails.link_base_url().split("://", 1)[1])
    except ConfigurationError:
        pass
    for url in candidates:
        url = (url or "").strip()
        if url and url_has_allowed_host_and_scheme(
            url, allowed_hosts=allowed, require_https=request.is_secure()
        ):
            return url
    return ""


def bind_browser(request: HttpRequest, response: HttpResponse) -> str:
    """Set (or keep) the HttpOnly cookie binding links to this browser; return its hash.

    The cookie is set for every address alike, so it reveals nothing. A browser
    keeps its verifier across requests, so each of its outstanding links stays
    redeemable there; a value this app did not make is replaced.
    """
    verifier = request.COOKIES.get(BINDING_COOKIE, "")
    if not signin_codes.is_verifier(verifier):
        verifier = signin_codes.new_verifier()
    response.set_cookie(
        BINDING_COOKIE,
        verifier,
        max_age=int(app_settings.LOGIN_TOKEN_TTL.total_seconds()) + 60,
        httponly=True,
        secure=not settings.DEBUG,
        samesite="Lax",
    )
    return signin_codes.hash_verifier(verifier)


def unavailable_json(error: Unavailable | None = None) -> HttpResponse:
    """503 ``{"detail", "code": "unavailable"}`` with ``Retry-After``."""
    error = error or Unavailable()
    response = JsonResponse({"detail": str(error.detail), "code": error.code}, status=503)
    response["Retry-After"] = str(error.retry_after)
    return no_store(response)


def unavailable_page(
    request: HttpRequest, error: Unavailable | None = None, *, back: str = ""
) -> HttpResponse:
    """The 503 page of an HTML endpoint, with ``Retry-After`` (and a link ``back``)."""
    error = error or Unavailable()
    context = {"detail": error.detail, "code": error.code, "back": back}
    response = render(request, "django_jwt_email/unavailable.html", context, status=503)
    response["Retry-After"] = str(error.retry_after)
    return no_store(response)


def as_unavailable(exc: BaseException) -> Unavailable | None:
    """The ``Unavailable`` an exception stands for (a dependency down), or None."""
    if isinstance(exc, Unavailable):
        return exc
    if isinstance(exc, DatabaseError) and is_outage(exc):
        return Unavailable("database_unavailable")
    return None
