"""django-ninja authentication by ``Authorization: Bearer <access token>``.

The same check as the DRF class (``authentication.JWTEmailAuthentication``):
signature and claims, then the session's revocation mark in the cache, with no
database query; the user row is loaded only when the view reads a field of
``request.user`` beyond its ``pk`` (``await request.auser()`` in an async view).
In an async operation the check runs through ``sync_to_async``, so a revocation
cache (or its database fallback) that is slow holds one thread, never the event
loop. Needs django-ninja (``pip install django-jwt-email[ninja]``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from ninja.errors import HttpError
from ninja.security.http import HttpBearer

from .. import services
from ..authentication import LazyUser, active_user, user_pk
from ..exceptions import TokenError, Unavailable
from ..http import client_of, no_store

__all__ = ["BearerError", "JWTEmailBearer", "bearer_error_response"]


class BearerError(HttpError):
    """A refused Bearer token (401) or a dependency down (503), with the app's
    ``{"detail", "code"}`` body once ``bearer_error_response`` is the API's handler
    for it; without it, ninja's own ``{"detail"}`` with the same status."""

    def __init__(self, status_code: int, detail: str, code: str, **headers: str) -> None:
        super().__init__(status_code, detail)
        self.detail, self.code, self.headers = detail, code, headers

    @classmethod
    def refused(cls, detail: str, code: str) -> BearerError:
        header = f'Bearer error="invalid_token", error_description="{code}"'
        return cls(401, detail, code, **{"WWW-Authenticate": header})

    @classmethod
    def unavailable(cls, error: Unavailable) -> BearerError:
        return cls(503, str(error.detail), error.code, **{"Retry-After": str(error.retry_after)})


def bearer_error_response(request: HttpRequest, exc: BearerError) -> HttpResponse:
    """``api.add_exception_handler(BearerError, bearer_error_response)``: the body and
    headers every endpoint of the app answers with."""
    response = JsonResponse({"detail": exc.detail, "code": exc.code}, status=exc.status_code)
    for name, value in exc.headers.items():
        response[name] = value
    return no_store(response)


class JWTEmailBearer(HttpBearer):
    """``auth=JWTEmailBearer()`` on a ninja API, router or operation, sync or async.

    ``request.auth`` is the token's claims (``sub``, ``sid``, ``scope``...);
    ``request.user`` the user, loaded on first use. A missing header (or another
    scheme) lets ninja try the next authentication or answer 401; a bad token is
    ``BearerError`` 401, never a 500.
    """

    def __init__(self) -> None:
        super().__init__()
        # ninja awaits what __call__ returns in an async operation, and takes it as
        # it is in a sync one: __call__ answers in the mode of its caller.
        self.is_async = True

    def __call__(self, request: HttpRequest) -> Any:
        token = self.token_of(request)
        if token is None:
            return None
        if _event_loop_running():
            return self.authenticate_async(request, token)
        return self.authenticate(request, token)

    def token_of(self, request: HttpRequest) -> str | None:
        """The Bearer token of the request, or None for another scheme or none.

        Parsed here rather than by ninja's HttpBearer, which logs the whole header
        (a token) when the scheme is not its own and DEBUG is on.
        """
        parts = request.headers.get(self.header, "").split()
        if not parts or parts[0].lower() != self.openapi_scheme:
            return None
        if len(parts) != 2:
            raise BearerError.refused(gettext("Invalid Authorization header."), "invalid_token")
        return parts[1]

    def authenticate(self, request: HttpRequest, token: str) -> dict[str, Any]:
        try:
            claims = services.authenticate_access(token, client=lambda: client_of(request))
        except TokenError as exc:
            raise BearerError.refused(str(exc.detail), exc.code) from exc
        except Unavailable as exc:
            raise BearerError.unavailable(exc) from exc
        try:
            pk = user_pk(claims)
        except ValidationError:
            raise BearerError.refused(str(TokenError.default_detail), "invalid_token") from None
        request.user = LazyUser(pk, lambda: _load_user(pk))  # type: ignore[assignment]
        request.auser = lambda: _aload_user(request)
        return claims

    async def authenticate_async(self, request: HttpRequest, token: str) -> dict[str, Any]:
        """The same check, off the event loop: the revocation cache is a network call,
        and its fallback, when the cache is down, a database query."""
        claims: dict[str, Any] = await sync_to_async(self.authenticate)(request, token)
        return claims


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _load_user(pk: Any) -> Any:
    try:
        return active_user(pk)
    except Unavailable as exc:
        raise BearerError.unavailable(exc) from exc
    except TokenError as exc:  # deleted or deactivated without going through save()
        raise BearerError.refused(str(exc.detail), exc.code) from exc


async def _aload_user(request: HttpRequest) -> Any:
    user = request.user
    if isinstance(user, LazyUser):
        await sync_to_async(getattr)(user, "is_active")  # loads the row, in a thread
    return user
