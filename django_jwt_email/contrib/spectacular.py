"""drf-spectacular: the Bearer security scheme of ``JWTEmailAuthentication``.

Loaded by the app's ``ready()`` when drf-spectacular is installed, so a site's own
views guarded by ``JWTEmailAuthentication`` get ``security: [{jwtEmailBearer: []}]``
in their OpenAPI schema, and the schema's components an HTTP bearer scheme (JWT),
without a line of the site's.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

__all__ = ["JWTEmailAuthenticationScheme"]


class JWTEmailAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "django_jwt_email.authentication.JWTEmailAuthentication"
    match_subclasses = True
    name = "jwtEmailBearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        scheme = build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION", token_prefix="Bearer", bearer_format="JWT"
        )
        scheme["description"] = (
            "An access token (typ at+jwt) from auth/token/, auth/code/ or "
            "auth/token/refresh/, in Authorization: Bearer <access>."
        )
        return scheme
