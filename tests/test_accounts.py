"""Which account an address names: case-insensitive lookup confirmed by Unicode
case folding, look-alike detection, sign-up accounts."""

import pytest
from django.contrib.auth import get_user_model

from django_jwt_email import accounts

pytestmark = pytest.mark.django_db

DOTLESS = "m\u0131ke@example.org"


def test_find_user_matches_case_insensitively(user):
    assert accounts.find_user("ALICE@EXAMPLE.COM") == user


def test_find_user_does_not_match_a_dotless_i(user_factory):
    user_factory("mike@example.org")
    assert accounts.find_user(DOTLESS) is None


def test_find_user_does_not_match_fullwidth_letters_the_database_ignores(user_factory):
    user_factory("mike@example.org")
    assert accounts.find_user("\uff4dike@example.org") is None


def test_find_user_refuses_to_guess_between_case_variants(user_factory):
    user_factory("bob@example.com")
    user_factory("Bob@example.com")
    assert accounts.find_user("BOB@example.com") is None
    assert accounts.find_user("Bob@example.com").email == "Bob@example.com"


def test_find_user_ignores_unknown_addresses(user):
    assert accounts.find_user("nobody@example.com") is None


@pytest.mark.parametrize(
    "typed", [DOTLESS, "MIKE@example.org", "M\u0130KE@example.org", "Mike@Example.org"]
)
def test_lookalikes_of_an_existing_account_are_detected(typed, user_factory):
    user_factory("mike@example.org")
    assert accounts.lookalike_exists(typed)


def test_a_different_address_is_no_lookalike(user_factory):
    user_factory("mike@example.org")
    assert not accounts.lookalike_exists("mikey@example.org")


def test_get_or_create_account_creates_once(db):
    first = accounts.get_or_create_account("new@example.com")
    again = accounts.get_or_create_account("NEW@example.com")
    assert first == again
    assert get_user_model().objects.get().email == "new@example.com"
    assert first.get_username() == "new@example.com"


def test_email_of_reads_the_models_email_field(user):
    assert accounts.email_of(user) == "alice@example.com"
