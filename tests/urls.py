from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from tests.testapp import views
from tests.testapp.ninja_api import api as ninja_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("auth/", include("django_jwt_email.urls")),
    path("api/me/", views.MeView.as_view()),
    path("api/pk/", views.PkOnlyView.as_view()),
    path("api/admin-only/", views.AdminScopeView.as_view()),
    path("ninja/", ninja_api.urls),
    path("home/", lambda request: HttpResponse(f"home {request.user}")),
    path("account/email/", views.change_email),
    path("email-link/", views.email_link, name="email_link"),
]
