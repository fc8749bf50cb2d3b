"""URLs of the app; mount with ``path("auth/", include("django_jwt_email.urls"))``.

``admin/request/`` (name ``admin_request``) exists only with ``django.contrib.admin``
installed: the admin login page's "Email me a sign-in link" form posts there. It
is a link request like ``request`` and shares its rate limits.
"""

from django.apps import apps
from django.urls import path

from . import views

app_name = "django_jwt_email"

urlpatterns = [
    path("request/", views.RequestView.as_view(), name="request"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("code/", views.CodeView.as_view(), name="code"),
    path("token/refresh/", views.RefreshView.as_view(), name="refresh"),
    path("token/revoke/", views.RevokeView.as_view(), name="revoke"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout/all/", views.LogoutAllView.as_view(), name="logout_all"),
    path(".well-known/jwks.json", views.JWKSView.as_view(), name="jwks"),
]

if apps.is_installed("django.contrib.admin"):
    # Imported only here: the admin package registers with the admin site, which needs
    # django.contrib.admin installed.
    from .admin import AdminRequestView

    urlpatterns.append(path("admin/request/", AdminRequestView.as_view(), name="admin_request"))
