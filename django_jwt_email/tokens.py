"""Mint and decode the three token kinds; pure: no database, no HTTP, no cache.

Every refusal rule of the design lives here. The header is read only to pick
the key by ``kid``; the algorithm is the key's own, never the header's, so a
token cannot choose how it is verified (``alg: none``, HS256-with-a-public-key).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from threading import Lock
from typing import Any

import jwt

from .conf import app_settings
from .exceptions import TokenExpired, TokenInvalid
from .keys import get_keyring

LOGIN, REFRESH, ACCESS = "login", "refresh", "access"
KINDS = (LOGIN, REFRESH, ACCESS)
# Explicit typing (RFC 8725 §3.11): one kind can never pass for another.
TYP = {LOGIN: "login+jwt", REFRESH: "refresh+jwt", ACCESS: "at+jwt"}
# Claims every token of a kind must carry; "sub" is absent only from sign-up links.
REQUIRED = {
    LOGIN: ["iss", "aud", "jti", "iat", "nbf", "exp"],
    REFRESH: ["iss", "aud", "sub", "jti", "iat", "nbf", "exp", "sid"],
    ACCESS: ["iss", "aud", "sub", "jti", "iat", "nbf", "exp", "sid", "scope"],
}
# Only these header parameters are understood; anything else (crit, jku, x5u,
# jwk, x5c, b64, ...) would ask the verifier to trust something from the token.
ALLOWED_HEADER = {"alg", "typ", "kid"}


def new_id() -> str:
    """A random identifier for ``jti`` and ``sid``: 192 bits, URL-safe."""
    return secrets.token_urlsafe(24)


def audience(kind: str) -> str:
    """Access tokens carry the plain AUDIENCE (what resource servers check)."""
    base: str = app_settings.AUDIENCE
    return base if kind == ACCESS else f"{base}:{kind}"


def ttl(kind: str) -> timedelta:
    value: timedelta = getattr(app_settings, f"{kind.upper()}_TOKEN_TTL")
    return value


@dataclass(frozen=True)
class Token:
    """A minted token and the facts about it that the caller stores."""

    token: str
    kind: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    claims: dict[str, Any]


def mint(
    kind: str,
    *,
    subject: str | None,
    sid: str | None = None,
    scope: str | None = None,
    now: datetime | None = None,
    expires_at: datetime | None = None,
) -> Token:
    """Sign a new token of ``kind`` with the first configured key."""
    key = get_keyring().signing_key
    issued = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    expires = (expires_at or issued + ttl(kind)).replace(microsecond=0)
    claims: dict[str, Any] = {
        "iss": app_settings.ISSUER,
        "aud": audience(kind),
        "jti": new_id(),
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    if subject is not None:
        claims["sub"] = subject
    if sid is not None:
        claims["sid"] = sid
    if scope is not None:
        claims["scope"] = scope
    encoded = jwt.encode(
        claims,
        key.private_key,
        algorithm=key.algorithm,
        headers={"kid": key.kid, "typ": TYP[kind]},
    )
    return Token(encoded, kind, claims["jti"], issued, expires, claims)


def decode(token: object, kind: str) -> dict[str, Any]:
    """The verified claims of ``token`` as a ``kind`` token, or TokenInvalid/TokenExpired."""
    if not isinstance(token, str) or not token:
        raise TokenInvalid("malformed")
    # Bound the work an attacker can cause before anything is parsed.
    if len(token) > app_settings.MAX_TOKEN_LENGTH:
        raise TokenInvalid("too_long")
    header, claims = _verified_payload(token)
    if header.get("typ") != TYP[kind]:
        raise TokenInvalid("wrong_typ")
    _check_claims(claims, kind)
    return dict(claims)


def _check_claims(claims: dict[str, Any], kind: str) -> None:
    missing = [name for name in REQUIRED[kind] if name not in claims]
    if missing:
        raise TokenInvalid("missing_claim")
    for name in ("iat", "nbf", "exp"):
        if type(claims[name]) is not int:  # NumericDate; bool is an int subclass
            raise TokenInvalid("bad_claims")
    for name in ("jti", "sub", "sid", "scope", "iss", "aud"):
        if name in claims and not isinstance(claims[name], str):
            raise TokenInvalid("bad_claims")
    now, leeway = time.time(), app_settings.LEEWAY.total_seconds()
    if claims["exp"] <= now - leeway:
        raise TokenExpired("expired")
    if claims["nbf"] > now + leeway:
        raise TokenInvalid("not_yet_valid")
    if claims["iat"] > now + leeway:
        raise TokenInvalid("iat_in_future")
    if claims["iss"] != app_settings.ISSUER:
        raise TokenInvalid("wrong_iss")
    if claims["aud"] != audience(kind):
        raise TokenInvalid("wrong_aud")


_NO_CLAIM_CHECKS = {
    name: False for name in ("verify_exp", "verify_nbf", "verify_iat", "verify_aud", "verify_iss")
}


class _VerifiedCache:
    """A small LRU of tokens whose signature was already verified in this process.

    A busy API sees the same access token on every request of a session; the
    signature check is the costly part and its answer cannot change for the same
    bytes and key ring. The claims (expiry, audience, ...) and the revocation
    marks are still checked on every call. Entries drop out when the key ring
    changes, so a removed key stops verifying at once.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.entries: OrderedDict[str, tuple[Any, dict[str, Any], dict[str, Any]]] = OrderedDict()
        self.lock = Lock()

    def get(self, token: str, ring: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        with self.lock:
            entry = self.entries.get(token)
            if entry is None or entry[0] is not ring:
                return None
            self.entries.move_to_end(token)
            return entry[1], entry[2]

    def put(self, token: str, ring: Any, header: dict[str, Any], claims: dict[str, Any]) -> None:
        with self.lock:
            self.entries[token] = (ring, header, claims)
            self.entries.move_to_end(token)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


_verified = _VerifiedCache()


def _verified_payload(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ring = get_keyring()
    cached = _verified.get(token, ring)
    if cached is not None:
        return cached
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenInvalid("malformed") from None
    if set(header) - ALLOWED_HEADER:
        raise TokenInvalid("forbidden_header")
    key = ring.get(header.get("kid"))
    if key is None:
        raise TokenInvalid("unknown_kid")
    # The key decides the algorithm. A mismatching header is refused outright
    # rather than "corrected", so confusion attempts show up in the audit log.
    if header.get("alg") != key.algorithm:
        raise TokenInvalid("wrong_alg")
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[key.algorithm],
            # Only the signature here; _check_claims applies the claim rules to
            # cached and fresh payloads alike.
            options={"verify_signature": True, **_NO_CLAIM_CHECKS},
        )
    except jwt.InvalidSignatureError:
        raise TokenInvalid("bad_signature") from None
    except jwt.InvalidTokenError:
        raise TokenInvalid("malformed") from None
    if not isinstance(claims, dict):
        raise TokenInvalid("malformed")
    _verified.put(token, ring, header, claims)
    return header, claims


def expires_in(exp: int) -> int:
    """Seconds from now until the NumericDate ``exp``."""
    return max(0, int(exp - time.time()))
