"""Helpers for a site's own tests: real sign-in links, token pairs and Bearer headers,
throw-away signing keys, and what a sign-in email carried.

Everything is made by the services, exactly as the flows make it: a link is a stored
login row that the verify page and ``auth/token/`` redeem, a pair is a sign-in session
that ``auth/token/refresh/`` rotates and ``auth/logout/`` ends. Nothing in the package
imports this module, and nothing here belongs in production code.

A site's test settings may import it before Django is set up (for
``throwaway_signing_keys``): the models and services are imported inside the
functions that use them, once the apps are ready.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.test import override_settings

from . import keys
from .clientinfo import Client

__all__ = [
    "Bearer",
    "SignInEmail",
    "bearer",
    "login_link",
    "login_token",
    "sign_in_email",
    "throwaway_keys",
    "throwaway_signing_keys",
    "token_pair",
]

# Who the audit log says asked, for the rows these helpers make.
HELPER_CLIENT = Client(user_agent="django_jwt_email.testing")

# --- signing keys ---------------------------------------------------------------------


@cache
def _private_key(algorithm: str) -> str:
    """One new key per algorithm and process, kept in memory only."""
    return keys.generate_private_key(algorithm)


def throwaway_signing_keys(algorithm: str = "ES256") -> list[dict[str, str]]:
    """A value for ``JWT_EMAIL_SIGNING_KEYS`` in a site's test settings: one key of
    ``algorithm``, generated in memory once per process and never written anywhere, so
    tokens minted in one test verify in the next.

        # mysite/test_settings.py
        from django_jwt_email.testing import throwaway_signing_keys
        JWT_EMAIL_SIGNING_KEYS = throwaway_signing_keys()
    """
    kid = f"throwaway-{algorithm.lower()}"
    return [{"kid": kid, "algorithm": algorithm, "private_key": _private_key(algorithm)}]


def throwaway_keys(algorithm: str = "ES256") -> override_settings:
    """``override_settings`` with ``throwaway_signing_keys()``: a context manager, or a
    decorator of a test function or a ``TestCase`` class."""
    return override_settings(JWT_EMAIL_SIGNING_KEYS=throwaway_signing_keys(algorithm))


# --- links, pairs, headers ------------------------------------------------------------


def login_token(user: Any, next_url: str = "") -> str:
    """A redeemable login token for ``user``: its row is stored and recorded as
    ``issued``, as a requested link's is, but no email is sent. Bound to the user's
    current address, not to a browser (even with BIND_TO_BROWSER)."""
    from .accounts import email_of
    from .services import issue_login

    return issue_login(user, email_of(user), HELPER_CLIENT, next_url=next_url).token


def login_link(user: Any, next_url: str = "") -> str:
    """The URL a sign-in email would carry for ``user``, built by the adapter (the
    verify page on LINK_BASE_URL, or LINK_URL); ``next_url`` is kept on the link's
    row, where the verify page reads it."""
    from .adapter import get_adapter

    return get_adapter().build_link(login_token(user, next_url), next_url)


def token_pair(user: Any) -> dict[str, Any]:
    """A new API sign-in session for ``user`` and its first pair, in the shape
    ``auth/token/`` answers: ``access``, ``refresh``, ``token_type``, ``expires_in``,
    ``refresh_expires_in``. Counts as a login, as an API sign-in does."""
    from django.db import transaction

    from .services import issue_pair

    with transaction.atomic():
        return issue_pair(user, client=HELPER_CLIENT).as_dict()


class Bearer(dict[str, str]):
    """``{"HTTP_AUTHORIZATION": "Bearer <access>"}``: keyword arguments of Django's and
    DRF's test clients (``client.get(url, **bearer(user))``,
    ``api_client.credentials(**bearer(user))``)."""

    @property
    def access(self) -> str:
        """The access token."""
        return self["HTTP_AUTHORIZATION"].removeprefix("Bearer ")

    @property
    def headers(self) -> dict[str, str]:
        """The same as HTTP headers, ``{"Authorization": "Bearer <access>"}``: for
        ``requests``, httpx, or the ``headers=`` argument of Django's test client."""
        return {"Authorization": self["HTTP_AUTHORIZATION"]}


