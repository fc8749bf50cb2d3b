"""Tokens: mint and decode the three kinds; every refusal rule, proved with a real
forged or altered token (built here with PyJWT and cryptography, never a mock)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from django_jwt_email import tokens
from django_jwt_email.exceptions import TokenExpired, TokenInvalid
from django_jwt_email.tokens import TokenKind

LOGIN, REFRESH, ACCESS = TokenKind.LOGIN, TokenKind.REFRESH, TokenKind.ACCESS
KINDS = list(TokenKind)

KEY_DIR = Path(__file__).parent / "keys"
KID = "test-es256"  # the suite's signing key (tests/settings.py)
TYP = {LOGIN: "login+jwt", REFRESH: "refresh+jwt", ACCESS: "at+jwt"}
AUD = {
    LOGIN: "django-jwt-email:login",
    REFRESH: "django-jwt-email:refresh",
    ACCESS: "django-jwt-email",
}


def private(name: str):
    return serialization.load_pem_private_key((KEY_DIR / f"{name}.pem").read_bytes(), None)


def public_pem(name: str) -> bytes:
    return (
        private(name)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims(kind: str, **changes) -> dict:
    """Valid claims of ``kind`` as the app mints them; ``name=None`` drops a claim."""
    now = int(time.time())
    values = {
        "iss": "django-jwt-email",
        "aud": AUD[kind],
        "sub": "1",
        "jti": "j" * 32,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    if kind in (REFRESH, ACCESS):
        values["sid"] = "s" * 32
    if kind == REFRESH:
        values["gen"] = 0
    if kind == ACCESS:
        values["scope"] = "api"
        values["client_id"] = "django-jwt-email"
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def header(kind: str, **changes) -> dict:
    values = {"alg": "ES256", "typ": TYP[kind], "kid": KID, **changes}
    return {name: value for name, value in values.items() if value is not None}


def forge(head: dict, body: dict, key=None, algorithm: str | None = None) -> str:
    """A compact JWS of ``head`` and ``body``, signed by ``key`` with ``algorithm``
    (default: the suite's own key, so only the altered part can be refused)."""
    signing_input = f"{segment(head)}.{segment(body)}"
    implementation = jwt.get_algorithm_by_name(algorithm or head.get("alg", "ES256"))
    signature = implementation.sign(signing_input.encode(), key or private("es256"))
    return f"{signing_input}.{b64(signature)}"


def refused(token, kind: str, error=TokenInvalid) -> str:
    """The reason ``token`` is refused as a ``kind`` token, asserting the exception type."""
    with pytest.raises(error) as caught:
        tokens.decode(token, kind)
    assert type(caught.value) is error
    return caught.value.reason


def test_forge_builds_tokens_the_app_accepts():
    # The refusals below alter one thing each; without it, the token passes.
    for kind in KINDS:
        assert tokens.decode(forge(header(kind), claims(kind)), kind)["sub"] == "1"


# -- what a token carries -------------------------------------------------------------


def payload_of(token: str) -> dict:
    return json.loads(unb64(token.split(".")[1]))


def test_login_token_carries_exactly_the_minimal_claims():
    minted = tokens.mint(LOGIN, subject="42")
    assert set(minted.claims) == {"iss", "aud", "sub", "jti", "iat", "nbf", "exp"}
    assert payload_of(minted.token) == minted.claims
    assert json.loads(unb64(minted.token.split(".")[0])) == {
        "alg": "ES256",
        "typ": "login+jwt",
        "kid": KID,
    }
    assert minted.claims["aud"] == "django-jwt-email:login"
    assert minted.claims["exp"] - minted.claims["iat"] == 600
    assert minted.claims["nbf"] == minted.claims["iat"]
    assert tokens.decode(minted.token, LOGIN) == minted.claims


def test_sign_up_login_token_has_no_subject():
    minted = tokens.mint(LOGIN, subject=None)
    assert set(minted.claims) == {"iss", "aud", "jti", "iat", "nbf", "exp"}
    assert "sub" not in tokens.decode(minted.token, LOGIN)


def test_refresh_token_carries_sid():
    minted = tokens.mint(REFRESH, subject="42", sid="family", generation=3)
    assert set(minted.claims) == {"iss", "aud", "sub", "jti", "iat", "nbf", "exp", "sid", "gen"}
    assert minted.claims["gen"] == 3
    assert minted.claims["aud"] == "django-jwt-email:refresh"
    assert minted.claims["exp"] - minted.claims["iat"] == 14 * 24 * 3600
    assert tokens.decode(minted.token, REFRESH)["sid"] == "family"


def test_access_token_carries_scope_and_sid():
    minted = tokens.mint(ACCESS, subject="42", sid="family", scope="api read")
    assert set(minted.claims) == {
        "iss", "aud", "sub", "jti", "iat", "nbf", "exp", "sid", "scope", "client_id",
    }  # fmt: skip
    assert minted.claims["aud"] == "django-jwt-email"
    # RFC 9068 §2.2: the client the token was issued to (CLIENT_ID, else AUDIENCE).
    assert minted.claims["client_id"] == "django-jwt-email"
    assert minted.claims["exp"] - minted.claims["iat"] == 300
    decoded = tokens.decode(minted.token, ACCESS)
    assert (decoded["scope"], decoded["sid"]) == ("api read", "family")


def test_jti_is_random_and_at_least_128_bits():
    jtis = {tokens.mint(LOGIN, subject="1").jti for _ in range(50)}
    assert len(jtis) == 50
    # After the time: 144 random bits.
    assert all(len(unb64(jti[tokens.ID_TIME_DIGITS :])) >= 16 for jti in jtis)


def test_new_ids_sort_in_the_order_they_were_made():
    """Time first: the unique indexes take new rows at their right edge."""
    made = [tokens.new_id(1_800_000_000 + n / 1000) for n in range(0, 5000, 7)]
    assert sorted(made) == made
    assert all(len(value) == 36 for value in made)


def test_settings_shape_the_claims(settings):
    settings.JWT_EMAIL_ISSUER = "https://id.example.com"
    settings.JWT_EMAIL_AUDIENCE = "shop"
    settings.JWT_EMAIL_ACCESS_TOKEN_TTL = timedelta(minutes=2)
    minted = tokens.mint(ACCESS, subject="1", sid="s", scope="api")
    assert (minted.claims["iss"], minted.claims["aud"]) == ("https://id.example.com", "shop")
    assert minted.claims["exp"] - minted.claims["iat"] == 120
    assert tokens.mint(LOGIN, subject="1").claims["aud"] == "shop:login"


@pytest.mark.django_db
def test_issued_tokens_hold_the_user_pk_and_no_personal_data(user, request_link, api_client):
    login = request_link(user.email)
    response = api_client.post("/auth/token/", {"token": login}, format="json")
    assert response.status_code == 200
    pair = response.json()
    for token, kind in ((login, LOGIN), (pair["refresh"], REFRESH), (pair["access"], ACCESS)):
        decoded = tokens.decode(token, kind)
        assert decoded["sub"] == str(user.pk)
        raw = unb64(token.split(".")[0]) + unb64(token.split(".")[1])
        for personal in (b"alice", b"@", user.get_username().encode()):
            assert personal not in raw
    assert (
        tokens.decode(pair["access"], ACCESS)["sid"]
        == tokens.decode(pair["refresh"], REFRESH)["sid"]
    )


# -- algorithm attacks ----------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
@pytest.mark.parametrize("signature", ["", b64(b"\x00" * 64)])
def test_alg_none_is_refused(alg, signature):
    unsigned = f"{segment(header(ACCESS, alg=alg))}.{segment(claims(ACCESS))}.{signature}"
    assert refused(unsigned, ACCESS) == "wrong_alg"
    without_kid = f"{segment(header(ACCESS, alg=alg, kid=None))}.{segment(claims(ACCESS))}."
    assert refused(without_kid, ACCESS) == "unknown_kid"


def hs256_with(secret: bytes, head: dict, body: dict) -> str:
    signing_input = f"{segment(head)}.{segment(body)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def test_hs256_signed_with_the_es256_public_key_is_refused():
    # CVE-2022-29217 style: the verifier's public key used as an HMAC secret.
    forged = hs256_with(public_pem("es256"), header(ACCESS, alg="HS256"), claims(ACCESS))
    assert refused(forged, ACCESS) == "wrong_alg"
    public_der = (
        private("es256")
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    forged = hs256_with(public_der, header(ACCESS, alg="HS256"), claims(ACCESS))
    assert refused(forged, ACCESS) == "wrong_alg"


def test_hs256_signed_with_the_rs256_public_key_is_refused(settings):
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "rsa", "algorithm": "RS256", "private_key": f"file:{KEY_DIR / 'rs256.pem'}"}
    ]
    genuine = forge(header(ACCESS, alg="RS256", kid="rsa"), claims(ACCESS), private("rs256"))
    assert tokens.decode(genuine, ACCESS)["sub"] == "1"
    forged = hs256_with(
        public_pem("rs256"), header(ACCESS, alg="HS256", kid="rsa"), claims(ACCESS)
    )
    assert refused(forged, ACCESS) == "wrong_alg"


