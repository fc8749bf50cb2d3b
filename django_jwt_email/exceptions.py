"""Domain errors, one class per failure a caller can meet; no HTTP here.

Each error has a stable ``code`` (the ``code`` of the JSON error body) and a
``reason`` (finer, for the audit log only: it is never shown to the caller, so
an attacker learns "invalid_token", not which check caught the forgery). The
``detail`` is shown to the caller, translated into the active language when it
is rendered; the ``code`` never is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = [
    "BrowserMismatch",
    "CodeInvalid",
    "ConfigurationError",
    "JWTEmailError",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenRevoked",
    "TokenUsed",
    "Unavailable",
]


class JWTEmailError(Exception):
    code = "error"
    default_detail = _("The request could not be completed.")
    # Context for the audit record, attached by the layer that knows it.
    jti: str = ""
    user: Any = None

    def __init__(self, reason: str | None = None, detail: StrOrPromise | None = None) -> None:
        self.reason = reason or self.code
        self.detail = detail or self.default_detail
        super().__init__(self.reason)


class ConfigurationError(JWTEmailError):
    """A setting, a key or a site's adapter is unusable: a bug to fix, reported by the
    checks where they can see it. Its text says what to change."""

    code = "improperly_configured"

    def __str__(self) -> str:
        return str(self.detail)


class TokenError(JWTEmailError):
    code = "invalid_token"
    default_detail = _("The token is invalid.")


class TokenInvalid(TokenError):
    """Malformed, forged, wrong kind, wrong audience: anything but the cases below."""


class TokenExpired(TokenError):
    code = "token_expired"
    default_detail = _("The token has expired.")


class TokenUsed(TokenError):
    code = "token_used"
    default_detail = _("The token has already been used.")


class TokenRevoked(TokenError):
    code = "token_revoked"
    default_detail = _("The token has been revoked.")


class BrowserMismatch(TokenError):
    """A browser-bound link was opened in another browser: show its code instead."""

    code = "other_browser"
    default_detail = _("This link was requested in another browser. Enter the code there.")

    def __init__(self, sign_in_code: str) -> None:
        super().__init__("other_browser")
        self.sign_in_code = sign_in_code


class CodeInvalid(JWTEmailError):
    """Wrong, unknown or locked sign-in code: one answer for all three."""

    code = "invalid_code"
    default_detail = _("The code is invalid or has expired. Ask for a new sign-in email.")


class Unavailable(JWTEmailError):
    """A dependency the request needs (the database, the queue broker) cannot be
    reached: answered 503 with ``Retry-After``, the same for every address."""

    code = "unavailable"
    default_detail = _("The service is temporarily unavailable. Try again in a few seconds.")
    #: Seconds a client should wait before trying again (the ``Retry-After`` header).
    retry_after = 5
