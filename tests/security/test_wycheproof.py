"""Known-answer vectors (C2SP Wycheproof) through the project's own verification.

- ``json_web_signature_test.json``: each compact JWS goes to
  ``tokens.verify_signature`` with a key ring holding the group's key, loaded by
  ``keys.load_key`` as a site would configure it (PEM, explicit algorithm); that
  is the lowest function that still applies the shape, header allow-list, ``kid``
  and algorithm pinning and the signature check (``decode()`` adds the claim and
  ``typ`` rules, which these vectors know nothing about). JWS JSON serialisation
  is refused outright.
- ``ecdsa_secp256r1_sha256_p1363_test.json`` and ``ed25519_test.json``: the
  message and raw signature go to the algorithm object that ``keys.load_key``
  pins to an ES256 or EdDSA key (``SigningKey.implementation``), the same object
  that verifies every token signed with such a key; P1363 r‖s is exactly the
  ES256 signature of a JWS.

Every applicable case must give its expected result. The few that cannot are
listed in ``DEVIATIONS`` with the reason, and their actual outcome is asserted.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from django_jwt_email import keys, tokens
from django_jwt_email.exceptions import TokenInvalid

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "wycheproof"
JWS_FILE = "json_web_signature_test.json"
P1363_FILE = "ecdsa_secp256r1_sha256_p1363_test.json"
ED25519_FILE = "ed25519_test.json"

# RFC 7518 §3.4 names ECDSA over P-521 "ES512"; two RFC 7520 groups label their
# key "ES521". The curve decides the algorithm, as it does for every EC key.
ALGORITHM_ALIASES = {"ES521": "ES512"}

# Cases whose expected result the project does not give, on purpose or because
# the file is at fault: tcId -> (outcome asserted instead, why).
DEVIATIONS: dict[int, tuple[str, str]] = {
    367: ("accepted", "the file's fault: byte-identical to tcId 357 (valid), yet marked invalid"),
    370: ("accepted", "the file's fault: byte-identical to tcId 357 (valid), yet marked invalid"),
    372: ("malformed", "strict base64url (RFC 7515 §2): a '?' in the header is refused"),
    373: ("malformed", "strict base64url (RFC 7515 §2): a '?' in the payload is refused"),
    # RFC 7520 Figure 20 is a PS384 JWS, but the group labels its key PS256: a key
    # verifies with its own algorithm only, whatever the header says (RFC 8725 §3.1).
    346: ("wrong_alg", "key labelled PS256, token PS384: the key's own algorithm only"),
    350: ("wrong_alg", "key labelled PS256, token PS384: the key's own algorithm only"),
}
# Valid JWS with an empty payload segment: a token of this project always carries
# claims, so the shape check refuses it before any key is looked up.
EMPTY_PAYLOAD_REASON = "malformed"


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


# --- JWS --------------------------------------------------------------------------------


def _jws_cases() -> list[tuple[int, int, dict[str, Any]]]:
    data = _load(JWS_FILE)
    return [
        (index, case["tcId"], case)
        for index, group in enumerate(data["testGroups"])
        for case in group["tests"]
    ]


def _jwk_of(group: dict[str, Any]) -> dict[str, Any]:
    return group.get("public") or group["private"]


def _applicable(group: dict[str, Any]) -> str | None:
    """Why a group cannot be configured as a signing key of the project, or None."""
    jwk = _jwk_of(group)
    if jwk.get("use", "sig") != "sig" or "verify" not in jwk.get("key_ops", ["verify"]):
        # Keys are configured as PEM with an explicit algorithm, so the project has
        # no JWK "use"/"key_ops" to honour: a key meant for encryption never gets
        # into its key ring in the first place.
        return "a key for encryption, not signatures: no signing-key configuration exists"
    return None


@cache
def _ring(group_index: int, secret_dir: str) -> keys.KeyRing:
    """The group's key as a site would configure it, parsed by keys.load_key."""
    group = _load(JWS_FILE)["testGroups"][group_index]
    jwk = _jwk_of(group)
    algorithm = ALGORITHM_ALIASES.get(jwk["alg"], jwk["alg"])
    entry: dict[str, Any] = {"kid": jwk["kid"], "algorithm": algorithm}
    if jwk["kty"] == "oct":
        # A binary secret is configured from a file (PEM text cannot hold it).
        path = Path(secret_dir) / f"group-{group_index}.secret"
        path.write_bytes(_b64(jwk["k"]))
        entry["private_key"] = f"file:{path}"
    else:
        public = jwt.PyJWK({**jwk, "alg": algorithm}).key
        entry["public_key"] = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
    return keys.KeyRing((keys.load_key(entry, allow_symmetric=True),))


