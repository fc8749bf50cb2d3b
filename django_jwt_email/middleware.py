"""Rate limits on the sign-in endpoints: who may ask, and how often, before any work is done.

``RateLimitMiddleware`` resolves each POST to the app's URL names (so the app
can be mounted anywhere), counts it per client IP, per normalised address (a
keyed hash, never the address) and per failed verification, and answers 429
with ``Retry-After`` without calling the view when a limit is reached: no token
is minted, no email is sent. Counting uses django-ratelimit's windows and
hashed cache keys, but in the cache named by ``JWT_EMAIL_RATELIMIT_CACHE``
rather than django-ratelimit's ``RATELIMIT_USE_CACHE`` (``get_usage()`` picks
its cache from that setting alone, so the app's own setting could not be
honoured through it). A cache that fails is handled as django-ratelimit does:
closed (429) unless ``RATELIMIT_FAIL_OPEN``. No token logic and no database
access here beyond the audit event, written through ``services``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, RawPostDataException
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import Resolver404, resolve

# Underscored, but the whole of get_usage() minus its choice of cache; pinned by
# django-ratelimit<5 in pyproject.toml, and every limit test fails if they change.
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, _split_rate

from . import codes, services
from .clientinfo import client_ip, client_of
from .conf import app_settings
from .views import no_store

logger = logging.getLogger("django_jwt_email")

#: URL names ("app_name:url_name") of the views that email a sign-in link. They
#: share the ``request_ip`` and ``request_email`` buckets, so a second way to ask
#: (e.g. an admin page) does not double anyone's budget. Extend it with ``add()``.
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

FAILED_GROUP = "failed_ip"
# Failing closed has no window to report: ask the client to come back in a minute.
FAIL_CLOSED_RETRY_AFTER = 60
# Gmail ignores dots in the local part; googlemail.com is the same mailbox.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


@dataclass(frozen=True)
class Limit:
    """One counter to consult: a group of RATE_LIMITS and the bucket within it."""

    group: str
    value: str  # a masked IP or a keyed hash of an address: never the address itself
    increment: bool = True  # False: look only (the failures counter, counted after the view)


class Refused(Exception):
    """A limit is reached: ``group`` may try again in ``retry_after`` seconds."""

    def __init__(self, group: str, retry_after: int) -> None:
        super().__init__(group)
        self.group = group
        self.retry_after = retry_after


class RateLimitMiddleware:
    """Hold back requests to the sign-in endpoints beyond ``JWT_EMAIL_RATE_LIMITS``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        url_name = guarded_url_name(request)
        if url_name is None:
            return self.get_response(request)
        try:
            for limit in limits_for(url_name, request):
                enforce(limit)
        except Refused as refused:
            return refuse(request, url_name, refused)
        response = self.get_response(request)
        if url_name in REDEEM_GROUPS and response.status_code == 400:
            count_failure(request)
        return response


def guarded_url_name(request: HttpRequest) -> str | None:
    """The app URL name of a POST this middleware guards, or None to let it through.

    Endpoints are found by resolving the path, never by matching hard-coded
    paths, so a site may mount the app under any prefix or namespace.
    """
    if request.method != "POST" or not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return None
    name = ":".join([*match.app_names, match.url_name or ""])
    return name if name in REQUEST_URL_NAMES or name in REDEEM_GROUPS else None


def limits_for(url_name: str, request: HttpRequest) -> Iterator[Limit]:
    """The counters of one request, in the order they are consulted.

    The first one reached stops the rest: an IP over its limit does not also
    spend the budget of the address it asked for (someone else's, perhaps).
    """
    ip = ip_bucket(request)
    if url_name in REQUEST_URL_NAMES:
        yield Limit("request_ip", ip)
        address = posted_email(request)
        if address:
            yield Limit("request_email", codes.keyed_hash("ratelimit.email", fold(address)))
        return
    # Failures are only looked at here; they are counted once the view has answered.
    yield Limit(FAILED_GROUP, ip, increment=False)
    yield Limit(REDEEM_GROUPS[url_name], ip)


def enforce(limit: Limit) -> None:
    """Count ``limit`` (unless look-only) and raise ``Refused`` if it is reached."""
    try:
        count, allowed, time_left = usage(limit)
    except Exception:  # any cache backend error (ConnectionError, memcached, ...), or a
        # bad rate that check E002 reports: never a 500 on the sign-in endpoints.
        logger.exception("rate limit %s could not be counted", limit.group)
        if getattr(settings, "RATELIMIT_FAIL_OPEN", False):
            return
        raise Refused(limit.group, FAIL_CLOSED_RETRY_AFTER) from None
    # A counted request is refused beyond the limit (the limit+1-th); the failures
    # counter refuses once it holds the limit (after N failures, no N+1-th try).
    if count > allowed or (not limit.increment and count >= allowed):
        # django-ratelimit's window still holds in its last second (time_left 0):
        # the next one starts a second later.
        raise Refused(limit.group, time_left + 1)


