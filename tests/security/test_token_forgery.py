"""Forged, bent and misplaced tokens, sent for real to every endpoint that takes one.

Each case builds what an attacker can build without the signing key (or, for
the claim rules, what a buggy issuer could sign) from a real token of the right
kind, sends it to ``auth/token/``, ``auth/token/refresh/``, a Bearer API view,
or the verify page (GET and POST), and asserts the safe outcome: 400/401 with
the stable code, nothing issued, nothing consumed, nothing mailed, a
``rejected`` audit event with the reason that caught it, and never a 500.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from rest_framework.test import APIClient

from django_jwt_email.models import IssuedToken, RevokedToken, SignInSession, TokenEvent

from . import forge

pytestmark = pytest.mark.django_db

# Which kind of token each place takes.
SLOT_KIND = {
    "token": "login",
    "verify_get": "login",
    "verify_post": "login",
    "refresh": "refresh",
    "bearer": "access",
}
SLOTS = list(SLOT_KIND)
TYP = {"login": "login+jwt", "refresh": "refresh+jwt", "access": "at+jwt"}
AUD = {"login": "django-jwt-email:login", "refresh": "django-jwt-email:refresh"}
AUD["access"] = "django-jwt-email"
# The order of the P-256 group: r = s = n is as "zero" as r = s = 0 modulo n.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass
class Scene:
    """A signed-in user holding one token of each kind, and the clients to attack with."""

    api: APIClient
    browser: Client
    mailoutbox: list[Any]
    tokens: dict[str, str]

    def real(self, kind: str) -> str:
        return self.tokens[kind]

    def send(self, slot: str, token: str) -> Any:
        if slot == "token":
            return self.api.post("/auth/token/", {"token": token}, format="json")
        if slot == "refresh":
            return self.api.post("/auth/token/refresh/", {"refresh": token}, format="json")
        if slot == "bearer":
            return self.api.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
        if slot == "verify_get":
            return self.browser.get("/auth/verify/", {"token": token})
        return self.browser.post("/auth/verify/", {"token": token})

    def assert_refused(
        self,
        slot: str,
        token: str,
        *,
        code: str = "invalid_token",
        reasons: set[str] | None = None,
    ) -> Any:
        """Send ``token`` to ``slot`` and assert that nothing at all was granted."""
        refresh_rows = SignInSession.objects.count()
        used = IssuedToken.objects.exclude(used_at=None).count()
        revoked = RevokedToken.objects.count()
        mails = len(self.mailoutbox)
        last_event = TokenEvent.objects.order_by("-pk").values_list("pk", flat=True).first()

        response = self.send(slot, token)

        assert response.status_code == (401 if slot == "bearer" else 400), response.content
        assert "no-store" in response.get("Cache-Control", "") or slot == "bearer"
        if slot in ("token", "refresh", "bearer"):
            body = response.json()
            assert set(body) == {"detail", "code"}
            assert body["code"] == code
        if slot == "bearer":
            assert 'error="invalid_token"' in response["WWW-Authenticate"]
        if slot.startswith("verify"):
            assert response["Content-Type"].startswith("text/html")
            assert f'data-code="{code}"'.encode() in response.content
            assert "_auth_user_id" not in self.browser.session
        if len(token) >= 40:  # a refused token is never echoed back
            assert token.encode() not in response.content
        # Nothing issued, consumed, revoked or mailed.
        assert SignInSession.objects.count() == refresh_rows
        assert IssuedToken.objects.exclude(used_at=None).count() == used
        assert RevokedToken.objects.count() == revoked
        assert len(self.mailoutbox) == mails
        new_events = TokenEvent.objects.filter(pk__gt=last_event or 0)
        if slot == "verify_get":
            # Looking at a link records nothing (mail scanners prefetch links).
            assert not new_events.exists()
        else:
            assert [event.event for event in new_events] == ["rejected"]
            if reasons is not None:
                assert new_events.get().reason in reasons
        return response


@pytest.fixture
def scene(user, request_link, mailoutbox) -> Scene:
    api = APIClient()
    first = request_link(user.email)
    pair = api.post("/auth/token/", {"token": first}, format="json").json()
    login = request_link(user.email)
    return Scene(
        api=api,
        browser=Client(),
        mailoutbox=mailoutbox,
        tokens={"login": login, "refresh": pair["refresh"], "access": pair["access"]},
    )


def _real_parts(scene: Scene, slot: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    return forge.parts(scene.real(SLOT_KIND[slot]))


# --- forgeries that every place must refuse ------------------------------------------


def _alg_none_unsigned(header, claims, signature):
    return forge.assemble({**header, "alg": "none"}, claims, "")


def _alg_none_signed(header, claims, signature):
    return forge.assemble({**header, "alg": "none"}, claims, signature)


def _hs256_public_key(header, claims, signature):
    # CVE-2022-29217: HMAC keyed with the verifier's own public key PEM.
    return forge.hmac_sign({**header, "alg": "HS256"}, claims, forge.public_pem("es256"))


def _foreign_key_right_kid(header, claims, signature):
    return forge.sign(claims, key="es256-other", headers={"typ": header["typ"]})


def _psychic_zero(header, claims, signature):
    # CVE-2022-21449: r = s = 0 "verifies" any message under a broken ECDSA.
    return forge.assemble(header, claims, forge.b64(bytes(64)))


def _psychic_order(header, claims, signature):
    n = P256_N.to_bytes(32, "big")
    return forge.assemble(header, claims, forge.b64(n + n))


def _tampered_payload(header, claims, signature):
    return forge.assemble(header, {**claims, "sub": "1", "exp": claims["exp"] + 86400}, signature)


def _tampered_header(header, claims, signature):
    return forge.assemble({**header, "typ": "JWT"}, claims, signature)


def _embedded_jwk(header, claims, signature):
    attacker = serialization.load_pem_private_key(forge.private_pem("es256-other"), None)
    jwk = json.loads(ec_jwk(attacker.public_key()))
    return forge.sign(claims, key="es256-other", headers={"typ": header["typ"], "jwk": jwk})


def _jku(header, claims, signature):
    headers = {"typ": header["typ"], "jku": "https://evil.example/jwks.json"}
    return forge.sign(claims, key="es256-other", headers=headers)


def _truncated(header, claims, signature):
    return forge.assemble(header, claims, signature[:-10])


def _signature_stripped(header, claims, signature):
    return forge.assemble(header, claims, "")


def _json_serialisation(header, claims, signature):
    head, body = forge.b64json(header), forge.b64json(claims)
    serialised = {"payload": body, "protected": head, "signature": signature}
    return json.dumps(serialised, separators=(",", ":"))


def ec_jwk(public_key: ec.EllipticCurvePublicKey) -> str:
    import jwt

    return jwt.algorithms.ECAlgorithm.to_jwk(public_key)


FORGERIES = {
    "alg-none-unsigned": (_alg_none_unsigned, {"wrong_alg", "malformed"}),
    "alg-none-with-signature": (_alg_none_signed, {"wrong_alg"}),
    "hs256-keyed-with-public-key": (_hs256_public_key, {"wrong_alg"}),
    "foreign-key-right-kid": (_foreign_key_right_kid, {"bad_signature"}),
    "psychic-signature-r-s-zero": (_psychic_zero, {"bad_signature"}),
    "psychic-signature-r-s-order": (_psychic_order, {"bad_signature"}),
    "tampered-payload": (_tampered_payload, {"bad_signature"}),
    "tampered-header": (_tampered_header, {"bad_signature"}),
    "embedded-jwk": (_embedded_jwk, {"forbidden_header"}),
    "jku-header": (_jku, {"forbidden_header"}),
    "truncated": (_truncated, {"malformed", "bad_signature"}),
    "signature-stripped": (_signature_stripped, {"malformed", "bad_signature"}),
    "jws-json-serialisation": (_json_serialisation, {"malformed"}),
}


@pytest.mark.parametrize("slot", SLOTS)
@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_verify_refuses_forged_token(scene, slot, forgery):
    build, reasons = FORGERIES[forgery]
    forged = build(*_real_parts(scene, slot))
    scene.assert_refused(slot, forged, reasons=reasons)
    # The genuine token still works afterwards: the refusal consumed nothing.
    if slot == "bearer":
        assert scene.send("bearer", scene.real("access")).status_code == 200


# --- kid values that must never reach a file, the environment or a fallback key ---------

KIDS = {
    "path-traversal": "../../etc/passwd",
    "dev-null": "/dev/null",
    "file-source": "file:/etc/passwd",
    "env-source": "env:HOME",
    "empty": "",
    "long": "k" * 2000,
    "number": 1,
    "null": None,
    "list": ["test-es256"],
}


@pytest.mark.parametrize("slot", ["token", "bearer"])
@pytest.mark.parametrize("kid", list(KIDS))
def test_verify_refuses_unknown_kid(scene, slot, kid):
    header, claims, _ = _real_parts(scene, slot)
    # Signed with the attacker's key: only a key looked up by this kid could verify it.
    header = {**header, "kid": KIDS[kid]}
    forged = forge.sign_raw(header, json.dumps(claims).encode(), key="es256-other")
    scene.assert_refused(slot, forged, reasons={"unknown_kid", "malformed"})


def test_verify_refuses_kid_over_length_bound(scene):
    header, claims, _ = _real_parts(scene, "token")
    forged = forge.sign(claims, headers={"typ": header["typ"], "kid": "k" * 5000})
    scene.assert_refused("token", forged, reasons={"too_long"})


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"], "exp": 1},
        {"x5u": "https://evil.example/cert.pem"},
        {"x5c": ["MIIB"]},
        {"b64": False},
        {"zip": "DEF"},
        {"cty": "JWT"},
    ],
    ids=["crit", "x5u", "x5c", "b64-false", "zip", "cty"],
)
def test_verify_refuses_unknown_header_parameter(scene, extra):
    header, claims, _ = _real_parts(scene, "token")
    # Signed with the real key: even a genuine signature does not make them acceptable.
    forged = forge.sign_raw({**header, **extra}, json.dumps(claims).encode())
    scene.assert_refused("token", forged, reasons={"forbidden_header"})


@pytest.mark.parametrize(
    "algorithm,key",
    [("RS256", "rs256"), ("PS256", "rs256"), ("EdDSA", "ed25519"), ("ES384", "es384")],
)
def test_verify_refuses_other_algorithm_with_right_kid(scene, algorithm, key):
    header, claims, _ = _real_parts(scene, "bearer")
    forged = forge.sign(claims, key=key, algorithm=algorithm, headers={"typ": header["typ"]})
    scene.assert_refused("bearer", forged, reasons={"wrong_alg"})


@pytest.mark.parametrize("encoding", ["der", "jwk", "raw-point"])
def test_verify_refuses_hs256_keyed_with_public_key_bytes(scene, encoding):
    public = serialization.load_pem_public_key(forge.public_pem("es256"))
    secret = {
        "der": lambda: public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk": lambda: ec_jwk(public).encode(),
        "raw-point": lambda: public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        ),
    }[encoding]()
    header, claims, _ = _real_parts(scene, "token")
    forged = forge.hmac_sign({**header, "alg": "HS256"}, claims, secret)
    scene.assert_refused("token", forged, reasons={"wrong_alg"})


# --- shapes: lengths, encodings, segments -------------------------------------------------


@pytest.mark.parametrize("slot", SLOTS)
def test_verify_refuses_100kb_token(scene, slot):
    header, claims, signature = _real_parts(scene, slot)
    padded = forge.assemble(header, {**claims, "pad": "A" * 75_000}, signature)
    assert len(padded) > 100_000
    if slot in ("token", "refresh"):
        # Bounded by the request serializer before any service is called.
        response = scene.send(slot, padded)
        assert response.status_code == 400
        assert response.json()["code"] in {"invalid_request", "invalid_token"}
        assert SignInSession.objects.count() == 1
        return
    scene.assert_refused(slot, padded, reasons={"too_long"})


@pytest.mark.parametrize("slot", ["token", "bearer", "verify_post"])
def test_verify_refuses_token_just_over_length_bound(scene, slot):
    header, claims, signature = _real_parts(scene, slot)
    padded = forge.assemble(header, {**claims, "pad": "A" * 3000}, signature)
    assert 4096 < len(padded) < 10_000
    scene.assert_refused(slot, padded, reasons={"too_long"})


SHAPES = {
    "not-base64": lambda h, c, s: "!!!.@@@.###",
    "header-not-json": lambda h, c, s: forge.assemble(forge.b64(b"not json"), c, s),
    "header-json-array": lambda h, c, s: forge.assemble(forge.b64(b'["ES256"]'), c, s),
    "header-nested-deep": lambda h, c, s: forge.assemble(forge.b64(b"[" * 2000), c, s),
    "payload-not-base64": lambda h, c, s: forge.assemble(h, "%%%%", s),
    "two-segments": lambda h, c, s: f"{forge.b64json(h)}.{forge.b64json(c)}",
    "four-segments": lambda h, c, s: forge.assemble(h, c, s) + ".AAAA",
    "jwe-shape": lambda h, c, s: ".".join([forge.b64json(h), "", "AAAA", "AAAA", "AAAA"]),
    "non-ascii": lambda h, c, s: forge.assemble(h, c, s) + "é",
    "padded-segments": lambda h, c, s: forge.assemble(h, c, s).replace(".", "==.") + "==",
    "spaces-inside": lambda h, c, s: forge.assemble(h, c, s).replace(".", " . "),
    "only-dots": lambda h, c, s: "..",
}


@pytest.mark.parametrize("slot", ["token", "bearer"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_verify_refuses_malformed_token(scene, slot, shape):
    forged = SHAPES[shape](*_real_parts(scene, slot))
    if slot == "bearer" and (" " in forged or not forged.isascii()):
        # An Authorization header of more than two words, or not ASCII, is refused
        # by the authentication class before any token code runs.
        response = scene.send(slot, forged)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"
        return
    scene.assert_refused(slot, forged, reasons={"malformed", "bad_signature"})


def test_verify_refuses_signed_payload_that_is_not_json(scene):
    forged = forge.sign_raw({"alg": "ES256", "kid": forge.KID, "typ": "login+jwt"}, b"foo")
    scene.assert_refused("token", forged, reasons={"malformed"})


def test_verify_refuses_signed_payload_that_is_a_json_array(scene):
    forged = forge.sign_raw({"alg": "ES256", "kid": forge.KID, "typ": "login+jwt"}, b"[1, 2]")
    scene.assert_refused("token", forged, reasons={"malformed"})


# --- claim rules, with a genuine signature (what a buggy issuer could sign) ---------------


def _shift(claims: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**claims, **changes}


NOW = int(time.time())
CLAIM_CASES = {
    # name: (header change, claims change, code, reasons)
    "typ-plain-jwt": ({"typ": "JWT"}, {}, "invalid_token", {"wrong_typ"}),
    "typ-missing": ({"typ": None}, {}, "invalid_token", {"wrong_typ"}),
    "wrong-iss": ({}, {"iss": "https://evil.example"}, "invalid_token", {"wrong_iss"}),
    "aud-of-other-site": ({}, {"aud": "other-site"}, "invalid_token", {"wrong_aud"}),
    "aud-as-list": ({}, {"aud": ["django-jwt-email"]}, "invalid_token", {"bad_claims"}),
    "expired": ({}, {"exp": NOW - 3600}, "token_expired", {"expired"}),
    "not-yet-valid": ({}, {"nbf": NOW + 3600}, "invalid_token", {"not_yet_valid"}),
    "iat-in-future": ({}, {"iat": NOW + 3600}, "invalid_token", {"iat_in_future"}),
    "exp-as-string": ({}, {"exp": str(NOW + 600)}, "invalid_token", {"bad_claims"}),
    "exp-as-float": ({}, {"exp": NOW + 600.5}, "invalid_token", {"bad_claims"}),
    "exp-as-bool": ({}, {"exp": True}, "invalid_token", {"bad_claims"}),
    "jti-missing": ({}, {"jti": None}, "invalid_token", {"missing_claim"}),
    "sub-as-number": ({}, {"sub": 1}, "invalid_token", {"bad_claims"}),
}


@pytest.mark.parametrize("slot", ["token", "refresh", "bearer"])
@pytest.mark.parametrize("case", list(CLAIM_CASES))
def test_verify_refuses_bad_claims(scene, slot, case):
    header_change, claims_change, code, reasons = CLAIM_CASES[case]
    header, claims, _ = _real_parts(scene, slot)
    header = {**header, **header_change}  # typ None: PyJWT leaves typ out
    claims = {k: v for k, v in {**claims, **claims_change}.items() if v is not None}
    header.pop("alg", None)
    forged = forge.sign(claims, headers=header)
    scene.assert_refused(slot, forged, code=code, reasons=reasons)


# --- each kind where another kind belongs ---------------------------------------------------

KIND_CONFUSION = [
    ("login", "bearer"),
    ("refresh", "bearer"),
    ("access", "token"),
    ("access", "refresh"),
    ("refresh", "token"),
    ("login", "refresh"),
    ("access", "verify_post"),
    ("refresh", "verify_post"),
]


@pytest.mark.parametrize(
    "kind,slot", KIND_CONFUSION, ids=[f"{kind}-at-{slot}" for kind, slot in KIND_CONFUSION]
)
def test_verify_refuses_token_of_another_kind(scene, kind, slot):
    scene.assert_refused(slot, scene.real(kind), reasons={"wrong_typ"})


def test_verify_refuses_other_kind_even_with_its_typ_rewritten(scene):
    # A refresh token re-labelled at+jwt keeps its refresh audience: still refused
    # (and the rewritten header breaks the signature in the first place).
    header, claims, signature = forge.parts(scene.real("refresh"))
    forged = forge.assemble({**header, "typ": "at+jwt"}, claims, signature)
    scene.assert_refused("bearer", forged, reasons={"bad_signature"})
    # Even a genuine signature over that header (an issuer bug) is caught by the audience.
    resigned = forge.sign({**claims, "scope": "api"}, headers={"typ": "at+jwt"})
    scene.assert_refused("bearer", resigned, reasons={"wrong_aud", "lifetime_too_long"})