def _outcome(token: str, ring: keys.KeyRing) -> str:
    """'accepted', or the reason the project refused the token."""
    try:
        header, payload = tokens.verify_signature(token, ring)
    except TokenInvalid as refused:
        return refused.reason
    # Accepted means: exactly this payload, under the key the kid names.
    assert payload == _b64(token.split(".")[1])
    assert ring.get(header["kid"]) is not None
    return "accepted"


JWS_CASES = _jws_cases()


@pytest.mark.parametrize(
    "group_index,tc_id,case", JWS_CASES, ids=[f"jws-{tc}" for _, tc, _ in JWS_CASES]
)
def test_verify_signature_gives_jws_vector_result(tmp_path_factory, group_index, tc_id, case):
    group = _load(JWS_FILE)["testGroups"][group_index]
    if _applicable(group) is not None:
        pytest.skip(_applicable(group))
    secrets_dir = str(tmp_path_factory.getbasetemp() / "wycheproof-secrets")
    Path(secrets_dir).mkdir(exist_ok=True)
    token = case["jws"]
    outcome = _outcome(token, _ring(group_index, secrets_dir))

    if token.lstrip().startswith("{"):
        # JWS JSON serialisation: not a compact JWS, refused outright.
        assert outcome == "malformed"
    elif tc_id in DEVIATIONS:
        assert outcome == DEVIATIONS[tc_id][0]
    elif case["result"] == "valid" and token.split(".")[1] == "":
        assert outcome == EMPTY_PAYLOAD_REASON
    elif case["result"] == "valid":
        assert outcome == "accepted", case["comment"]
    else:
        assert outcome != "accepted", case["comment"]


def test_jws_vectors_the_project_does_not_run_are_only_the_known_few(tmp_path):
    data = _load(JWS_FILE)
    counts: Counter[str] = Counter()
    for group in data["testGroups"]:
        for case in group["tests"]:
            if _applicable(group) is not None:
                counts["not applicable"] += 1
            elif case["tcId"] in DEVIATIONS:
                counts["deviation"] += 1
            elif case["result"] == "valid" and case["jws"].split(".")[1:2] == [""]:
                counts["empty payload"] += 1
            else:
                counts["as expected"] += 1
    assert sum(counts.values()) == data["numberOfTests"] == 401
    assert counts == {
        "as expected": 385,
        "deviation": 6,
        "empty payload": 6,
        "not applicable": 4,
    }


def test_verify_signature_refuses_hs256_vector_key_unless_symmetric_enabled():
    group = next(g for g in _load(JWS_FILE)["testGroups"] if g["comment"] == "hs256")
    entry = {"kid": "kid-aes-sign", "algorithm": "HS256", "private_key": "x" * 32}
    with pytest.raises(keys.ConfigurationError):
        keys.load_key(entry)
    assert group["tests"][0]["result"] == "valid"


# --- raw ECDSA P-256 (ES256) and Ed25519 (EdDSA) ----------------------------------------------


def _raw_cases(name: str) -> list[tuple[str, dict[str, Any]]]:
    data = _load(name)
    return [
        (group["publicKeyPem"], case) for group in data["testGroups"] for case in group["tests"]
    ]


@cache
def _pinned_key(pem: str, algorithm: str) -> keys.SigningKey:
    return keys.load_key({"kid": "wycheproof", "algorithm": algorithm, "public_key": pem})


def _raw_verifies(pem: str, algorithm: str, case: dict[str, Any]) -> bool:
    key = _pinned_key(pem, algorithm)
    message, signature = bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"])
    return bool(key.implementation.verify(message, key.public_key, signature))


P1363_CASES = _raw_cases(P1363_FILE)
ED25519_CASES = _raw_cases(ED25519_FILE)


@pytest.mark.parametrize(
    "pem,case", P1363_CASES, ids=[f"es256-{case['tcId']}" for _, case in P1363_CASES]
)
def test_es256_key_gives_p1363_vector_result(pem, case):
    assert _raw_verifies(pem, "ES256", case) is (case["result"] == "valid"), case["comment"]


@pytest.mark.parametrize(
    "pem,case", ED25519_CASES, ids=[f"eddsa-{case['tcId']}" for _, case in ED25519_CASES]
)
def test_eddsa_key_gives_ed25519_vector_result(pem, case):
    assert _raw_verifies(pem, "EdDSA", case) is (case["result"] == "valid"), case["comment"]


def test_raw_vector_files_run_whole():
    for name, cases, total in ((P1363_FILE, P1363_CASES, 262), (ED25519_FILE, ED25519_CASES, 151)):
        assert len(cases) == _load(name)["numberOfTests"] == total
        assert {case["result"] for _, case in cases} <= {"valid", "invalid"}
