"""Short sign-in codes, keyed hashes of secrets and browser verifiers: pure, no database.

A code is derived from the login token's ``jti`` with a key only the server
holds (SECRET_KEY), so it is never stored in clear: the issued row keeps a
keyed hash, and the relay page of a browser-bound link can show the code again
from the token. Knowing a ``jti`` (it is in the audit log) does not give the

__all__ = [
    "derive_code",
    "format_code",
    "hash_code",
    "hash_verifier",
    "is_verifier",
    "keyed_hash",
    "matches",
    "new_verifier",
    "normalize_code",
]
code without the key.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from django.utils.crypto import constant_time_compare, salted_hmac

from .conf import app_settings

SALT = "django_jwt_email"
# What ``new_verifier`` makes: 32 random bytes, URL-safe base64 without padding.
VERIFIER = re.compile(r"[A-Za-z0-9_-]{43}")


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under SECRET_KEY, separated by ``purpose``."""
    return salted_hmac(f"{SALT}.{purpose}", value, algorithm="sha256").hexdigest()


def derive_code(jti: str) -> str:
    """The code of the login token ``jti``: CODE_LENGTH characters of CODE_ALPHABET."""
    alphabet: str = app_settings.CODE_ALPHABET
    length: int = app_settings.CODE_LENGTH
    digest = b""
    counter = 0
    while len(digest) < length * 2:
        digest += bytes.fromhex(keyed_hash(f"code.{counter}", jti))
        counter += 1
    # Two bytes per character keep the modulo bias under 1/2000 for any alphabet
    # of up to 32 symbols (and none at all for 16 or 32).
    values = (int.from_bytes(digest[i * 2 : i * 2 + 2], "big") for i in range(length))
    return "".join(alphabet[value % len(alphabet)] for value in values)


def normalize_code(code: str) -> str:
    """What the user typed, without separators or case: " abcd efgh" → "ABCDEFGH".

    The alphabet is letters and digits only (a system check makes sure), so
    dropping everything else forgives any dash, dot or space a mail client or a
    phone keyboard puts in.
    """
    return "".join(ch for ch in code.upper() if ch.isalnum())


def format_code(code: str) -> str:
    """For display: "ABCDEFGH" → "ABCD-EFGH"."""
    half = (len(code) + 1) // 2
    return f"{code[:half]}-{code[half:]}" if len(code) > 4 else code


def hash_code(code: str) -> str:
    """The stored form of a code. Keyed: a database dump does not give the codes,
    even though their space (32^8 = 2^40 by default) could be searched offline."""
    return keyed_hash("code", normalize_code(code))


def new_verifier() -> str:
    """The random value of a browser-binding cookie."""
    return secrets.token_urlsafe(32)


def is_verifier(value: str | None) -> bool:
    """Whether ``value`` looks like something ``new_verifier`` made."""
    return bool(value) and VERIFIER.fullmatch(value or "") is not None


def hash_verifier(verifier: str) -> str:
    """The stored form of a browser-binding cookie's verifier. A plain SHA-256 is
    enough: the verifier has 256 random bits, so its hash cannot be searched."""
    return hashlib.sha256(verifier.encode()).hexdigest()


def matches(stored_hash: str, candidate_hash: str) -> bool:
    """Constant-time equality of two hashes; an empty stored hash matches nothing."""
    return bool(stored_hash) and constant_time_compare(stored_hash, candidate_hash)
