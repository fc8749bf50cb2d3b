"""Signing keys: load from settings, pin each to its algorithm, export JWKS, generate.

Keys come from ``JWT_EMAIL_SIGNING_KEYS`` only (through ``conf``); no database
here. Parsing a PEM costs more than verifying a signature, so the parsed key
ring is kept in memory and dropped when the setting changes.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.signals import setting_changed
from django.dispatch import receiver
from jwt.algorithms import Algorithm

from .conf import PREFIX, app_settings
from .exceptions import ConfigurationError

__all__ = [
    "KeyRing",
    "SigningKey",
    "generate_private_key",
    "get_keyring",
    "load_key",
    "load_keyring",
    "public_jwks",
]

EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}
RSA_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
# A shared secret must be at least as long as the hash output (RFC 7518 §3.2).
SYMMETRIC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
ASYMMETRIC_ALGORITHMS = {*EC_CURVES, *RSA_ALGORITHMS, "EdDSA"}
SUPPORTED_ALGORITHMS = ASYMMETRIC_ALGORITHMS | set(SYMMETRIC_MIN_BYTES)
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    """One configured key, pinned to the one algorithm it may be used with."""

    kid: str
    algorithm: str
    private_key: Any = field(repr=False)  # None for a verify-only entry
    public_key: Any = field(repr=False)  # the HMAC secret for HS*
    implementation: Algorithm = field(repr=False, compare=False)

    @property
    def symmetric(self) -> bool:
        return self.algorithm in SYMMETRIC_MIN_BYTES

    def public_jwk(self) -> dict[str, Any] | None:
        """The public JWK of this key, or None for a shared secret (never exported)."""
        if self.symmetric:
            return None
        jwk: dict[str, Any] = self.implementation.to_jwk(self.public_key, as_dict=True)
        # "use" says what the key is for; RFC 7517 §4.3 asks not to send
        # "key_ops" beside it (PyJWT adds one to RSA keys).
        jwk.pop("key_ops", None)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[SigningKey, ...]

    @property
    def signing_key(self) -> SigningKey:
        for key in self.keys[:1]:
            if key.private_key is not None:
                return key
        raise ConfigurationError(
            "no_signing_key",
            f"The first entry of {PREFIX}SIGNING_KEYS must hold a private key.",
        )

    def get(self, kid: object) -> SigningKey | None:
        """The key named by a token's ``kid`` header, or None (never a fallback)."""
        if not isinstance(kid, str):
            return None
        return next((key for key in self.keys if key.kid == kid), None)


_keyring: KeyRing | None = None


def get_keyring() -> KeyRing:
    """The parsed keys of the current settings (parsed once, then kept)."""
    global _keyring
    if _keyring is None:
        _keyring = load_keyring(app_settings.SIGNING_KEYS, app_settings.ALLOW_SYMMETRIC)
    return _keyring


@receiver(setting_changed)
def _reset_keyring(*, setting: str, **kwargs: Any) -> None:
    global _keyring
    if setting in (PREFIX + "SIGNING_KEYS", PREFIX + "ALLOW_SYMMETRIC"):
        _keyring = None


def load_keyring(entries: object, allow_symmetric: bool = False) -> KeyRing:
    """Parse every entry of ``JWT_EMAIL_SIGNING_KEYS``; raise ConfigurationError."""
    if not isinstance(entries, (list, tuple)) or not entries:
        raise ConfigurationError(
            "no_signing_key", f"{PREFIX}SIGNING_KEYS must be a non-empty list of keys."
        )
    keys = tuple(load_key(entry, allow_symmetric) for entry in entries)
    kids = [key.kid for key in keys]
    if len(set(kids)) != len(kids):
        raise ConfigurationError("duplicate_kid", f"{PREFIX}SIGNING_KEYS has duplicate kids.")
    return KeyRing(keys)


def load_key(entry: object, allow_symmetric: bool = False) -> SigningKey:
    if not isinstance(entry, dict):
        raise ConfigurationError("bad_key", "Each signing key must be a dict.")
    kid, algorithm = entry.get("kid"), entry.get("algorithm")
    if not isinstance(kid, str) or not kid:
        raise ConfigurationError("bad_key", "Each signing key needs a non-empty string 'kid'.")
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise ConfigurationError(
            "bad_algorithm",
            f"Key {kid!r}: algorithm must be one of {', '.join(sorted(SUPPORTED_ALGORITHMS))}.",
        )
    if algorithm in SYMMETRIC_MIN_BYTES:
        return _load_symmetric(kid, algorithm, entry, allow_symmetric)
    if entry.get("private_key"):
        private = _parse_private(kid, resolve_source(entry["private_key"], kid))
        public = private.public_key()
    elif entry.get("public_key"):
        private = None
        public = _parse_public(kid, resolve_source(entry["public_key"], kid))
    else:
        raise ConfigurationError("bad_key", f"Key {kid!r} needs 'private_key' or 'public_key'.")
    _check_key_type(kid, algorithm, public)
    implementation = jwt.get_algorithm_by_name(algorithm)
    return SigningKey(kid, algorithm, private, public, implementation)


