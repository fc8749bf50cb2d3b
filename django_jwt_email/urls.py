"""URLs of the app; mount with ``path("auth/", include("django_jwt_email.urls"))``."""

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
