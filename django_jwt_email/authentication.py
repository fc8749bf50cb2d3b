"""DRF authentication by ``Authorization: Bearer <access token>``.

No database query per request: the token's signature and claims are checked,
then its session's revocation mark in the cache. Deactivating or deleting a
user revokes their sessions (see ``receivers``), so the user row is loaded only
if the view actually reads a field of ``request.user`` beyond its ``pk``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from . import accounts, services
from .exceptions import TokenError, TokenInvalid, Unavailable
from .http import as_unavailable, client_of

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = ["JWTEmailAuthentication", "LazyUser", "ServiceUnavailable", "active_user", "user_pk"]

ERROR_ATTRIBUTE = "_jwt_email_error"


class ServiceUnavailable(exceptions.APIException):
    """503 ``{"detail", "code": "unavailable"}``; DRF's handler adds ``Retry-After``
    from ``wait``, as it does for a throttled request."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"

    def __init__(self, error: Unavailable) -> None:
        super().__init__({"detail": error.detail, "code": error.code})
        self.wait = error.retry_after


class LazyUser(SimpleLazyObject):
    """The token's user, fetched on first use of any attribute but these.

    ``load`` fetches it (``active_user``), raising the framework's own error when
    the user is gone: DRF's here, django-ninja's in ``contrib.ninja``.
    """

    is_authenticated = True
    is_anonymous = False

    def __init__(self, pk: Any, load: Callable[[], Any]) -> None:
        self.__dict__["_jwt_email_pk"] = pk
        super().__init__(load)

    @property
    def pk(self) -> Any:
        return self.__dict__["_jwt_email_pk"]

    def __bool__(self) -> bool:
        # DRF's IsAuthenticated tests ``request.user`` for truth first; loading
        # the row to answer that would cost the query this class exists to save.
        return True


def active_user(pk: Any) -> Any:
    """The active user ``pk`` of a verified token, for any framework's Bearer class.

    Raises TokenInvalid if the user is gone (deleted, or deactivated without
    ``save()``, so no receiver revoked the session), and Unavailable if the
    database cannot be reached; each framework answers those its own way.
    """
    try:
        user = get_user_model()._default_manager.filter(pk=pk, is_active=True).first()
    except DatabaseError as exc:
        unavailable = as_unavailable(exc)
        if unavailable is None:
            raise
        raise unavailable from exc
    if user is None:
        raise TokenInvalid("user_gone", detail=gettext("The user of this token is gone."))
    return user


def user_pk(claims: dict[str, Any]) -> Any:
    """The user key of a verified token's ``sub``; ValidationError if it is not one
    of this user model (signed by us, yet for another model)."""
    return accounts.user_key(claims["sub"])


def _load_user(pk: Any, request: Request) -> Any:
    try:
        return active_user(pk)
    except Unavailable as exc:
        raise ServiceUnavailable(exc) from exc
    except TokenError as exc:
        setattr(request, ERROR_ATTRIBUTE, exc.code)
        raise exceptions.AuthenticationFailed({"detail": exc.detail, "code": exc.code}) from exc


class JWTEmailAuthentication(BaseAuthentication):
    """``Authorization: Bearer <access>``; ``request.auth`` is the token's claims."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, dict[str, Any]] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None  # not our scheme: let another class try
        if len(parts) != 2:
            self._fail(request, gettext("Invalid Authorization header."), "invalid_token")
        try:
            token = parts[1].decode("ascii")
        except UnicodeError:
            self._fail(request, gettext("Invalid Authorization header."), "invalid_token")
        try:
            # The client is worked out only if a refusal is recorded.
            claims = services.authenticate_access(token, client=lambda: client_of(request))
        except TokenError as exc:
            self._fail(request, exc.detail, exc.code)
        except Unavailable as exc:  # neither the revocation cache nor the database answers
            raise ServiceUnavailable(exc) from exc
        try:
            pk = user_pk(claims)
        except ValidationError:
            self._fail(request, TokenError.default_detail, "invalid_token")
        return LazyUser(pk, lambda: _load_user(pk, request)), claims

    def _fail(self, request: Request, detail: StrOrPromise, code: str) -> NoReturn:
        setattr(request, ERROR_ATTRIBUTE, code)
        raise exceptions.AuthenticationFailed({"detail": detail, "code": code})

    def authenticate_header(self, request: Request) -> str:
        code = getattr(request, ERROR_ATTRIBUTE, None)
        if code is None:  # no credentials at all (RFC 6750 §3.1: no error attribute)
            return f'{self.keyword} realm="api"'
        return f'{self.keyword} error="invalid_token", error_description="{code}"'
