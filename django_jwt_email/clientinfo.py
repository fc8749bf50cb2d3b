"""Who is asking: the client IP and user agent of a request, for audit and limits.

The IP honours django-ratelimit's ``RATELIMIT_IP_META_KEY`` so that the audit
log and the rate limits agree on who the client is behind a proxy. Without
that setting, ``REMOTE_ADDR`` is used and ``X-Forwarded-For`` is ignored: a
client could put anything in it.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

from .services import Client


def client_ip(request: HttpRequest) -> str | None:
    meta_key = getattr(settings, "RATELIMIT_IP_META_KEY", None)
    if callable(meta_key):
        value = meta_key(request)
    elif isinstance(meta_key, str) and "." in meta_key:
        from django.utils.module_loading import import_string

        value = import_string(meta_key)(request)
    elif isinstance(meta_key, str):
        value = request.META.get(meta_key, "")
        # X-Forwarded-For: "client, proxy1, proxy2"; the client is the first.
        value = value.split(",")[0]
    else:
        value = request.META.get("REMOTE_ADDR", "")
    value = (value or "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_of(request: HttpRequest) -> Client:
    return Client(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:255])
