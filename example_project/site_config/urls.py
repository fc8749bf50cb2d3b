"""URLs of the example site: its pages, the app under auth/, the schema, the admin."""

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.signin, name="signin"),
    path("signout/", LogoutView.as_view(), name="signout"),
    path("outbox/", views.outbox, name="outbox"),
    path("api/me/", views.MeView.as_view(), name="me"),
    path("auth/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("auth/", include("django_jwt_email.urls")),
    path("admin/", admin.site.urls),
]