def count_failure(request: HttpRequest) -> None:
    """Count one failed verification of this client (after the view answered 400)."""
    try:
        usage(Limit(FAILED_GROUP, ip_bucket(request)))
    except Exception:  # the answer is already given: a lost count must not turn it into a 500
        logger.exception("rate limit %s could not be counted", FAILED_GROUP)


def usage(limit: Limit) -> tuple[int, int, int]:
    """(count, limit, seconds left in the window) of one counter, as django-ratelimit's
    ``get_usage()`` computes them, but in the cache ``JWT_EMAIL_RATELIMIT_CACHE``."""
    rate = app_settings.RATE_LIMITS[limit.group]
    allowed, period = _split_rate(rate)
    window = _get_window(limit.value, period)
    # The group is namespaced so that it cannot share a counter with a site's own
    # django-ratelimit group of the same name.
    key = _make_cache_key(f"django_jwt_email.{limit.group}", window, rate, limit.value, None)
    cache = caches[app_settings.RATELIMIT_CACHE]
    if not limit.increment:
        count = int(cache.get(key, 0))
    elif cache.add(key, 1, period + EXPIRATION_FUDGE):
        count = 1
    else:
        try:
            count = cache.incr(key)  # atomic on Redis and memcached
        except ValueError:  # the key expired between add() and incr()
            cache.add(key, 1, period + EXPIRATION_FUDGE)
            count = 1
    return count, allowed, window - int(time.time())


def refuse(request: HttpRequest, url_name: str, refused: Refused) -> HttpResponse:
    """The 429 of a limited request: audit it, then answer in the client's format."""
    try:
        services.record_rate_limited(refused.group, client=client_of(request))
    except Exception:  # e.g. the database is down: still answer 429, not 500
        logger.exception("could not record rate_limited %s", refused.group)
    seconds = refused.retry_after
    detail = f"Too many requests. Try again in {seconds} seconds."
    response: HttpResponse
    if wants_html(request, url_name):
        context = {"detail": detail, "code": "rate_limited", "wait": human_wait(seconds)}
        response = render(request, "django_jwt_email/rate_limited.html", context, status=429)
    else:
        response = JsonResponse({"detail": detail, "code": "rate_limited"}, status=429)
    response["Retry-After"] = str(seconds)
    return no_store(response)


def wants_html(request: HttpRequest, url_name: str) -> bool:
    """The browser verify page always; other endpoints when Accept prefers HTML,
    as DRF's content negotiation decides for the view itself."""
    if url_name in HTML_URL_NAMES:
        return True
    return request.get_preferred_type(["application/json", "text/html"]) == "text/html"


def human_wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


# --- who is asking -------------------------------------------------------------


def ip_bucket(request: HttpRequest) -> str:
    """The client's network, as django-ratelimit masks it (an IPv6 /64 by default:
    one subscriber usually holds a whole /64, so single addresses are free to rotate).

    The address comes from ``clientinfo.client_ip``, the same as in the audit log.
    """
    ip = client_ip(request)
    if ip is None:  # no usable address: all such clients share one bucket
        return "unknown"
    if ":" in ip:
        mask = getattr(settings, "RATELIMIT_IPV6_MASK", 64)
    else:
        mask = getattr(settings, "RATELIMIT_IPV4_MASK", 32)
    return str(ipaddress.ip_network(f"{ip}/{mask}", strict=False).network_address)


def posted_email(request: HttpRequest) -> str:
    """The ``email`` field of a JSON or form body (else its ``username``: the admin
    login form of an email-only user model asks for a link with it), or ''.

    django-ratelimit's ``post:email`` key reads ``request.POST``, which is empty
    for JSON: every API caller would share one bucket. ``request.body`` is cached
    by Django, so the view can still parse it.
    """
    try:
        if request.content_type == "application/json":
            data = json.loads(request.body or b"null")
        else:
            data = request.POST
        value = (data.get("email") or data.get("username", "")) if hasattr(data, "get") else ""
    except (ValueError, RecursionError, RawPostDataException, MultiPartParserError):
        return ""  # the view answers 400 or 415 and sends nothing
    except SuspiciousOperation:  # too big, too many fields: the view answers 400 or 413
        return ""
    return value if isinstance(value, str) else ""


def fold(address: str) -> str:
    """The mailbox an address reaches, as far as the per-address limit cares.

    Case, surrounding whitespace and Unicode compatibility forms are folded (the
    account lookup ignores case too); so are ``+tags`` of the local part, and
    dots for Gmail, which delivers ``a.b+x@gmail.com`` to ``ab@gmail.com``:
    otherwise the variants of one address would each get a full budget. Two
    people whose addresses fold together merely share a bucket.
    """
    address = unicodedata.normalize("NFKC", address).strip().casefold()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"