def resolve_source(value: object, kid: str) -> bytes:
    """Key material from PEM text, ``file:PATH`` or ``env:VAR``."""
    if not isinstance(value, (str, bytes)):
        raise ConfigurationError("bad_key", f"Key {kid!r}: key material must be a string.")
    if isinstance(value, bytes):
        if not value.startswith((b"file:", b"env:")):
            return value  # a secret or PEM given as bytes, used as it is
        value = value.decode("ascii", errors="replace")
    text = value
    if text.startswith("file:"):
        try:
            return Path(text[5:]).expanduser().read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                "key_file", f"Key {kid!r}: cannot read {text[5:]}: {exc.strerror}."
            ) from None
    if text.startswith("env:"):
        env_value = os.environ.get(text[4:])
        if not env_value:
            raise ConfigurationError(
                "key_env", f"Key {kid!r}: environment variable {text[4:]} is not set."
            )
        # Platforms that take one-line variables store a PEM with literal "\n"
        # sequences; a PEM never holds a backslash, so unescaping is safe.
        if env_value.startswith("-----BEGIN ") and "\n" not in env_value:
            env_value = env_value.replace("\\n", "\n")
        return env_value.encode()
    return text.encode()


def _parse_private(kid: str, data: bytes) -> Any:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigurationError(
            "bad_pem", f"Key {kid!r}: not an unencrypted PEM private key."
        ) from None


def _parse_public(kid: str, data: bytes) -> Any:
    try:
        return serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigurationError("bad_pem", f"Key {kid!r}: not a PEM public key.") from None


def _check_key_type(kid: str, algorithm: str, public: Any) -> None:
    if algorithm in EC_CURVES:
        curve = EC_CURVES[algorithm]
        ok = isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, curve)
        expected = f"an EC key on {curve.name}"
    elif algorithm in RSA_ALGORITHMS:
        ok = isinstance(public, rsa.RSAPublicKey)
        expected = "an RSA key"
        if ok and public.key_size < MIN_RSA_BITS:
            raise ConfigurationError(
                "weak_rsa",
                f"Key {kid!r}: RSA key of {public.key_size} bits; at least {MIN_RSA_BITS}.",
            )
    else:
        ok = isinstance(public, ed25519.Ed25519PublicKey)
        expected = "an Ed25519 key"
    if not ok:
        raise ConfigurationError("key_type", f"Key {kid!r}: {algorithm} needs {expected}.")


def _load_symmetric(
    kid: str, algorithm: str, entry: dict[str, Any], allow_symmetric: bool
) -> SigningKey:
    # "is True": a stray string such as "False" must not switch shared secrets on.
    if allow_symmetric is not True:
        raise ConfigurationError(
            "symmetric",
            f"Key {kid!r}: {algorithm} needs {PREFIX}ALLOW_SYMMETRIC = True; "
            "prefer ES256 or EdDSA.",
        )
    secret = resolve_source(entry.get("private_key") or "", kid)
    if len(secret) < SYMMETRIC_MIN_BYTES[algorithm]:
        raise ConfigurationError(
            "weak_secret",
            f"Key {kid!r}: {algorithm} needs a secret of {SYMMETRIC_MIN_BYTES[algorithm]} "
            "bytes or more.",
        )
    implementation = jwt.get_algorithm_by_name(algorithm)
    try:
        # PyJWT refuses secrets that look like a PEM or SSH key (the material
        # of the HS256-with-a-public-key confusion): refuse them at load time.
        implementation.prepare_key(secret)
    except jwt.InvalidKeyError:
        raise ConfigurationError(
            "weak_secret", f"Key {kid!r}: a shared secret must not be a PEM or SSH key."
        ) from None
    return SigningKey(kid, algorithm, secret, secret, implementation)


def public_jwks() -> dict[str, list[dict[str, Any]]]:
    """The public JWKS of every asymmetric key (never a private or shared key)."""
    jwks = (key.public_jwk() for key in get_keyring().keys)
    return {"keys": [jwk for jwk in jwks if jwk is not None]}


def generate_private_key(algorithm: str) -> str:
    """A new private key for ``algorithm``: PEM text, or a random secret for HS*."""
    if algorithm in SYMMETRIC_MIN_BYTES:
        return secrets.token_urlsafe(SYMMETRIC_MIN_BYTES[algorithm])
    if algorithm in EC_CURVES:
        key: Any = ec.generate_private_key(EC_CURVES[algorithm]())
    elif algorithm in RSA_ALGORITHMS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    elif algorithm == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ConfigurationError("bad_algorithm", f"Unsupported algorithm {algorithm!r}.")
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()
