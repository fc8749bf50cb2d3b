"""DRF permission: require scopes of the access token (least privilege)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

__all__ = [
    "HasScope",
]


class HasScope(BasePermission):
    """Allow a request whose access token carries every scope in the view's
    ``required_scopes``. Requests not authenticated by a token are refused."""

    message = {"detail": "The token lacks a required scope.", "code": "insufficient_scope"}

    def has_permission(self, request: Request, view: Any) -> bool:
        claims = request.auth
        if not isinstance(claims, dict):
            return False
        granted = set(str(claims.get("scope", "")).split())
        return set(getattr(view, "required_scopes", ())) <= granted
