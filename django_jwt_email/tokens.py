"""Mint and decode the three token kinds; pure: no database, no HTTP, no cache.

Every refusal rule of the design lives here. The header is read only to pick
the key by ``kid``; the algorithm is the key's own, never the header's, so a
token cannot choose how it is verified (``alg: none``, HS256-with-a-public-key).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from threading import Lock
from typing import TYPE_CHECKING, Any

import jwt
from django.core.signals import setting_changed
from django.db.models import TextChoices
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from jwt.utils import base64url_decode

from .conf import PREFIX, app_settings
from .exceptions import ConfigurationError, TokenExpired, TokenInvalid
from .keys import KeyRing, get_keyring

__all__ = [
    "Token",
    "TokenKind",
    "audience",
    "client_id",
    "decode",
    "expires_in",
    "mint",
    "new_id",
    "ttl",
    "verify_signature",
]

if TYPE_CHECKING:
    from jwt.types import SigOptions


class TokenKind(TextChoices):
    """The three kinds of token, the one definition the whole package uses."""

    LOGIN = "login", _("login link")
    REFRESH = "refresh", _("refresh")
    ACCESS = "access", _("access")


# Explicit typing (RFC 8725 §3.11): one kind can never pass for another.
TYP: dict[str, str] = {
    TokenKind.LOGIN: "login+jwt",
    TokenKind.REFRESH: "refresh+jwt",
    TokenKind.ACCESS: "at+jwt",
}
# Claims every token of a kind must carry; "sub" is absent only from sign-up links.
# A refresh token carries its session's generation ("gen"): the one a refresh expects.
REQUIRED: dict[str, list[str]] = {
    TokenKind.LOGIN: ["iss", "aud", "jti", "iat", "nbf", "exp"],
    TokenKind.REFRESH: ["iss", "aud", "sub", "jti", "iat", "nbf", "exp", "sid", "gen"],
    TokenKind.ACCESS: [
        "iss",
        "aud",
        "sub",
        "jti",
        "iat",
        "nbf",
        "exp",
        "sid",
        "scope",
        "client_id",
    ],
}
# Claims the package sets itself: a site's extra access-token claims may not use them.
RESERVED_CLAIMS = frozenset(
    {"iss", "aud", "sub", "sid", "jti", "exp", "iat", "nbf", "scope", "typ", "client_id", "gen"}
    | {"auth_time", "acr", "amr", "azp", "cnf", "act", "may_act"}
)
# Only these header parameters are understood; anything else (crit, jku, x5u,
# jwk, x5c, b64, ...) would ask the verifier to trust something from the token.
ALLOWED_HEADER = {"alg", "typ", "kid"}
# A compact JWS: three base64url segments without padding (RFC 7515 §2, §7.1).
# The signature may be empty so that an unsigned token is refused for its alg.
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


# Hex digits of the time at the start of an identifier: milliseconds in 48 bits.
ID_TIME_DIGITS = 12


def new_id(now: float | None = None) -> str:
    """An identifier for ``jti`` and ``sid``: the time in milliseconds (12 hex
    digits), then 144 random bits (URL-safe base64); 36 characters.

    The random part is what no one can guess (128 bits or more). The time comes
    first so that identifiers sort in the order they were made: the unique indexes
    on ``jti`` and ``sid`` then take each new row at their right edge, and the
    cleanup deletes the expired ones from their left end, in pages next to each
    other, rather than on a random page of a large index per row. A hex digit
    first also means an identifier never starts with "-", so it can be pasted
    after an option on a command line (``jwt_email_revoke --jti ...``).
    """
    millis = int((time.time() if now is None else now) * 1000)
    return f"{millis:0{ID_TIME_DIGITS}x}{secrets.token_urlsafe(18)}"


def audience(kind: str) -> str:
    """Access tokens carry the plain AUDIENCE (what resource servers check)."""
    base: str = app_settings.AUDIENCE
    return base if kind == TokenKind.ACCESS else f"{base}:{kind}"


def client_id() -> str:
    """The ``client_id`` claim of access tokens (RFC 9068 §2.2): CLIENT_ID, else AUDIENCE."""
    value: str | None = app_settings.CLIENT_ID
    return value or app_settings.AUDIENCE


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
    generation: int | None = None,
    extra: dict[str, Any] | None = None,
    now: datetime | None = None,
    expires_at: datetime | None = None,
) -> Token:
    """Sign a new token of ``kind`` with the first configured key.

    ``expires_at`` may only shorten the kind's TTL (a refresh family's absolute
    lifetime): ``decode`` refuses a token that lives longer than its TTL. ``extra``
    claims (a site's, for access tokens) may not use a reserved name, and the
    token they make may not exceed MAX_TOKEN_LENGTH: ConfigurationError.
    """
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
    if generation is not None:
        claims["gen"] = generation
    if kind == TokenKind.ACCESS:
        claims["client_id"] = client_id()
    if extra:
        reserved = sorted(set(extra) & RESERVED_CLAIMS)
        if reserved:
            raise ConfigurationError(
                "reserved_claim",
                f"Extra access-token claims may not use reserved names: {', '.join(reserved)}.",
            )
        claims.update(extra)
    encoded = jwt.encode(
        claims,
        key.private_key,
        algorithm=key.algorithm,
        headers={"kid": key.kid, "typ": TYP[kind]},
    )
    if len(encoded) > app_settings.MAX_TOKEN_LENGTH:
        raise ConfigurationError(
            "token_too_long",
            f"A {kind} token of {len(encoded)} characters exceeds {PREFIX}MAX_TOKEN_LENGTH "
            f"({app_settings.MAX_TOKEN_LENGTH}): it would be refused. Send fewer claims.",
        )
    return Token(encoded, kind, claims["jti"], issued, expires, claims)


def decode(token: object, kind: str) -> dict[str, Any]:
    """The verified claims of ``token`` as a ``kind`` token, or TokenInvalid/TokenExpired."""
    if not isinstance(token, str) or not token:
        raise TokenInvalid("malformed")
    # Bound the work an attacker can cause before anything is parsed. (Counted
    # in characters; any non-ASCII character fails COMPACT_JWS below, so every
    # token that gets further is as long in bytes.)
    rules = _rules(kind)
    if len(token) > rules.max_length:
        raise TokenInvalid("too_long")
    header, claims = _verified_payload(token)
    if header.get("typ") != TYP[kind]:
        raise TokenInvalid("wrong_typ")
    _check_claims(claims, kind, rules)
    return dict(claims)


@dataclass(frozen=True)
class _Rules:
    """What the claim rules of one kind read from the settings."""

    max_length: int
    leeway: float
    issuer: str
    audience: str
    ttl: float


# Derived from the settings once and dropped on setting_changed, as the key ring
# is: decode() runs on every authenticated request, and each settings lookup of a
# default costs more than the rule it feeds.
_rules_by_kind: dict[str, _Rules] = {}


def _rules(kind: str) -> _Rules:
    rules = _rules_by_kind.get(kind)
    if rules is None:
        rules = _rules_by_kind[kind] = _Rules(
            max_length=app_settings.MAX_TOKEN_LENGTH,
            leeway=app_settings.LEEWAY.total_seconds(),
            issuer=app_settings.ISSUER,
            audience=audience(kind),
            ttl=ttl(kind).total_seconds(),
        )
    return rules


@receiver(setting_changed)
def _reset_rules(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(PREFIX):
        _rules_by_kind.clear()


def _check_claims(claims: dict[str, Any], kind: str, rules: _Rules) -> None:
    # The audience first: a token of another kind is refused as such, whatever else
    # it lacks (the truest reason for the audit log).
    if isinstance(claims.get("aud"), str) and claims["aud"] != rules.audience:
        raise TokenInvalid("wrong_aud")
    missing = [name for name in REQUIRED[kind] if name not in claims]
    if missing:
        raise TokenInvalid("missing_claim")
    for name in ("iat", "nbf", "exp"):
        if type(claims[name]) is not int:  # NumericDate; bool is an int subclass
            raise TokenInvalid("bad_claims")
    for name in ("jti", "sub", "sid", "scope", "iss", "aud", "client_id"):
        if name in claims and not isinstance(claims[name], str):
            raise TokenInvalid("bad_claims")
    gen = claims.get("gen", 0)
    if type(gen) is not int or gen < 0:
        raise TokenInvalid("bad_claims")
    now, leeway = time.time(), rules.leeway
    if claims["exp"] <= now - leeway:
        raise TokenExpired("expired")
    if claims["nbf"] > now + leeway:
        raise TokenInvalid("not_yet_valid")
    if claims["iat"] > now + leeway:
        raise TokenInvalid("iat_in_future")
    if claims["iss"] != rules.issuer:
        raise TokenInvalid("wrong_iss")
    # The verifier enforces the lifetime too, not only the minter: shortening a
    # TTL (after a leak, say) cuts the tokens already out there at once.
    if claims["exp"] - claims["iat"] > rules.ttl:
        raise TokenInvalid("lifetime_too_long")


# PyJWT's JWS layer checks the signature only; _check_claims applies every claim
# rule, to cached and fresh payloads alike, so each refusal has one reason in one place.
_SIGNATURE_ONLY: SigOptions = {"verify_signature": True, "enforce_minimum_key_length": True}


class _VerifiedCache:
    """A small LRU of tokens whose signature was already verified in this process.

    A busy API sees the same access token on every request of a session; the
    signature check is the costly part and its answer cannot change for the same
    bytes and key ring. The claims (expiry, audience, ...) and the revocation
    marks are still checked on every call. Entries drop out when the key ring
    changes, so a removed key stops verifying at once. Entries are keyed by a
    SHA-256 of the token: the cache never holds a whole token.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.entries: OrderedDict[bytes, tuple[Any, dict[str, Any], dict[str, Any]]] = (
            OrderedDict()
        )
        self.lock = Lock()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def __contains__(self, token: str) -> bool:
        return self._key(token) in self.entries

    def get(self, token: str, ring: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        key = self._key(token)
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or entry[0] is not ring:
                return None
            self.entries.move_to_end(key)
            return entry[1], entry[2]

    def put(self, token: str, ring: Any, header: dict[str, Any], claims: dict[str, Any]) -> None:
        key = self._key(token)
        with self.lock:
            self.entries[key] = (ring, header, claims)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


_verified = _VerifiedCache()


def _verified_payload(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ring = get_keyring()
    cached = _verified.get(token, ring)
    if cached is not None:
        return cached
    header, payload = verify_signature(token, ring)
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError):
        raise TokenInvalid("malformed") from None
    if not isinstance(claims, dict):
        raise TokenInvalid("malformed")
    _verified.put(token, ring, header, claims)
    return header, claims


def verify_signature(token: str, ring: KeyRing) -> tuple[dict[str, Any], bytes]:
    """The header and raw payload of a compact JWS whose signature ``ring`` verifies.

    Every rule that does not depend on the claims: strict compact shape, the
    header allow-list, the key chosen by ``kid`` alone and that key's own
    algorithm, then the signature. Raises TokenInvalid. Separate from
    ``decode()`` so known-answer vectors can be run against a given key ring.
    """
    header = _header(token)
    # Anything beyond alg/typ/kid asks the verifier to trust the token itself
    # (a key in jwk, a URL in jku/x5u, extensions in crit): refused, not ignored.
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
        verified = jwt.api_jws.decode_complete(
            token, key.public_key, algorithms=[key.algorithm], options=_SIGNATURE_ONLY
        )
    except jwt.InvalidSignatureError:
        raise TokenInvalid("bad_signature") from None
    except jwt.InvalidTokenError:
        raise TokenInvalid("malformed") from None
    payload: bytes = verified["payload"]
    return header, payload


def _header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, parsed strictly but not yet trusted."""
    if not COMPACT_JWS.fullmatch(token):
        raise TokenInvalid("malformed")
    try:
        header = json.loads(base64url_decode(token.split(".", 1)[0]))
    except (ValueError, binascii.Error, RecursionError):
        raise TokenInvalid("malformed") from None
    if not isinstance(header, dict):
        raise TokenInvalid("malformed")
    return header


def expires_in(exp: int) -> int:
    """Seconds from now until the NumericDate ``exp``."""
    return max(0, int(exp - time.time()))