@pytest.mark.parametrize("alg", ["ES384", "ES512", "RS256", "PS256", "EdDSA", "HS256", "", None])
def test_alg_other_than_the_keys_own_is_refused(alg):
    head = header(ACCESS, alg=alg)
    token = f"{segment(head)}.{segment(claims(ACCESS))}.{b64(b'x' * 64)}"
    assert refused(token, ACCESS) == "wrong_alg"


def test_foreign_key_with_the_right_kid_is_refused():
    forged = forge(header(ACCESS), claims(ACCESS), private("es256-other"))
    assert refused(forged, ACCESS) == "bad_signature"


def test_ecdsa_zero_signature_is_refused():
    # r = s = 0 verifies every message in broken ECDSA code (CVE-2022-21449).
    genuine = forge(header(ACCESS), claims(ACCESS))
    zero = genuine.rsplit(".", 1)[0] + "." + b64(b"\x00" * 64)
    assert refused(zero, ACCESS) == "bad_signature"
    empty = genuine.rsplit(".", 1)[0] + "."
    assert refused(empty, ACCESS) == "bad_signature"


@pytest.mark.parametrize("kid", ["nope", "TEST-ES256", "test-es256 ", ""])
def test_unknown_kid_is_refused(kid):
    assert refused(forge(header(ACCESS, kid=kid), claims(ACCESS)), ACCESS) == "unknown_kid"


