"""drf-spectacular: a site's own view guarded by JWTEmailAuthentication gets the
Bearer security scheme in its schema (here the test app's; the example site's
api/me/ in test_example_project)."""

from drf_spectacular.generators import SchemaGenerator

from django_jwt_email.authentication import JWTEmailAuthentication
from django_jwt_email.contrib.spectacular import JWTEmailAuthenticationScheme

BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An access token (typ at+jwt) from auth/token/, auth/code/ or "
    "auth/token/refresh/, in Authorization: Bearer <access>.",
}


def schema(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    return SchemaGenerator().get_schema(request=None, public=True)


def test_bearer_views_of_the_site_get_the_scheme(settings):
    generated = schema(settings)
    assert generated["components"]["securitySchemes"]["jwtEmailBearer"] == BEARER
    for path in ("/api/me/", "/api/pk/", "/api/admin-only/"):
        assert generated["paths"][path]["get"]["security"] == [{"jwtEmailBearer": []}], path


def test_the_app_s_own_endpoints_ask_for_a_token_only_where_they_take_one(settings):
    paths = schema(settings)["paths"]
    for path in ("/auth/token/", "/auth/token/refresh/", "/auth/request/"):
        assert {"jwtEmailBearer": []} not in paths[path]["post"].get("security", []), path
    for path in ("/auth/logout/", "/auth/logout/all/"):
        assert {"jwtEmailBearer": []} in paths[path]["post"]["security"], path


class SiteAuthentication(JWTEmailAuthentication):
    """A site's subclass (e.g. with another realm)."""


def test_a_site_s_subclass_gets_the_scheme_too():
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    found = OpenApiAuthenticationExtension.get_match(SiteAuthentication())
    assert isinstance(found, JWTEmailAuthenticationScheme)
