"""HTTP helpers shared by the views, the middleware and the admin: who is asking,
response headers for anything that carries a token, safe redirects, the browser
binding cookie, the refresh cookie of the cookie transport and the answers of an
outage. No token or database logic here.

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
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
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
    "REFRESH_COOKIE",
    "bind_browser",
    "clear_refresh_cookie",
    "client_of",
    "csrf_failure",
    "form_page",
    "no_store",
    "offered_transports",
    "refresh_in_cookie",
    "safe_next",
    "set_refresh_cookie",
    "unavailable_page",
]

BINDING_COOKIE = "jwt_email_binding"
REFRESH_COOKIE = "jwt_email_refresh"

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


# --- the cookie transport of refresh tokens (JWT_EMAIL_TOKEN_TRANSPORT) ---------------
#
# A refresh token in an HttpOnly cookie cannot be read by the page's scripts, so
# an XSS can use the session while the page is open but cannot carry it away.
# The cookie goes only to the refresh endpoint (its path) and only from this
# site (SameSite=Strict); a browser sends it by itself, so a request that it
# authenticates must also prove it comes from the site's own pages: Django's
# CSRF token, as for a session cookie.


def offered_transports() -> tuple[str, ...]:
    """The transports a request may ask for with ``"transport"``."""
    mode = app_settings.TOKEN_TRANSPORT
    return ("body", "cookie") if mode == "both" else (mode,)


def refresh_in_cookie(asked: str = "", *, cookie_borne: bool = False) -> bool:
    """Whether a pair's refresh token goes in the cookie instead of the body.

    ``asked`` is the request's ``"transport"`` (validated against
    ``offered_transports``); under ``"both"`` a refresh that came in the cookie
    goes back in it unless the request asks for the body.
    """
    mode = app_settings.TOKEN_TRANSPORT
    if mode == "both":
        return asked == "cookie" or (cookie_borne and asked != "body")
    return mode == "cookie"


def refresh_cookie_path(request: HttpRequest) -> str:
    """The refresh endpoint's path: the only one the browser sends the cookie to."""
    return reverse("django_jwt_email:refresh", urlconf=getattr(request, "urlconf", None))


def set_refresh_cookie(
    request: HttpRequest, response: HttpResponse, token: str, max_age: int
) -> None:
    """Put refresh ``token`` in the HttpOnly cookie; it lives as long as the token."""
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=max_age,
        path=refresh_cookie_path(request),
        httponly=True,
        secure=not settings.DEBUG,
        samesite="Strict",
    )


def clear_refresh_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """Tell the browser to drop the refresh cookie (a no-op for other clients).

    Any endpoint may clear it: a cookie is deleted by name and path, wherever the
    response comes from, even though the browser sends it to the refresh path only.
    """
    if app_settings.TOKEN_TRANSPORT != "body":
        path = refresh_cookie_path(request)
        response.delete_cookie(REFRESH_COOKIE, path=path, samesite="Strict")


def cookie_refresh_token(request: HttpRequest) -> str:
    """The refresh token of the request's cookie, where the transport allows one."""
    if app_settings.TOKEN_TRANSPORT == "body":
        return ""  # a cookie this site never sets is not read either
    return request.COOKIES.get(REFRESH_COOKIE, "").strip()


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, answering its reason instead of a 403 page."""

    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    """Why ``request`` fails Django's CSRF check (Origin, Referer, token), or None.

    Django's middleware skips the API views (DRF marks them csrf_exempt: a token
    in a body or a header is no ambient credential); a request carried by the
    refresh cookie is, so it is checked here, as DRF checks a session's.
    """
    check = _CsrfCheck(lambda request: HttpResponse())
    check.process_request(request)  # puts the CSRF cookie's secret in request.META
    reason = check.process_view(request, lambda request: HttpResponse(), (), {})
    return None if reason is None else str(reason)  # _reject above answers the reason


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
