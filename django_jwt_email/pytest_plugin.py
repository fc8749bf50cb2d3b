"""pytest fixtures for a site's own tests, built on ``django_jwt_email.testing``.

The package's ``pytest11`` entry point registers this module, so a site that runs
pytest with pytest-django has the fixtures without a line of configuration
(``-p no:django_jwt_email`` turns them off). pytest loads plugins before
pytest-django configures Django, so this module imports nothing of Django or of
the app when it loads: each fixture imports what it needs when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import Bearer, SignInEmail

__all__ = [
    "jwt_email_bearer",
    "jwt_email_keys",
    "jwt_email_login_link",
    "jwt_email_outbox",
    "jwt_email_token_pair",
]


@pytest.fixture
def jwt_email_keys() -> Iterator[list[dict[str, str]]]:
    """Throw-away signing keys for the test (``testing.throwaway_keys()``), so the
    site's test settings need no key file; the value of JWT_EMAIL_SIGNING_KEYS."""
    from .testing import throwaway_keys, throwaway_signing_keys

    with throwaway_keys():
        yield throwaway_signing_keys()


@pytest.fixture
def jwt_email_login_link(db: None) -> Callable[..., str]:
    """``jwt_email_login_link(user, next_url="")``: a redeemable sign-in link
    (``testing.login_link``)."""
    from .testing import login_link

    return login_link


@pytest.fixture
def jwt_email_token_pair(db: None) -> Callable[[Any], dict[str, Any]]:
    """``jwt_email_token_pair(user)``: a new sign-in session's pair, as ``auth/token/``
    answers it (``testing.token_pair``)."""
    from .testing import token_pair

    return token_pair


@pytest.fixture
def jwt_email_bearer(db: None) -> Callable[[Any], Bearer]:
    """``jwt_email_bearer(user)``: request headers with a new access token of ``user``,
    for ``client.get(url, **headers)`` (``testing.bearer``)."""
    from .testing import bearer

    return bearer


@pytest.fixture
def jwt_email_outbox(mailoutbox: list[Any]) -> Callable[..., SignInEmail]:
    """``jwt_email_outbox(to=None)``: the newest sign-in email in pytest-django's
    ``mailoutbox`` (or the newest to ``to``), with its ``link``, ``token`` and ``code``
    (``testing.sign_in_email``)."""
    from .testing import sign_in_email

    def newest(to: str | None = None) -> SignInEmail:
        return sign_in_email(mailoutbox, to=to)

    return newest
