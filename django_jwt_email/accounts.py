"""Which account an email address names: lookup, look-alikes, sign-up accounts.

The threat here is Django's CVE-2019-19844: a database's case folding (UPPER,
LOWER, LIKE) maps some non-ASCII letters onto ASCII ones, so "m\\u0131ke" (dotless
i) can find the account of "mike". A lookup is therefore confirmed with
Python's Unicode case folding, mail always goes to the address stored on the
account, and no sign-up account is opened for a look-alike of an existing one.
Only the user model is touched here: no tokens, no audit.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import DataError, IntegrityError, transaction
from django.db.models import Q

from .addresses import for_lookup

__all__ = [
    "email_of",
    "find_user",
    "get_or_create_account",
    "lookalike_exists",
    "user_key",
]

# The dotted and dotless Turkish i: a database's UPPER/LOWER maps them onto ASCII
# letters although casefold() keeps them apart.
LOOKALIKES = str.maketrans({"\u0131": "i", "\u0130": "I"})


def email_of(user: Any) -> str:
    """The address stored on ``user`` (its model's email field)."""
    return getattr(user, user.get_email_field_name()) or ""


def user_key(subject: str) -> Any:
    """The user model's primary key that a token's ``sub`` names; ValidationError if
    ``subject`` is no key of this model (signed by us, yet for another user model)."""
    return get_user_model()._meta.pk.to_python(subject)


def find_user(email: str) -> Any:
    """The one account whose email matches ``email`` case-insensitively, or None.

    None also when several accounts match only up to case and none exactly:
    better no email than one to the wrong account.
    """
    user_model = get_user_model()
    field = user_model.get_email_field_name()
    candidates = [
        user
        for user in user_model._default_manager.filter(**{f"{field}__iexact": email})[:10]
        # The database's case folding may differ from Unicode's (dotless i, ß):
        # confirm with Python's, as Django's password reset does.
        if for_lookup(email_of(user)) == for_lookup(email)
    ]
    if len(candidates) > 1:
        candidates = [user for user in candidates if email_of(user) == email]
    return candidates[0] if len(candidates) == 1 else None


def lookalike_exists(email: str) -> bool:
    """Whether an account's address equals ``email`` up to case or a Unicode trick."""
    user_model = get_user_model()
    lookup = f"{user_model.get_email_field_name()}__iexact"
    skeleton = for_lookup(email.translate(LOOKALIKES))
    similar = Q(**{lookup: email}) | Q(**{lookup: skeleton})
    return user_model._default_manager.filter(similar).exists()


def get_or_create_account(address: str) -> Any:
    """The account of ``address``, created now if there is none; None if it cannot
    be created (an address the user model cannot hold, or ambiguous)."""
    user = find_user(address)
    if user is not None:
        return user
    user_model = get_user_model()
    fields = {user_model.get_email_field_name(): address}
    if user_model.USERNAME_FIELD != user_model.get_email_field_name():
        fields[user_model.USERNAME_FIELD] = address
    try:
        with transaction.atomic():
            return user_model._default_manager.create_user(**fields)
    # Created meanwhile by another link of the same address, or an address the
    # model cannot hold (the default User's username column holds 150 characters).
    except (IntegrityError, DataError):
        return find_user(address)
