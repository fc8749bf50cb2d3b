"""Input shapes: the plain-mailbox address field and the token fields."""

import pytest

from django_jwt_email.serializers import (
    CodeSerializer,
    RefreshSerializer,
    RequestSerializer,
    TokenSerializer,
)


@pytest.mark.parametrize(
    "email",
    [
        "alice@example.com",
        "alice.smith+tag@mail.example.co.uk",
        # A dotless i passes Django's validator (re.IGNORECASE folds it onto "I"), which
        # is why the account lookup must not trust the database's case folding.
        "m\u0131ke@example.org",
        "user@xn--bcher-kva.example",
        "  alice@example.com  ",
    ],
)
def test_plain_addresses_are_accepted(email):
    serializer = RequestSerializer(data={"email": email})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["email"] == email.strip()
    assert serializer.validated_data["next"] == ""


@pytest.mark.parametrize(
    "email",
    [
        "a@b.com\nBcc: x@y.com",
        "a@b.com\r\nSubject: x",
        "a@b.com\x00",
        "a@b.com, c@d.com",
        "a@b.com;c@d.com",
        '"a,b"@example.com',
        '"a b"@example.com',
        "Alice <a@b.com>",
        "a(comment)@b.com",
        "a@[127.0.0.1]",
        "a@b\u2028.com",
        "m\u00fcller@example.de",  # Django's validator takes ASCII local parts only
        "a\u200b@b.com",
        "a" * 250 + "@b.com",
        42,
        ["a@b.com"],
        None,
    ],
)
def test_lists_quotes_comments_and_control_characters_are_refused(email):
    serializer = RequestSerializer(data={"email": email})
    assert not serializer.is_valid()
    assert "email" in serializer.errors


def test_code_serializer_uses_the_same_address_rules():
    assert not CodeSerializer(data={"email": "a@b.com\nBcc: x", "code": "ABCD"}).is_valid()
    assert CodeSerializer(data={"email": "a@b.com", "code": "ABCD-EFGH"}).is_valid()


def test_next_is_bounded():
    assert not RequestSerializer(data={"email": "a@b.com", "next": "/" * 2001}).is_valid()


@pytest.mark.parametrize(
    "serializer,field", [(TokenSerializer, "token"), (RefreshSerializer, "refresh")]
)
def test_token_fields_trim_and_require_a_string(serializer, field):
    ok = serializer(data={field: "  a.b.c \n"})
    assert ok.is_valid()
    assert ok.validated_data[field] == "a.b.c"
    for bad in ("", None, ["a"], {"a": 1}):
        assert not serializer(data={field: bad}).is_valid()
