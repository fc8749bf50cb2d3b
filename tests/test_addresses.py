"""Email addresses: one named form per question (stored, same account, hashed,
same inbox for the limits), each tested on the spellings it must join or keep apart."""

import pytest

from django_jwt_email import addresses, signin_codes


def test_canonical_lowers_the_domain_only():
    assert addresses.canonical(" Alice.Smith@Example.COM ") == "Alice.Smith@example.com"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Alice@Example.COM", "alice@example.com"),
        ("  alice@example.com\t", "alice@example.com"),
        ("\uff41lice@example.com", "alice@example.com"),  # fullwidth a
        ("STRASSE@example.com", "stra\u00dfe@example.com"),  # casefold: ß is ss
        ("mi\u212ae@example.org", "mike@example.org"),  # Kelvin sign K
    ],
)
def test_for_lookup_joins_the_spellings_of_one_address(one, other):
    assert addresses.for_lookup(one) == addresses.for_lookup(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("alice+news@example.com", "alice@example.com"),  # another address for the account
        ("a.lice@gmail.com", "alice@gmail.com"),
        ("m\u0131ke@example.org", "mike@example.org"),  # dotless i: not the same letter
    ],
)
def test_for_lookup_keeps_different_addresses_apart(one, other):
    assert addresses.for_lookup(one) != addresses.for_lookup(other)


def test_keyed_hash_is_of_the_lookup_form_and_keyed(settings):
    stored = addresses.keyed_hash("alice@example.com")
    assert addresses.keyed_hash(" Alice@Example.COM ") == stored
    assert addresses.keyed_hash("bob@example.com") != stored
    assert "alice" not in stored
    assert stored == signin_codes.keyed_hash("email", "alice@example.com")
    settings.SECRET_KEY = "another-secret-" + "y" * 40
    assert addresses.keyed_hash("alice@example.com") != stored


@pytest.mark.parametrize(
    ("typed", "inbox"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),
        ("alice+news@example.com", "alice@example.com"),
        ("a.lice@example.com", "a.lice@example.com"),  # dots matter outside Gmail
        ("A.Lice+x@GoogleMail.com", "alice@gmail.com"),
        ("alice@\uff45xample.com", "alice@example.com"),  # fullwidth e in the domain
        ("not-an-address", "not-an-address"),
    ],
)
def test_mailbox_folds_the_variants_of_one_inbox(typed, inbox):
    assert addresses.mailbox(typed) == inbox


def test_rate_limit_key_is_per_inbox_and_never_the_address():
    key = addresses.rate_limit_key("alice@example.com")
    assert addresses.rate_limit_key("ALICE+x@example.com") == key
    assert addresses.rate_limit_key("bob@example.com") != key
    assert "alice" not in key
    # Another purpose than the stored hash: a counter key never matches a row.
    assert key != addresses.keyed_hash("alice@example.com")