def bearer(user_or_access: Any) -> Bearer:
    """Request headers that authenticate as a user: given a user, with the access
    token of a new sign-in session (``token_pair``); given an access token (a
    string), with that token."""
    if isinstance(user_or_access, str):
        access = user_or_access
    else:
        access = token_pair(user_or_access)["access"]
    return Bearer(HTTP_AUTHORIZATION=f"Bearer {access}")


# --- the sign-in email ----------------------------------------------------------------

# A compact JWS whose header starts with '{"' (base64url "eyJ"): the login token. Its
# characters are all URL-safe, so it stands unescaped in whatever link carries it.
TOKEN = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Where a link ends in text or HTML: whitespace, a quote or a tag's bracket.
LINK_CHARACTER = r"[^\s\"'<>]"


@dataclass(frozen=True)
class SignInEmail:
    """A sign-in email: the message, its recipients, and what it carries."""

    message: Any
    to: list[str]
    link: str
    token: str
    #: The short code for another device, as written ("ABCD-EFGH"); None if the
    #: site's template leaves it out.
    code: str | None

    @classmethod
    def from_message(cls, message: Any) -> SignInEmail:
        """Read an email (an ``EmailMessage``, or anything with ``body`` and ``to``);
        ValueError if it carries no login token."""
        for text in _texts(message):
            token = TOKEN.search(text)
            if token is None:
                continue
            link = re.search(f"{LINK_CHARACTER}*{re.escape(token.group())}{LINK_CHARACTER}*", text)
            assert link is not None  # the token itself matches
            # The link and the token are taken out first: the code's alphabet is
            # made of letters and digits that a token also holds.
            rest = text.replace(link.group(), " ")
            code = _code_pattern().search(rest)
            return cls(
                message=message,
                to=list(getattr(message, "to", [])),
                link=link.group(),
                token=token.group(),
                code=code.group() if code else None,
            )
        raise ValueError("This email carries no sign-in link.")


def sign_in_email(outbox: Sequence[Any] | None = None, *, to: str | None = None) -> SignInEmail:
    """The newest sign-in email in ``outbox`` (default: Django's ``mail.outbox``, which
    the test runner and pytest-django's ``mailoutbox`` fill), or the newest sent to
    ``to`` (compared as addresses are: case and Unicode forms folded). Other emails
    are passed over; AssertionError if there is none."""
    from django.core import mail

    from .addresses import for_lookup

    messages = list(getattr(mail, "outbox", []) if outbox is None else outbox)
    for message in reversed(messages):
        recipients = [for_lookup(address) for address in getattr(message, "to", [])]
        if to is not None and for_lookup(to) not in recipients:
            continue
        try:
            return SignInEmail.from_message(message)
        except ValueError:
            continue
    wanted = f" to {to}" if to is not None else ""
    raise AssertionError(f"No sign-in email{wanted} among the {len(messages)} in the outbox.")


def _texts(message: Any) -> list[str]:
    """The plain-text body, then each HTML alternative unescaped."""
    texts = [str(getattr(message, "body", ""))]
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            texts.append(html.unescape(str(content)))
    return texts


def _code_pattern() -> re.Pattern[str]:
    """A code as ``signin_codes.format_code`` writes it, for the configured alphabet
    and length, standing alone (not inside a longer run of letters, digits or dashes)."""
    from .conf import app_settings
    from .signin_codes import format_code

    symbol = "[" + re.escape(str(app_settings.CODE_ALPHABET)) + "]"
    shape = format_code("x" * int(app_settings.CODE_LENGTH))
    body = "".join("-" if ch == "-" else symbol for ch in shape)
    return re.compile(rf"(?<![\w-]){body}(?![\w-])")