def test_missing_kid_is_refused():
    assert refused(forge(header(ACCESS, kid=None), claims(ACCESS)), ACCESS) == "unknown_kid"


@pytest.mark.parametrize("kid", [1, ["test-es256"], {"kid": "test-es256"}, True])
def test_kid_that_is_not_a_string_is_refused(kid):
    assert refused(forge(header(ACCESS, kid=kid), claims(ACCESS)), ACCESS) == "unknown_kid"


ATTACKER_JWK = jwt.get_algorithm_by_name("ES256").to_jwk(
    private("es256-other").public_key(), as_dict=True
)


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"]},
        {"crit": ["b64"], "b64": False},
        {"b64": True},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"jwk": ATTACKER_JWK},
        {"x5c": ["MIIB"]},
        {"x5t": "abc"},
        {"cty": "JWT"},
    ],
)
def test_header_parameters_beyond_alg_typ_kid_are_refused(extra):
    # Signed by the real key: the header alone is the reason.
    assert refused(forge(header(ACCESS, **extra), claims(ACCESS)), ACCESS) == "forbidden_header"


def test_embedded_jwk_of_the_attackers_key_is_refused():
    head = header(ACCESS, jwk=ATTACKER_JWK, kid=None)
    assert (
        refused(forge(head, claims(ACCESS), private("es256-other")), ACCESS) == "forbidden_header"
    )


@pytest.mark.parametrize("typ", ["JWT", "at+JWT", "application/at+jwt", "", None])
def test_wrong_typ_is_refused(typ):
    assert refused(forge(header(ACCESS, typ=typ), claims(ACCESS)), ACCESS) == "wrong_typ"


@pytest.mark.parametrize("minted_as", KINDS)
@pytest.mark.parametrize("used_as", KINDS)
def test_each_kind_is_refused_as_every_other_kind(minted_as, used_as):
    if minted_as == used_as:
        return
    minted = tokens.mint(minted_as, subject="1", sid="s", scope="api")
    assert refused(minted.token, used_as) == "wrong_typ"


