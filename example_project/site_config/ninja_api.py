"""A django-ninja API of the example site, guarded by the same access tokens as the
DRF view ``api/me/``: ``api/ninja/me`` (sync) and ``api/ninja/me/async`` (async).

``JWTEmailBearer`` works in both kinds of operation; ``bearer_error_response``
gives refusals the app's ``{"detail", "code"}`` body and ``WWW-Authenticate``.
Its own OpenAPI page: ``api/ninja/docs``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Router, Schema

from django_jwt_email.contrib.ninja import BearerError, JWTEmailBearer, bearer_error_response

router = Router(auth=JWTEmailBearer(), tags=["me"])


class Me(Schema):
    id: int
    email: str


@router.get("/me", response=Me)
def me(request: HttpRequest) -> Any:
    """Who the Bearer access token belongs to (loads the user: one query)."""
    return request.user


@router.get("/me/async", response=Me)
async def me_async(request: HttpRequest) -> Any:
    """The same, in an async operation: the user is loaded with ``auser()``."""
    return await request.auser()


api = NinjaAPI(title="django-jwt-email example (ninja)", urls_namespace="ninja")
api.add_exception_handler(BearerError, bearer_error_response)
api.add_router("/", router)
