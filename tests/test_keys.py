"""Signing keys: load from PEM text, ``file:`` and ``env:``, pin each key to its
algorithm, rotate (first signs, all verify), export the public JWKS, generate."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from django_jwt_email import tokens
from django_jwt_email.exceptions import ConfigurationError, TokenInvalid
from django_jwt_email.keys import (
    SUPPORTED_ALGORITHMS,
    generate_private_key,
    get_keyring,
    load_keyring,
    public_jwks,
)

KEY_DIR = Path(__file__).parent / "keys"

# Every asymmetric algorithm with a test key it accepts.
ASYMMETRIC = [
    ("ES256", "es256"),
    ("ES384", "es384"),
    ("ES512", "es512"),
    ("EdDSA", "ed25519"),
    ("RS256", "rs256"),
    ("RS384", "rs256"),
    ("RS512", "rs256"),
    ("PS256", "rs256"),
    ("PS384", "rs256"),
    ("PS512", "rs256"),
]
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def pem(name: str) -> str:
    return (KEY_DIR / f"{name}.pem").read_text()


def entry(kid: str, algorithm: str, name: str) -> dict:
    return {"kid": kid, "algorithm": algorithm, "private_key": f"file:{KEY_DIR / name}.pem"}


def public_entry(kid: str, algorithm: str, name: str) -> dict:
    public = serialization.load_pem_private_key(pem(name).encode(), None).public_key()
    text = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return {"kid": kid, "algorithm": algorithm, "public_key": text}


def refusal(entries, allow_symmetric: bool = False) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        load_keyring(entries, allow_symmetric)
    return caught.value


def header_of(token: str) -> dict:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


# -- sources: PEM text, file:PATH, env:VAR ------------------------------------------


def test_load_key_from_pem_text():
    ring = load_keyring([{"kid": "a", "algorithm": "ES256", "private_key": pem("es256")}])
    assert ring.signing_key.kid == "a"
    assert ring.signing_key.private_key is not None


def test_load_key_from_file():
    ring = load_keyring([entry("a", "ES256", "es256")])
    expected = serialization.load_pem_private_key(pem("es256").encode(), None)
    assert ring.signing_key.private_key.private_numbers() == expected.private_numbers()


def test_load_key_from_env(monkeypatch):
    monkeypatch.setenv("TEST_JWT_EMAIL_KEY", pem("ed25519"))
    ring = load_keyring(
        [{"kid": "a", "algorithm": "EdDSA", "private_key": "env:TEST_JWT_EMAIL_KEY"}]
    )
    assert ring.signing_key.algorithm == "EdDSA"


def test_load_key_from_env_with_escaped_newlines(monkeypatch):
    # One-line variables (some hosting platforms) hold the PEM with literal "\n".
    monkeypatch.setenv("TEST_JWT_EMAIL_KEY", pem("es256").replace("\n", "\\n"))
    assert "\n" not in os.environ["TEST_JWT_EMAIL_KEY"]
    ring = load_keyring(
        [{"kid": "a", "algorithm": "ES256", "private_key": "env:TEST_JWT_EMAIL_KEY"}]
    )
    assert ring.signing_key.kid == "a"


def test_load_key_given_as_bytes(monkeypatch):
    """PEM bytes (read from a secrets manager, say) are the key; ``file:`` and
    ``env:`` given as bytes point to it as the text forms do."""
    monkeypatch.setenv("TEST_JWT_EMAIL_KEY", pem("es256"))
    expected = serialization.load_pem_private_key(pem("es256").encode(), None)
    for value in (
        pem("es256").encode(),
        f"file:{KEY_DIR / 'es256'}.pem".encode(),
        b"env:TEST_JWT_EMAIL_KEY",
    ):
        ring = load_keyring([{"kid": "a", "algorithm": "ES256", "private_key": value}])
        assert ring.signing_key.private_key.private_numbers() == expected.private_numbers()


def test_load_key_file_from_the_home_directory(monkeypatch, tmp_path):
    (tmp_path / "key.pem").write_text(pem("es256"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_keyring([{"kid": "a", "algorithm": "ES256", "private_key": "file:~/key.pem"}])


def test_errors_never_echo_key_material():
    secret_pem = pem("es256")
    body = secret_pem.splitlines()[1]
    for bad in (
        {"kid": "a", "algorithm": "ES384", "private_key": secret_pem},  # wrong curve
        {"kid": "a", "algorithm": "ES256", "private_key": secret_pem[:-40]},  # truncated
        {"kid": "a", "algorithm": "HS256", "private_key": body[:20]},  # short secret
    ):
        error = refusal([bad], allow_symmetric=True)
        assert body[:20] not in error.detail
        assert body[:20] not in str(error)


def test_missing_key_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere.pem"
    error = refusal([{"kid": "a", "algorithm": "ES256", "private_key": f"file:{missing}"}])
    assert error.reason == "key_file"
    assert str(missing) in error.detail
    assert "'a'" in error.detail


@pytest.mark.parametrize("value", [None, ""])
def test_unset_or_empty_env_names_the_variable(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("TEST_JWT_EMAIL_UNSET", raising=False)
    else:
        monkeypatch.setenv("TEST_JWT_EMAIL_UNSET", value)
    error = refusal(
        [{"kid": "a", "algorithm": "ES256", "private_key": "env:TEST_JWT_EMAIL_UNSET"}]
    )
    assert error.reason == "key_env"
    assert "TEST_JWT_EMAIL_UNSET" in error.detail


@pytest.mark.parametrize(
    "material",
    ["not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 42],
)
def test_material_that_is_not_a_pem_key_is_refused(material):
    error = refusal([{"kid": "a", "algorithm": "ES256", "private_key": material}])
    assert error.reason in {"bad_pem", "bad_key"}
    assert "'a'" in error.detail


def test_public_pem_in_private_key_slot_is_refused():
    error = refusal([{"kid": "a", "algorithm": "ES256", "private_key": pem("es256.pub")}])
    assert error.reason == "bad_pem"


def test_encrypted_private_key_is_refused():
    key = serialization.load_pem_private_key(pem("es256").encode(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    error = refusal([{"kid": "a", "algorithm": "ES256", "private_key": encrypted}])
    assert error.reason == "bad_pem"
    assert "unencrypted" in error.detail


@pytest.mark.parametrize("entries", [[], None, "file:key.pem", {"kid": "a"}])
def test_no_list_of_keys_is_refused(entries):
    assert refusal(entries).reason == "no_signing_key"


@pytest.mark.parametrize(
    "bad",
    [
        "not a dict",
        {"algorithm": "ES256", "private_key": pem("es256")},
        {"kid": "", "algorithm": "ES256", "private_key": pem("es256")},
        {"kid": 7, "algorithm": "ES256", "private_key": pem("es256")},
        {"kid": "a", "algorithm": "ES256"},
    ],
)
def test_entry_without_kid_or_key_is_refused(bad):
    assert refusal([bad]).reason == "bad_key"


# -- kid, rotation, verify-only entries -----------------------------------------------


def test_each_key_is_found_by_its_kid():
    ring = load_keyring([entry("new", "ES256", "es256-other"), entry("old", "EdDSA", "ed25519")])
    assert [key.kid for key in ring.keys] == ["new", "old"]
    assert ring.get("old").algorithm == "EdDSA"
    assert ring.get("new").algorithm == "ES256"
    assert ring.get("missing") is None
    assert ring.get(None) is None
    assert ring.get(["new"]) is None


def test_duplicate_kid_is_refused():
    error = refusal([entry("same", "ES256", "es256"), entry("same", "EdDSA", "ed25519")])
    assert error.reason == "duplicate_kid"


def test_first_key_signs(settings):
    settings.JWT_EMAIL_SIGNING_KEYS = [
        entry("new", "EdDSA", "ed25519"),
        entry("old", "ES256", "es256"),
    ]
    token = tokens.mint(tokens.TokenKind.ACCESS, subject="1", sid="s", scope="api").token
    assert header_of(token) == {"alg": "EdDSA", "kid": "new", "typ": "at+jwt"}


def test_rotation_token_of_the_old_key_verifies_while_old_key_is_second(settings):
    settings.JWT_EMAIL_SIGNING_KEYS = [entry("old", "ES256", "es256")]
    old_token = tokens.mint(tokens.TokenKind.REFRESH, subject="1", sid="s", generation=0).token
    settings.JWT_EMAIL_SIGNING_KEYS = [
        entry("new", "EdDSA", "ed25519"),
        entry("old", "ES256", "es256"),
    ]
    assert tokens.decode(old_token, tokens.TokenKind.REFRESH)["sub"] == "1"
    assert (
        header_of(tokens.mint(tokens.TokenKind.REFRESH, subject="1", sid="s", generation=0).token)[
            "kid"
        ]
        == "new"
    )
    # Once the old key is dropped from the list, its tokens stop verifying.
    settings.JWT_EMAIL_SIGNING_KEYS = [entry("new", "EdDSA", "ed25519")]
    with pytest.raises(TokenInvalid) as caught:
        tokens.decode(old_token, tokens.TokenKind.REFRESH)
    assert caught.value.reason == "unknown_kid"


def test_public_only_entry_verifies_but_cannot_sign(settings):
    settings.JWT_EMAIL_SIGNING_KEYS = [entry("a", "ES256", "es256")]
    token = tokens.mint(tokens.TokenKind.ACCESS, subject="1", sid="s", scope="api").token
    settings.JWT_EMAIL_SIGNING_KEYS = [
        entry("b", "EdDSA", "ed25519"),
        {"kid": "a", "algorithm": "ES256", "public_key": f"file:{KEY_DIR / 'es256.pub.pem'}"},
    ]
    assert tokens.decode(token, tokens.TokenKind.ACCESS)["sub"] == "1"
    assert get_keyring().get("a").private_key is None
    # As the first entry, a public key cannot sign.
    settings.JWT_EMAIL_SIGNING_KEYS = [public_entry("a", "ES256", "es256")]
    assert tokens.decode(token, tokens.TokenKind.ACCESS)["sub"] == "1"
    with pytest.raises(ConfigurationError) as caught:
        tokens.mint(tokens.TokenKind.ACCESS, subject="1", sid="s", scope="api")
    assert caught.value.reason == "no_signing_key"


def test_private_pem_in_public_key_slot_is_refused():
    error = refusal([{"kid": "a", "algorithm": "ES256", "public_key": pem("es256")}])
    assert error.reason == "bad_pem"


# -- each algorithm: load, mint, verify; each key pinned to its algorithm -----------


@pytest.mark.parametrize(("algorithm", "name"), ASYMMETRIC)
def test_mint_and_verify_round_trip(settings, algorithm, name):
    settings.JWT_EMAIL_SIGNING_KEYS = [entry("k", algorithm, name)]
    minted = tokens.mint(tokens.TokenKind.ACCESS, subject="7", sid="s", scope="api")
    assert header_of(minted.token)["alg"] == algorithm
    assert tokens.decode(minted.token, tokens.TokenKind.ACCESS)["sub"] == "7"
    # A relying party that only has the published JWKS verifies it too.
    (jwk,) = public_jwks()["keys"]
    claims = jwt.decode(
        minted.token, jwt.PyJWK(jwk).key, algorithms=[algorithm], audience="django-jwt-email"
    )
    assert claims["jti"] == minted.jti


@pytest.mark.parametrize(("algorithm", "name"), ASYMMETRIC)
def test_public_only_entry_of_each_algorithm_loads(algorithm, name):
    ring = load_keyring([public_entry("k", algorithm, name)])
    assert ring.keys[0].private_key is None
    assert ring.keys[0].algorithm == algorithm


@pytest.mark.parametrize(
    ("algorithm", "name"),
    [
        ("ES256", "es384"),  # right family, wrong curve
        ("ES256", "es512"),
        ("ES384", "es256"),
        ("ES512", "es384"),
        ("ES256", "secp256k1"),  # ES256K is not ES256
        ("ES256", "rs256"),
        ("ES256", "ed25519"),
        ("RS256", "es256"),
        ("PS256", "ed25519"),
        ("EdDSA", "es256"),
        ("EdDSA", "ed448"),  # EdDSA here means Ed25519 only
    ],
)
def test_key_of_the_wrong_type_or_curve_is_refused(algorithm, name):
    error = refusal([entry("k", algorithm, name)])
    assert error.reason == "key_type"
    assert algorithm in error.detail


@pytest.mark.parametrize("algorithm", ["RS256", "RS512", "PS256"])
def test_rsa_key_under_2048_bits_is_refused(algorithm):
    error = refusal([entry("k", algorithm, "rs1024")])
    assert error.reason == "weak_rsa"
    assert "1024" in error.detail
    # A weak verify-only key is refused as well.
    assert refusal([public_entry("k", algorithm, "rs1024")]).reason == "weak_rsa"


@pytest.mark.parametrize("algorithm", ["none", "None", "HS1", "ES256K", "RSA-OAEP", "", None])
def test_unsupported_algorithm_is_refused(algorithm):
    assert refusal([entry("k", algorithm, "es256")]).reason == "bad_algorithm"


# -- shared secrets -----------------------------------------------------------------

SECRET_FILE = f"file:{KEY_DIR / 'hs256.secret'}"


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_symmetric_key_is_refused_unless_allowed(algorithm):
    error = refusal([{"kid": "k", "algorithm": algorithm, "private_key": SECRET_FILE}])
    assert error.reason == "symmetric"
    assert "JWT_EMAIL_ALLOW_SYMMETRIC" in error.detail


@pytest.mark.parametrize("allow", ["False", "no", 1, None])
def test_symmetric_key_needs_allow_symmetric_to_be_exactly_true(allow):
    error = refusal([{"kid": "k", "algorithm": "HS256", "private_key": SECRET_FILE}], allow)
    assert error.reason == "symmetric"


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_symmetric_key_round_trip_when_allowed(settings, algorithm):
    settings.JWT_EMAIL_ALLOW_SYMMETRIC = True
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "k", "algorithm": algorithm, "private_key": SECRET_FILE}
    ]
    minted = tokens.mint(tokens.TokenKind.LOGIN, subject="3")
    assert header_of(minted.token)["alg"] == algorithm
    assert tokens.decode(minted.token, tokens.TokenKind.LOGIN)["sub"] == "3"


@pytest.mark.parametrize(("algorithm", "size"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_short_secret_is_refused(algorithm, size):
    short = {"kid": "k", "algorithm": algorithm, "private_key": "s" * (size - 1)}
    error = refusal([short], allow_symmetric=True)
    assert error.reason == "weak_secret"
    assert str(size) in error.detail
    assert load_keyring([{**short, "private_key": "s" * size}], allow_symmetric=True)


def test_public_key_pem_as_shared_secret_is_refused():
    # The material of an algorithm-confusion forgery is never a valid secret.
    secret = {"kid": "k", "algorithm": "HS256", "private_key": pem("es256.pub")}
    assert refusal([secret], allow_symmetric=True).reason == "weak_secret"


# -- JWKS ---------------------------------------------------------------------------


def test_jwks_holds_exactly_the_public_keys(settings):
    settings.JWT_EMAIL_ALLOW_SYMMETRIC = True
    settings.JWT_EMAIL_SIGNING_KEYS = [
        entry("ec", "ES256", "es256"),
        entry("ed", "EdDSA", "ed25519"),
        entry("rsa", "PS256", "rs256"),
        {"kid": "hs", "algorithm": "HS256", "private_key": SECRET_FILE},
        public_entry("ec384", "ES384", "es384"),
    ]
    keys = public_jwks()["keys"]
    assert [jwk["kid"] for jwk in keys] == ["ec", "ed", "rsa", "ec384"]
    members = {
        "EC": {"kty", "crv", "x", "y"},
        "OKP": {"kty", "crv", "x"},
        "RSA": {"kty", "n", "e"},
    }
    for jwk in keys:
        assert set(jwk) == members[jwk["kty"]] | {"kid", "alg", "use"}
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk["use"] == "sig"
    assert [jwk["alg"] for jwk in keys] == ["ES256", "EdDSA", "PS256", "ES384"]
    # Each JWK is the public half of the configured key.
    ring = get_keyring()
    for jwk in keys:
        published = jwt.PyJWK(jwk).key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        configured = ring.get(jwk["kid"]).public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert published == configured
    # The shared secret appears nowhere, in any encoding.
    text = json.dumps(keys)
    secret = (KEY_DIR / "hs256.secret").read_bytes()
    assert secret.decode() not in text
    assert base64.urlsafe_b64encode(secret).decode().rstrip("=") not in text


def test_jwks_of_a_symmetric_only_ring_is_empty(settings):
    settings.JWT_EMAIL_ALLOW_SYMMETRIC = True
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "hs", "algorithm": "HS256", "private_key": SECRET_FILE}
    ]
    assert public_jwks() == {"keys": []}


# -- generate -----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", sorted(SUPPORTED_ALGORITHMS))
def test_generated_key_loads_back_and_signs(algorithm):
    material = generate_private_key(algorithm)
    ring = load_keyring(
        [{"kid": "g", "algorithm": algorithm, "private_key": material}], allow_symmetric=True
    )
    key = ring.signing_key
    signed = jwt.encode({"sub": "1"}, key.private_key, algorithm=algorithm)
    assert jwt.decode(signed, key.public_key, algorithms=[algorithm]) == {"sub": "1"}
    if algorithm.startswith(("RS", "PS")):
        assert key.public_key.key_size >= 3072
    if algorithm.startswith("HS"):
        # A fresh secret is random text, not a PEM, and long enough for its hash.
        assert len(material.encode()) >= hashlib.new(f"sha{algorithm[2:]}").digest_size
        assert hmac.compare_digest(key.private_key, material.encode())


def test_generated_keys_differ():
    assert generate_private_key("ES256") != generate_private_key("ES256")


def test_generate_unsupported_algorithm_is_refused():
    with pytest.raises(ConfigurationError):
        generate_private_key("none")
