"""What an attacker can build without the signing key: tokens re-signed, re-headed or bent.

Plain helpers for the security tests (no fixtures): base64url, raw compact JWS
assembly with any header and any signature, and signing with the test keys in
``tests/keys`` (the suite's own key, a foreign key of the same curve, RSA, Ed25519).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

KEY_DIR = Path(__file__).resolve().parent.parent / "keys"
KID = "test-es256"  # the kid of the suite's signing key (tests/settings.py)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The header, the claims and the signature segment of a compact JWS."""
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def private_pem(name: str) -> bytes:
    return (KEY_DIR / f"{name}.pem").read_bytes()


def public_pem(name: str) -> bytes:
    key = serialization.load_pem_private_key(private_pem(name), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def assemble(header: dict[str, Any] | str, claims: dict[str, Any] | str, signature: str) -> str:
    """A compact JWS from any header and payload (objects or raw segments) and signature."""
    head = header if isinstance(header, str) else b64json(header)
    body = claims if isinstance(claims, str) else b64json(claims)
    return f"{head}.{body}.{signature}"


def sign(
    claims: dict[str, Any],
    *,
    key: str = "es256",
    algorithm: str = "ES256",
    headers: dict[str, Any] | None = None,
) -> str:
    """Sign ``claims`` with a test key; ``headers`` are added (kid defaults to the suite's)."""
    return jwt.encode(
        claims, private_pem(key), algorithm=algorithm, headers={"kid": KID, **(headers or {})}
    )


def sign_raw(header: dict[str, Any], payload: bytes, *, key: str = "es256") -> str:
    """An ES256 JWS over any payload bytes with exactly the given header (any kid type)."""
    signing_input = f"{b64json(header)}.{b64(payload)}".encode()
    algorithm = jwt.get_algorithm_by_name("ES256")
    signature = algorithm.sign(signing_input, algorithm.prepare_key(private_pem(key)))
    return f"{signing_input.decode()}.{b64(signature)}"


def hmac_sign(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 computed by hand: PyJWT itself refuses a PEM as an HMAC secret, an attacker won't."""
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"
