"""Email addresses: the one home of every rule that says when two spellings are one.

Each use has its own named form, because each asks a different question:

- ``canonical``: the address as stored on a new account and mailed to (Django's
  ``normalize_email``: the domain lower-cased, nothing else changed);
- ``for_lookup``: whether two addresses name the same account (Unicode
  compatibility forms and case folded, surrounding whitespace dropped);
- ``keyed_hash``: what an issued row or an audit event keeps of an address (an
  HMAC of ``for_lookup``, so any case typed finds the row, and a dump of the
  table does not give the addresses);
- ``mailbox`` / ``rate_limit_key``: the inbox an address reaches, for the
  per-address rate limit (also ``+tags``, and Gmail's dots), and its HMAC.

Pure functions of their argument and SECRET_KEY: no database, no settings of
the app. Callers pass addresses their input validation accepted (see
``serializers.AddressField``): a lone surrogate, which no address holds, is
refused there and never reaches a hash.
"""

from __future__ import annotations

import unicodedata

from django.contrib.auth.base_user import BaseUserManager

from . import signin_codes

__all__ = ["canonical", "for_lookup", "keyed_hash", "mailbox", "rate_limit_key"]

# Gmail ignores dots in the local part; googlemail.com is the same mailbox.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def canonical(address: str) -> str:
    """The address to store on a new account and to mail a sign-up link to."""
    return BaseUserManager.normalize_email(address.strip())


def for_lookup(address: str) -> str:
    """The form in which two addresses of one account are equal.

    Python's Unicode case folding after compatibility normalisation (fullwidth
    letters, ligatures): a database's own case folding maps some letters
    differently (Django's CVE-2019-19844), so lookups are confirmed with this.
    """
    return unicodedata.normalize("NFKC", address).strip().casefold()


def keyed_hash(address: str) -> str:
    """What an issued row (and an event without a user) keeps of an address."""
    return signin_codes.keyed_hash("email", for_lookup(address))


def mailbox(address: str) -> str:
    """The inbox an address reaches, as far as the per-address limit cares.

    Beyond ``for_lookup``, ``+tags`` of the local part are dropped, and Gmail's
    dots (``a.b+x@gmail.com`` reaches ``ab@gmail.com``): otherwise each variant
    of one address would get a full budget. Two people whose addresses fold
    together merely share a bucket.
    """
    address = for_lookup(address)
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def rate_limit_key(address: str) -> str:
    """The per-address limit's bucket: an HMAC of ``mailbox``, never the address."""
    return signin_codes.keyed_hash("ratelimit.email", mailbox(address))
