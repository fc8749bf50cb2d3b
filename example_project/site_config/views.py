"""The example site's pages: home, sign-in, the dev outbox, and one API endpoint.

The sign-in forms post straight to the app's endpoints (``auth/request/`` and
``auth/verify/``), so the app's rate limits and audit log apply to them as to
any API client; these views only render pages.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_jwt_email.authentication import JWTEmailAuthentication

from .outbox import read_outbox


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "site/home.html")


@never_cache
def signin(request: HttpRequest) -> HttpResponse:
    """The email form (a link by email) and the code form (the code of that email)."""
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    return render(request, "site/signin.html", {"next": next_url})


@never_cache
def outbox(request: HttpRequest) -> HttpResponse:
    """The emails the file backend wrote, newest first: a development aid only."""
    if not settings.DEBUG:
        raise Http404("The outbox exists only in DEBUG.")
    directory = getattr(settings, "OUTBOX_DIR", "")
    messages = read_outbox(directory) if directory else []
    return render(request, "site/outbox.html", {"messages": messages, "directory": directory})


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class MeView(APIView):
    """GET api/me/: who the Bearer access token belongs to."""

    authentication_classes = [JWTEmailAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response({"id": request.user.pk, "email": request.user.email})
