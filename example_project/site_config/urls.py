"""URLs of the example site: its pages, the app under auth/, the API docs, the admin."""

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from . import views
from .ninja_api import api as ninja_api

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.signin, name="signin"),
    path("signout/", LogoutView.as_view(), name="signout"),
    # The single-page app: JWT_EMAIL_LINK_URL = ".../app/#token={token}" links here.
    path("app/", views.spa, name="spa"),
    path("outbox/", views.outbox, name="outbox"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("api/me/", views.MeView.as_view(), name="me"),
    # The same token guards a django-ninja API (sync and async operations).
    path("api/ninja/", ninja_api.urls),
    # The OpenAPI document (YAML, or JSON with ?format=json), and a page that reads it.
    path("auth/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", views.ApiDocsView.as_view(), name="api-docs"),
    path("auth/", include("django_jwt_email.urls")),
    path("admin/", admin.site.urls),
]
# DEBUG only (empty otherwise): static files under any server, runserver or gunicorn.
urlpatterns += staticfiles_urlpatterns()
