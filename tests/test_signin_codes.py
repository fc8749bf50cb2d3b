"""codes.py: the short code of a login token, keyed hashes and browser verifiers."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_jwt_email import signin_codes, tokens
from django_jwt_email.conf import DEFAULTS

DEFAULT_ALPHABET = DEFAULTS["CODE_ALPHABET"]


def test_code_default_is_eight_characters_of_an_unambiguous_alphabet():
    code = signin_codes.derive_code(tokens.new_id())
    assert len(code) == 8
    assert set(code) <= set(DEFAULT_ALPHABET)
    assert not set("01IO") & set(DEFAULT_ALPHABET)


def test_code_is_fixed_by_the_jti_and_differs_between_jtis():
    jti = tokens.new_id()
    assert signin_codes.derive_code(jti) == signin_codes.derive_code(jti)
    assert len({signin_codes.derive_code(tokens.new_id()) for _ in range(50)}) == 50


def test_code_needs_the_server_key(settings):
    jti = tokens.new_id()
    code = signin_codes.derive_code(jti)
    settings.SECRET_KEY = "another-secret-" + "y" * 40
    assert signin_codes.derive_code(jti) != code


def test_code_honours_length_and_alphabet(settings):
    settings.JWT_EMAIL_CODE_LENGTH = 12
    settings.JWT_EMAIL_CODE_ALPHABET = "ABCDEFGHJKLMNPQR"
    code = signin_codes.derive_code(tokens.new_id())
    assert re.fullmatch(r"[A-HJ-NP-R]{12}", code)


def test_code_uses_the_whole_alphabet():
    seen = "".join(signin_codes.derive_code(tokens.new_id()) for _ in range(500))
    assert set(seen) == set(DEFAULT_ALPHABET)


@pytest.mark.parametrize(
    ("code", "shown"),
    [("ABCDEFGH", "ABCD-EFGH"), ("ABCDEF", "ABC-DEF"), ("ABCDEFGHJ", "ABCDE-FGHJ")],
)
def test_code_is_shown_in_two_halves(code, shown):
    assert signin_codes.format_code(code) == shown


@pytest.mark.parametrize(
    "typed", ["ABCD-EFGH", "abcd-efgh", " abcd efgh ", "ABCD\u2013EFGH", "AB.CD_EF/GH", "abcdefgh"]
)
def test_typed_code_ignores_case_and_separators(typed):
    assert signin_codes.normalize_code(typed) == "ABCDEFGH"
    assert signin_codes.hash_code(typed) == signin_codes.hash_code("ABCDEFGH")


def test_code_hash_is_keyed_and_does_not_contain_the_code(settings):
    stored = signin_codes.hash_code("ABCDEFGH")
    assert "ABCDEFGH" not in stored.upper()
    assert stored != hashlib.sha256(b"ABCDEFGH").hexdigest()
    settings.SECRET_KEY = "another-secret-" + "y" * 40
    assert signin_codes.hash_code("ABCDEFGH") != stored


def test_hashes_of_different_purposes_differ():
    assert signin_codes.keyed_hash("email", "x") != signin_codes.keyed_hash("code", "x")


def test_an_empty_stored_hash_matches_nothing():
    assert not signin_codes.matches("", "")
    assert not signin_codes.matches("", signin_codes.hash_code(""))
    assert signin_codes.matches(signin_codes.hash_code("ab"), signin_codes.hash_code("AB"))


def test_verifier_is_random_and_recognised():
    first, second = signin_codes.new_verifier(), signin_codes.new_verifier()
    assert first != second
    assert signin_codes.is_verifier(first)
    assert not signin_codes.is_verifier("")
    assert not signin_codes.is_verifier(None)
    assert not signin_codes.is_verifier("attacker-chosen")
    assert not signin_codes.is_verifier(first + "x")


def test_verifier_is_stored_as_its_sha256():
    verifier = signin_codes.new_verifier()
    assert signin_codes.hash_verifier(verifier) == hashlib.sha256(verifier.encode()).hexdigest()


@given(jti=st.text(min_size=1, max_size=64))
def test_code_as_shown_and_typed_sloppily_hashes_as_issued(jti):
    code = signin_codes.derive_code(jti)
    assert set(code) <= set(DEFAULT_ALPHABET)
    sloppy = signin_codes.format_code(code).lower().replace("-", " - ")
    assert signin_codes.hash_code(sloppy) == signin_codes.hash_code(code)
