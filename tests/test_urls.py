"""The URL names and paths of the contract (mounted under ``auth/``)."""

import pytest
from django.urls import resolve, reverse

from django_jwt_email import views


@pytest.mark.parametrize(
    "name,path,view",
    [
        ("request", "/auth/request/", views.RequestView),
        ("verify", "/auth/verify/", views.VerifyView),
        ("token", "/auth/token/", views.TokenView),
        ("code", "/auth/code/", views.CodeView),
        ("refresh", "/auth/token/refresh/", views.RefreshView),
        ("revoke", "/auth/token/revoke/", views.RevokeView),
        ("logout", "/auth/logout/", views.LogoutView),
        ("logout_all", "/auth/logout/all/", views.LogoutAllView),
        ("jwks", "/auth/.well-known/jwks.json", views.JWKSView),
    ],
)
def test_each_endpoint_has_its_documented_name_and_path(name, path, view):
    assert reverse(f"django_jwt_email:{name}") == path
    match = resolve(path)
    assert match.namespace == "django_jwt_email"
    assert match.func.view_class is view
