"""Interoperability: a resource server that is not this package (joserfc, an
independent JOSE implementation) verifies access tokens with the public keys of
the JWKS endpoint, by the rules of RFC 9068 §4, and refuses the other kinds.

The verifier below is what another service would write from the RFC alone: the
keys from ``auth/.well-known/jwks.json``, the algorithms they name (never
``none``), ``typ`` ``at+jwt``, the expected ``iss`` and ``aud``, an unexpired
``exp``, and the claims §2.2 requires (``iss``, ``exp``, ``aud``, ``sub``,
``client_id``, ``iat``, ``jti``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from django_jwt_email import services
from django_jwt_email.clientinfo import Client

pytestmark = [
    pytest.mark.django_db,
    # RFC 9864 deprecates the polymorphic "EdDSA" for "Ed25519"; joserfc warns. The
    # tokens still say "EdDSA", as JWT_EMAIL_SIGNING_KEYS names the algorithm.
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated"),
]

KEY_DIR = Path(__file__).parent / "keys"
ISSUER, AUDIENCE = "https://id.example.com", "https://api.example.com"
REQUIRED = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


class NotAnAccessToken(Exception):
    pass


def rfc9068_claims(token: str, jwks: dict, *, now: int | None = None) -> dict:
    """The claims of a valid RFC 9068 access token; raises otherwise."""
    keys = KeySet.import_key_set(jwks)
    algorithms = sorted({key["alg"] for key in jwks["keys"]})
    assert "none" not in algorithms
    # joserfc marks some algorithms (EdDSA) not recommended: allow what the keys name.
    decoded = jwt.decode(
        token, keys, algorithms=algorithms, registry=JWSRegistry(algorithms=algorithms)
    )
    if decoded.header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
        raise NotAnAccessToken(decoded.header.get("typ"))
    registry = JWTClaimsRegistry(
        now=now,
        leeway=30,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        **{name: {"essential": True} for name in REQUIRED if name not in ("iss", "aud")},
    )
    registry.validate(decoded.claims)
    return decoded.claims


@pytest.fixture(
    params=[
        ("ES256", "es256.pem"),
        ("EdDSA", "ed25519.pem"),
        ("RS256", "rs256.pem"),
        ("PS256", "rs256.pem"),
    ],
    ids=lambda param: param[0],
)
def issuer(request, settings):
    algorithm, key = request.param
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": f"k-{algorithm}", "algorithm": algorithm, "private_key": f"file:{KEY_DIR / key}"}
    ]
    settings.JWT_EMAIL_ISSUER = ISSUER
    settings.JWT_EMAIL_AUDIENCE = AUDIENCE
    settings.JWT_EMAIL_CLIENT_ID = "spa-client"
    return algorithm


@pytest.fixture
def jwks(issuer, client):
    response = client.get("/auth/.well-known/jwks.json")
    assert response.status_code == 200
    return response.json()


def test_an_access_token_verifies_as_rfc9068(issuer, pair, jwks, user):
    claims = rfc9068_claims(pair["access"], jwks)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == str(user.pk)
    assert claims["client_id"] == "spa-client"
    assert claims["scope"] == "api"


def test_the_client_id_defaults_to_the_audience(issuer, settings, user, jwks):
    del settings.JWT_EMAIL_CLIENT_ID
    assert rfc9068_claims(access_of(user), jwks)["client_id"] == AUDIENCE


def test_refresh_and_login_tokens_are_refused(issuer, pair, jwks, request_link, user):
    for token in (pair["refresh"], request_link(user.email)):
        with pytest.raises((NotAnAccessToken, JoseError)):
            rfc9068_claims(token, jwks)


def test_an_expired_access_token_is_refused(issuer, pair, jwks):
    later = int(time.time()) + 3600
    with pytest.raises(JoseError):
        rfc9068_claims(pair["access"], jwks, now=later)


def test_a_tampered_access_token_is_refused(issuer, pair, jwks):
    header, payload, signature = pair["access"].split(".")
    other = "A" if signature[0] != "A" else "B"
    with pytest.raises(JoseError):
        rfc9068_claims(f"{header}.{payload}.{other}{signature[1:]}", jwks)


def test_a_token_for_another_audience_is_refused(issuer, settings, user, jwks):
    settings.JWT_EMAIL_AUDIENCE = "https://other-api.example.com"
    with pytest.raises(JoseError):
        rfc9068_claims(access_of(user), jwks)


def access_of(user) -> str:
    """An access token minted by this package under the current settings."""
    return services.issue_pair(user, client=Client()).access.token
