"""URLs of the benchmark servers."""

from django.urls import include, path
from rest_framework_simplejwt.views import TokenRefreshView

from . import views

urlpatterns = [
    path("floor/", views.FloorView.as_view()),
    path("jwt-email/me/", views.JWTEmailMeView.as_view()),
    path("simplejwt/me/", views.SimpleJWTMeView.as_view()),
    path("simplejwt-stateless/me/", views.SimpleJWTStatelessMeView.as_view()),
    path("auth/", include("django_jwt_email.urls")),
    path("simplejwt/token/refresh/", TokenRefreshView.as_view()),
]