@pytest.mark.parametrize(
    ("minted_as", "relabelled_as"), [(ACCESS, REFRESH), (ACCESS, LOGIN), (REFRESH, LOGIN)]
)
def test_kind_relabelled_by_typ_alone_is_refused_by_audience(minted_as, relabelled_as):
    # Even a token signed with the real key and the other kind's typ keeps its
    # own audience: the two marks of a kind must agree.
    forged = forge(header(relabelled_as), claims(minted_as))
    assert refused(forged, relabelled_as) == "wrong_aud"


# -- claims ---------------------------------------------------------------------------


@pytest.mark.parametrize("iss", ["evil", "django-jwt-email ", "DJANGO-JWT-EMAIL", ""])
def test_wrong_issuer_is_refused(iss):
    assert refused(forge(header(ACCESS), claims(ACCESS, iss=iss)), ACCESS) == "wrong_iss"


@pytest.mark.parametrize("aud", ["other-app", "django-jwt-email:login", "django-jwt-email:access"])
def test_wrong_audience_is_refused(aud):
    assert refused(forge(header(ACCESS), claims(ACCESS, aud=aud)), ACCESS) == "wrong_aud"


def test_audience_list_is_refused():
    forged = forge(header(ACCESS), claims(ACCESS, aud=["django-jwt-email"]))
    assert refused(forged, ACCESS) == "bad_claims"


def test_expired_past_leeway_is_refused_within_leeway_accepted():
    now = int(time.time())
    expired = forge(header(LOGIN), claims(LOGIN, iat=now - 600, nbf=now - 600, exp=now - 35))
    assert refused(expired, LOGIN, TokenExpired) == "expired"
    in_leeway = forge(header(LOGIN), claims(LOGIN, iat=now - 600, nbf=now - 600, exp=now - 25))
    assert tokens.decode(in_leeway, LOGIN)["exp"] == now - 25


def test_leeway_setting_is_honoured(settings):
    settings.JWT_EMAIL_LEEWAY = timedelta(0)
    now = int(time.time())
    just_expired = forge(header(LOGIN), claims(LOGIN, iat=now - 60, nbf=now - 60, exp=now - 2))
    assert refused(just_expired, LOGIN, TokenExpired) == "expired"


def test_minted_in_the_past_is_expired():
    long_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    minted = tokens.mint(LOGIN, subject="1", now=long_ago)
    assert refused(minted.token, LOGIN, TokenExpired) == "expired"


def test_not_before_in_the_future_is_refused():
    now = int(time.time())
    assert refused(forge(header(ACCESS), claims(ACCESS, nbf=now + 120)), ACCESS) == "not_yet_valid"
    assert tokens.decode(forge(header(ACCESS), claims(ACCESS, nbf=now + 10)), ACCESS)


def test_issued_in_the_future_is_refused():
    now = int(time.time())
    assert refused(forge(header(ACCESS), claims(ACCESS, iat=now + 120)), ACCESS) == "iat_in_future"
    assert tokens.decode(forge(header(ACCESS), claims(ACCESS, iat=now + 10)), ACCESS)


@pytest.mark.parametrize(("kind", "seconds"), [(LOGIN, 600), (ACCESS, 300), (REFRESH, 14 * 86400)])
def test_lifetime_longer_than_the_kinds_ttl_is_refused(kind, seconds):
    # Signed with the real key: a minter bug or a stolen key cannot hand out
    # tokens that outlive the configured lifetime.
    now = int(time.time())
    assert tokens.decode(forge(header(kind), claims(kind, exp=now + seconds)), kind)
    too_long = forge(header(kind), claims(kind, exp=now + seconds + 1))
    assert refused(too_long, kind) == "lifetime_too_long"


def test_shortening_a_ttl_cuts_tokens_already_issued(settings):
    minted = tokens.mint(LOGIN, subject="1")
    tokens.decode(minted.token, LOGIN)  # cached, too
    settings.JWT_EMAIL_LOGIN_TOKEN_TTL = timedelta(minutes=5)
    assert refused(minted.token, LOGIN) == "lifetime_too_long"


@pytest.mark.parametrize(
    ("kind", "name"),
    [(kind, name) for kind in KINDS for name in tokens.REQUIRED[kind]],
)
def test_missing_required_claim_is_refused(kind, name):
    assert refused(forge(header(kind), claims(kind, **{name: None})), kind) == "missing_claim"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["9999999999", 9999999999.5, True, None, [1]])
