"""The example site's pages: home, sign-in, the single-page app, the dev outbox, and
one API endpoint.

The sign-in forms post straight to the app's endpoints (``auth/request/`` and
``auth/verify/``), so the app's rate limits and audit log apply to them as to
any API client; these views only render pages.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_jwt_email.authentication import JWTEmailAuthentication
from django_jwt_email.http import FORM_PAGE_REFERRER_POLICY

from .outbox import read_outbox

FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.ico"


def form_page(
    request: HttpRequest, template_name: str, context: dict[str, object] | None = None
) -> HttpResponse:
    """A page holding a form that posts to a CSRF-protected view (sign out, the code).

    Under the base template's default ``no-referrer`` a browser posts such a form
    with ``Origin: null``, which Django's CSRF check refuses (403). ``strict-origin``
    sends the origin only, never a path, so no token in a URL can leak through it.
    """
    context = {**(context or {}), "referrer_policy": FORM_PAGE_REFERRER_POLICY}
    response = render(request, template_name, context)
    response["Referrer-Policy"] = FORM_PAGE_REFERRER_POLICY
    return response


def home(request: HttpRequest) -> HttpResponse:
    """Who is signed in, with the Sign out form; and how to try the API."""
    return form_page(request, "site/home.html")


@never_cache
def signin(request: HttpRequest) -> HttpResponse:
    """The email form (a link by email) and the code form (the code of that email)."""
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    return form_page(request, "site/signin.html", {"next": next_url})


@never_cache
@ensure_csrf_cookie
def spa(request: HttpRequest) -> HttpResponse:
    """The single-page app (``static/spa/app.js``): link, cookie transport, API, refresh.

    Its script posts to the refresh endpoint with the CSRF cookie's token, so the
    cookie must exist before any form (``ensure_csrf_cookie``); and its policy is
    ``strict-origin``, since a same-origin fetch() under ``no-referrer`` sends
    ``Origin: null`` too.
    """
    urls = {
        name: reverse(f"django_jwt_email:{name}")
        for name in ("request", "token", "refresh", "logout")
    }
    return form_page(request, "site/spa.html", {"urls": {**urls, "me": reverse("me")}})


@never_cache
def outbox(request: HttpRequest) -> HttpResponse:
    """The emails the file backend wrote, newest first: a development aid only."""
    if not settings.DEBUG:
        raise Http404("The outbox exists only in DEBUG.")
    directory = getattr(settings, "OUTBOX_DIR", "")
    messages = read_outbox(directory) if directory else []
    return render(request, "site/outbox.html", {"messages": messages, "directory": directory})


@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest) -> FileResponse:
    """/favicon.ico, which browsers ask for on every page (the admin's included)."""
    return FileResponse(FAVICON.open("rb"), content_type="image/x-icon")


class ApiDocsView(SpectacularRedocView):
    """api/docs/: the OpenAPI schema, readable (Redoc, served by this site).

    The policy keeps the page to this site: Redoc's only outside fetch, the
    Redocly logo of its footer, is never made (the page works offline).
    """

    url_name = "schema"
    content_security_policy = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:"
    )

    def finalize_response(
        self, request: Request, response: Response, *args: object, **kwargs: object
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = self.content_security_policy
        return response


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
