"""Short sign-in codes and keyed hashes of secrets: pure functions, no database.

A code is derived from the login token's ``jti`` with a key only the server
holds, so it never needs storing in clear: the issued row keeps a keyed hash,
and the relay page of a bound link can show the code again from the token.
"""

from __future__ import annotations

import hashlib

from django.utils.crypto import constant_time_compare, salted_hmac

from .conf import app_settings

SALT = "django_jwt_email"


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under SECRET_KEY, separated by ``purpose``."""
    return salted_hmac(f"{SALT}.{purpose}", value, algorithm="sha256").hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_email(email: str) -> str:
    """What an issued row keeps of the address it was mailed to."""
    return keyed_hash("email", normalize_email(email))


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
    # of up to 32 symbols.
    values = (int.from_bytes(digest[i * 2 : i * 2 + 2], "big") for i in range(length))
    return "".join(alphabet[value % len(alphabet)] for value in values)


def normalize_code(code: str) -> str:
    """What the user typed, without separators or case: "abcd-efgh" → "ABCDEFGH"."""
    return "".join(ch for ch in code.upper() if ch not in " -_\t")


def format_code(code: str) -> str:
    """For display: "ABCDEFGH" → "ABCD-EFGH"."""
    half = (len(code) + 1) // 2
    return f"{code[:half]}-{code[half:]}" if len(code) > 4 else code


def hash_code(code: str) -> str:
    return keyed_hash("code", normalize_code(code))


def hash_verifier(verifier: str) -> str:
    """The stored form of a browser-binding cookie's verifier."""
    return hashlib.sha256(verifier.encode()).hexdigest()


def matches(stored_hash: str, candidate_hash: str) -> bool:
    return bool(stored_hash) and constant_time_compare(stored_hash, candidate_hash)