def test_time_claim_that_is_not_an_integer_is_refused(name, value):
    body = claims(ACCESS)
    body[name] = value
    assert refused(forge(header(ACCESS), body), ACCESS) == "bad_claims"


@pytest.mark.parametrize("name", ["sub", "jti", "sid", "scope", "iss"])
@pytest.mark.parametrize("value", [1, None, ["x"], {"x": 1}])
def test_string_claim_of_another_type_is_refused(name, value):
    body = claims(ACCESS)
    body[name] = value
    assert refused(forge(header(ACCESS), body), ACCESS) == "bad_claims"


@pytest.mark.parametrize("gen", [-1, "1", 1.0, True, None, [0]])
def test_generation_that_is_not_a_count_is_refused(gen):
    """A refresh token's ``gen`` (which rotation it is) is a whole number from 0."""
    body = claims(REFRESH)
    body["gen"] = gen
    assert refused(forge(header(REFRESH), body), REFRESH) == "bad_claims"


# -- size and shape -------------------------------------------------------------------


def test_token_over_max_length_is_refused(settings):
    token = tokens.mint(ACCESS, subject="1", sid="s", scope="api").token
    settings.JWT_EMAIL_MAX_TOKEN_LENGTH = len(token)
    assert tokens.decode(token, ACCESS)
    settings.JWT_EMAIL_MAX_TOKEN_LENGTH = len(token) - 1
    assert refused(token, ACCESS) == "too_long"


def test_length_is_checked_before_any_parsing():
    # Garbage that would be "malformed" if parsed is refused for its length alone.
    assert refused("!" * 4097, ACCESS) == "too_long"
    assert refused("!" * 4096, ACCESS) == "malformed"
    padded = forge(header(ACCESS), claims(ACCESS, pad="x" * 4000))
    assert len(padded) > 4096
    assert refused(padded, ACCESS) == "too_long"


INVALID_UTF8 = bytes([0xFF, 0xFE])


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "!!!.e30.sig",
        f"{segment(header(ACCESS))}.!!!.sig",
        f"{segment(header(ACCESS))}=.{segment(claims(ACCESS))}.sig",  # padding
        f"{b64(b'not json')}.{segment(claims(ACCESS))}.sig",
        f"{b64(b'[1, 2]')}.{segment(claims(ACCESS))}.sig",
        f"{b64(b'{')}.{segment(claims(ACCESS))}.sig",
        f"{b64(b'[' * 3000)}.e30.sig",  # nesting past the recursion limit
        f"{b64(INVALID_UTF8)}.e30.sig",
        f"{segment(header(ACCESS))} .{segment(claims(ACCESS))}.sig",
        f"{segment(header(ACCESS))}.{segment(claims(ACCESS))}.sig\n",
        "é" + forge(header(ACCESS), claims(ACCESS)),
        None,
        b"bytes.are.refused",
        42,
    ],
)
def test_garbage_is_refused_as_malformed(garbage):
    assert refused(garbage, ACCESS) == "malformed"


def test_signed_payload_that_is_not_a_json_object_is_refused():
    for body in (b"not json", b"[1, 2, 3]", b'"string"'):
        signing_input = f"{segment(header(ACCESS))}.{b64(body)}"
        signature = jwt.get_algorithm_by_name("ES256").sign(
            signing_input.encode(), private("es256")
        )
        assert refused(f"{signing_input}.{b64(signature)}", ACCESS) == "malformed"


def test_tampered_payload_with_the_original_signature_is_refused():
    genuine = tokens.mint(ACCESS, subject="1", sid="s", scope="api").token
    head, body, signature = genuine.split(".")
    raised = {**json.loads(unb64(body)), "sub": "2", "scope": "api admin"}
    assert refused(f"{head}.{segment(raised)}.{signature}", ACCESS) == "bad_signature"


def test_tampered_header_with_the_original_signature_is_refused():
    # An access token relabelled as a refresh token passes the typ check but
    # not the signature, which covers the header too.
    genuine = tokens.mint(ACCESS, subject="1", sid="s", scope="api").token
    head, body, signature = genuine.split(".")
    relabelled = {**json.loads(unb64(head)), "typ": "refresh+jwt"}
    assert refused(f"{segment(relabelled)}.{body}.{signature}", REFRESH) == "bad_signature"


