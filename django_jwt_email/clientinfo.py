"""Who is asking: ``Client`` (IP and user agent) and the documented client-IP rule.

The IP honours django-ratelimit's ``RATELIMIT_IP_META_KEY`` so that the audit
log and the rate limits agree on who the client is behind a proxy. Without
that setting, ``REMOTE_ADDR`` is used and ``X-Forwarded-For`` is ignored: a
client could put anything in it. With a header name such as
``"HTTP_X_FORWARDED_FOR"``, the *last* entry is taken: the address your proxy
saw, which it appends after whatever the client wrote. Behind more than one
proxy, give the setting a callable that picks the right entry.

An IPv4 client of a dual-stack socket arrives as an IPv4-mapped IPv6 address
(``::ffff:203.0.113.9``): it is the IPv4 address, and is given as such, or the
rate limits would mask every IPv4 client into one IPv6 /64 (``::``).
"""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.module_loading import import_string

from .conf import ratelimit_setting

__all__ = ["Client", "client_ip", "current_session_key"]

#: The session key of the browser request being handled (set by RateLimitMiddleware):
#: an address change made by that browser keeps that browser signed in (receivers).
current_session_key: ContextVar[str] = ContextVar("jwt_email_session_key", default="")


@dataclass(frozen=True)
class Client:
    """Where a request came from, for the audit log and the email."""

    ip: str | None = None
    user_agent: str = ""


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address as configured (see the module docstring), or None."""
    meta_key = ratelimit_setting("RATELIMIT_IP_META_KEY")
    if callable(meta_key):
        value = meta_key(request)
    elif isinstance(meta_key, str) and "." in meta_key:
        value = import_string(meta_key)(request)
    elif isinstance(meta_key, str):
        # "X-Forwarded-For: <what the client sent>, <what the proxy saw>": only
        # the last entry was written by a proxy of ours; the first is the
        # client's to choose, and trusting it would let anyone pick their IP.
        value = request.META.get(meta_key, "").split(",")[-1]
    else:
        value = request.META.get("REMOTE_ADDR", "")
    return _parse_ip(str(value or ""))


def _parse_ip(value: str) -> str | None:
    """``value`` as a normalised IP address, IPv4-mapped ones as IPv4; some proxies
    add a port ("203.0.113.9:51234", "[2001:db8::1]:443"). Anything else is None."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip)