def test_non_canonical_base64_signature_is_refused():
    genuine = tokens.mint(ACCESS, subject="1", sid="s", scope="api").token
    assert refused(genuine + "A", ACCESS) in {"malformed", "bad_signature"}
    # Padding is not part of a compact JWS: the same token with "==" appended
    # would otherwise be a second spelling of one signed token.
    assert len(genuine.rsplit(".", 1)[1] + "==") % 4 == 0
    assert refused(genuine + "==", ACCESS) == "malformed"


# -- the verified-signature cache -----------------------------------------------------


def test_cached_token_is_refused_once_expired(monkeypatch):
    minted = tokens.mint(ACCESS, subject="1", sid="s", scope="api")
    assert tokens.decode(minted.token, ACCESS)["sub"] == "1"
    assert minted.token in tokens._verified
    later = minted.claims["exp"] + 31
    monkeypatch.setattr(tokens, "time", SimpleNamespace(time=lambda: later))
    assert refused(minted.token, ACCESS, TokenExpired) == "expired"
    # Still in the cache: the claim rules ran on the cached payload.
    assert minted.token in tokens._verified


def test_cached_token_is_still_checked_for_kind():
    minted = tokens.mint(ACCESS, subject="1", sid="s", scope="api")
    tokens.decode(minted.token, ACCESS)
    assert refused(minted.token, REFRESH) == "wrong_typ"


def test_cached_token_stops_verifying_when_its_key_is_removed(settings):
    minted = tokens.mint(ACCESS, subject="1", sid="s", scope="api")
    tokens.decode(minted.token, ACCESS)
    assert minted.token in tokens._verified
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": "next", "algorithm": "EdDSA", "private_key": f"file:{KEY_DIR / 'ed25519.pem'}"}
    ]
    assert refused(minted.token, ACCESS) == "unknown_kid"


def test_cached_token_stops_verifying_when_its_kid_names_another_key(settings):
    # Same kid, different key (a botched rotation or a compromised key replaced).
    minted = tokens.mint(ACCESS, subject="1", sid="s", scope="api")
    tokens.decode(minted.token, ACCESS)
    settings.JWT_EMAIL_SIGNING_KEYS = [
        {"kid": KID, "algorithm": "ES256", "private_key": f"file:{KEY_DIR / 'es256-other.pem'}"}
    ]
    assert refused(minted.token, ACCESS) == "bad_signature"


def test_refused_tokens_are_not_cached():
    forged = forge(header(ACCESS), claims(ACCESS), private("es256-other"))
    refused(forged, ACCESS)
    assert forged not in tokens._verified
    assert len(tokens._verified.entries) == 0


def test_cache_keeps_a_bounded_number_of_tokens(monkeypatch):
    monkeypatch.setattr(tokens._verified, "size", 3)
    minted = [tokens.mint(ACCESS, subject=str(n), sid="s", scope="api").token for n in range(5)]
    for token in minted:
        tokens.decode(token, ACCESS)
    assert [token in tokens._verified for token in minted] == [False, False, True, True, True]
    # Reading a token makes it the most recent: the next one in pushes out another.
    tokens.decode(minted[2], ACCESS)
    tokens.decode(tokens.mint(ACCESS, subject="9", sid="s", scope="api").token, ACCESS)
    assert minted[2] in tokens._verified
    assert minted[3] not in tokens._verified


def test_cache_never_holds_a_whole_token():
    minted = tokens.mint(ACCESS, subject="1", sid="s", scope="api")
    tokens.decode(minted.token, ACCESS)
    assert minted.token in tokens._verified
    held = repr(list(tokens._verified.entries.items()))
    assert minted.token not in held
    assert minted.token.split(".")[2] not in held


def test_expires_in_counts_seconds_from_now():
    assert tokens.expires_in(int(time.time()) + 300) in (299, 300)
    assert tokens.expires_in(int(time.time()) - 5) == 0


def test_new_ids_never_start_with_a_dash():
    """A jti or sid is pasted after ``--jti`` on the command line: argparse would
    read one starting with "-" as an option (1 in 64 before this rule)."""
    assert not any(tokens.new_id().startswith("-") for _ in range(2000))
