"""HTTP views: parse input, call ``services``, map domain errors to responses.

No token or database logic of their own. Every response that carries or consumes
a token is ``no_store`` (see ``http``). A dependency that is down (the database,
the queue broker) is answered 503 with ``Retry-After``, the same for every
address: never a 500, never a different answer for a known address. Every
``detail`` is in the active language (``LocaleMiddleware`` picks it); every
``code`` stays as documented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import logout
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_protect
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.fields import DictField, ListField
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import serializers, services
from .adapter import get_adapter
from .authentication import JWTEmailAuthentication
from .conf import app_settings
from .exceptions import BrowserMismatch, CodeInvalid, TokenError
from .http import (
    BINDING_COOKIE,
    as_unavailable,
    bind_browser,
    clear_refresh_cookie,
    client_of,
    cookie_refresh_token,
    csrf_failure,
    form_page,
    no_store,
    refresh_in_cookie,
    safe_next,
    set_refresh_cookie,
    unavailable_page,
)
from .keys import public_jwks

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = [
    "CodeView",
    "JWKSView",
    "LogoutAllView",
    "LogoutView",
    "RefreshView",
    "RequestView",
    "RevokeView",
    "TokenView",
    "VerifyView",
]


def _described_by_spectacular() -> bool:
    """Whether the site builds its OpenAPI schema with drf-spectacular (optional).

    ``extend_schema`` bakes the site's DEFAULT_SCHEMA_CLASS into each view when
    it is applied; under DRF's own AutoSchema that class breaks DRF's schema
    generation, so the views are described only for drf-spectacular.
    """
    try:
        from drf_spectacular.openapi import AutoSchema
    except ImportError:
        return False
    from rest_framework.settings import api_settings

    schema_class = api_settings.DEFAULT_SCHEMA_CLASS
    return isinstance(schema_class, type) and issubclass(schema_class, AutoSchema)


if _described_by_spectacular():
    from drf_spectacular.utils import extend_schema, inline_serializer
else:  # without drf-spectacular the decorators change nothing

    def extend_schema(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        return lambda function: function

    def inline_serializer(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        return None


# The error answers every JSON endpoint may give, for the OpenAPI schema: 400 bad
# input or token, 413 body too large, 415 media type, 429 rate limited.
ERROR_RESPONSES = {
    status_code: serializers.DetailSerializer for status_code in (400, 413, 415, 429)
}
PAIR_RESPONSES = {200: serializers.PairSerializer, **ERROR_RESPONSES}
LOGOUT_RESPONSES = {
    204: None,
    401: serializers.DetailSerializer,
    403: serializers.DetailSerializer,
}
REQUEST_DETAIL = _(
    "If an account exists for this address, a sign-in link is on its way. Check your inbox."
)


def error(detail: StrOrPromise, code: str, status_code: int = 400) -> Response:
    return Response({"detail": detail, "code": code}, status=status_code)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, but a body nested too deep to parse is a 400, not a 500.

    DRF turns a ValueError into a ParseError but lets the RecursionError of a
    few kilobytes of ``[[[[`` through: anyone could make the app answer 500.
    """

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(gettext("JSON parse error - nested too deeply.")) from None


class JSONView(APIView):
    """Base of the JSON endpoints: JSON or form in, JSON out, ``{"detail", "code"}``
    errors, no site-wide authentication or throttling (they need none)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    parser_classes = [BoundedJSONParser, FormParser]
    renderer_classes = [JSONRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RequestDataTooBig):
            return error(gettext("The request body is too large."), "request_too_large", 413)
        unavailable = as_unavailable(exc)
        if unavailable is not None:
            response = error(str(unavailable.detail), unavailable.code, 503)
            response["Retry-After"] = str(unavailable.retry_after)
            return response
        response = super().handle_exception(exc)
        if isinstance(exc, exceptions.APIException) and not (
            isinstance(response.data, dict) and "code" in response.data
        ):
            codes_ = exc.get_codes()
            code = codes_ if isinstance(codes_, str) else "invalid_request"
            response.data = {"detail": _first_message(exc.detail), "code": code}
        return response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        no_store(response)
        return response

    def validated(self, serializer_class: type[Any], request: Request) -> dict[str, Any]:
        if not isinstance(request.data, dict):
            raise exceptions.ParseError(gettext("Send a JSON object or a form."))
        serializer = serializer_class(data=request.data)
        if not serializer.is_valid():
            field, messages = next(iter(serializer.errors.items()))
            code = "invalid_email" if field == "email" else "invalid_request"
            detail = f"{field}: {_first_message(messages)}"
            raise exceptions.ValidationError({"detail": detail, "code": code})
        data: dict[str, Any] = serializer.validated_data
        return data


def pair_response(request: Request, pair: services.Pair, *, cookie: bool) -> Response:
    """The pair in the body, or (cookie transport) all but its refresh token, which
    goes in the HttpOnly cookie."""
    body = pair.as_dict()
    if not cookie:
        return Response(body)
    refresh = body.pop("refresh")
    response = Response(body)
    set_refresh_cookie(request._request, response, refresh, body["refresh_expires_in"])
    return response


def signed_out(request: Request) -> Response:
    """204, and the refresh cookie cleared (its session is revoked already)."""
    response = Response(status=status.HTTP_204_NO_CONTENT)
    clear_refresh_cookie(request._request, response)
    return response


def _first_message(detail: Any) -> str:
    while isinstance(detail, (list, dict)):
        detail = next(iter(detail.values() if isinstance(detail, dict) else detail), "")
    return str(detail)


class RequestView(JSONView):
    """POST auth/request/: email a sign-in link. The same 202 for every address.

    JSON for API clients; a browser's form post (``Accept: text/html``, as from
    the "ask for a new link" form of the verify page) gets a page instead.
    """

    renderer_classes = [JSONRenderer, TemplateHTMLRenderer]
    # A form may be posted multipart too (Django's test client does so by default).
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]
    template_name = "django_jwt_email/request_done.html"

    @extend_schema(
        request=serializers.RequestSerializer,
        responses={
            202: serializers.DetailSerializer,
            503: serializers.DetailSerializer,
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        try:
            data = self.validated(serializers.RequestSerializer, request)
        except exceptions.ValidationError as exc:
            return Response(exc.detail, status=status.HTTP_400_BAD_REQUEST)
        response = Response({"detail": REQUEST_DETAIL}, status=status.HTTP_202_ACCEPTED)
        browser_hash = bind_browser(request, response) if app_settings.BIND_TO_BROWSER else ""
        # A queue or database that is down raises Unavailable: ``handle_exception``
        # answers 503, the same for every address (nothing was looked up yet).
        services.request_link(
            data["email"],
            next_url=safe_next(request, data["next"]),
            client=client_of(request),
            browser_hash=browser_hash,
        )
        return response


class TokenView(JSONView):
    """POST auth/token/: redeem a login link for an access/refresh pair."""

    @extend_schema(request=serializers.SignInSerializer, responses=PAIR_RESPONSES)
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.SignInSerializer, request)
        try:
            pair = services.sign_in_pair(
                data["token"],
                client=client_of(request),
                browser_verifier=request.COOKIES.get(BINDING_COOKIE),
                request=request._request,
            )
        except TokenError as exc:
            return error(exc.detail, exc.code)
        return pair_response(request, pair, cookie=refresh_in_cookie(data["transport"]))


class CodeView(JSONView):
    """POST auth/code/: redeem the short code of a sign-in email for a pair."""

    @extend_schema(request=serializers.CodeSerializer, responses=PAIR_RESPONSES)
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.CodeSerializer, request)
        try:
            pair = services.code_pair(
                data["email"],
                data["code"],
                client=client_of(request),
                browser_verifier=request.COOKIES.get(BINDING_COOKIE),
                request=request._request,
            )
        except (CodeInvalid, BrowserMismatch) as exc:
            # CodeInvalid is the one answer for an unknown address, a wrong code and
            # a locked link; BrowserMismatch, the right code of a link bound to
            # another browser (only who holds the code can get it).
            return error(exc.detail, exc.code)
        return pair_response(request, pair, cookie=refresh_in_cookie(data["transport"]))


class RefreshView(JSONView):
    """POST auth/token/refresh/: rotate a refresh token into a new pair.

    The token of the body, else (cookie transport) the refresh cookie's: a cookie
    the browser sends by itself, so such a request must pass Django's CSRF check.
    """

    @extend_schema(
        request=serializers.RefreshSerializer,
        responses={**PAIR_RESPONSES, 403: serializers.DetailSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.RefreshSerializer, request)
        token = data.get("refresh", "")
        cookie_borne = not token and bool(cookie_refresh_token(request._request))
        if cookie_borne:
            reason = csrf_failure(request._request)
            if reason is not None:
                return error(_("CSRF Failed: %(reason)s") % {"reason": reason}, "csrf_failed", 403)
            token = cookie_refresh_token(request._request)
        elif not token:
            return error(_("refresh: This field is required."), "invalid_request")
        try:
            pair = services.refresh(token, client=client_of(request))
        except TokenError as exc:
            response = error(exc.detail, exc.code)
            if cookie_borne:  # a dead cookie: the browser need not send it again
                clear_refresh_cookie(request._request, response)
            return response
        cookie = refresh_in_cookie(data["transport"], cookie_borne=cookie_borne)
        return pair_response(request, pair, cookie=cookie)


class RevokeView(JSONView):
    """POST auth/token/revoke/: RFC 7009, so 200 also for unknown or invalid tokens."""

    @extend_schema(
        request=serializers.TokenSerializer,
        responses={200: inline_serializer("Revoked", fields={}), **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.TokenSerializer, request)
        services.revoke_token(data["token"], client=client_of(request))
        response = Response({})
        clear_refresh_cookie(request._request, response)
        return response


class LogoutView(JSONView):
    """POST auth/logout/: end the current session (the Bearer's ``sid``, or the
    browser's Django session)."""

    authentication_classes = [JWTEmailAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    # The body is not read, but a browser's logout form may be multipart, and
    # the CSRF check of a session reads it: it must parse rather than give 415.
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]

    @extend_schema(request=None, responses=LOGOUT_RESPONSES)
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, dict):
            services.revoke_session(
                request.auth["sid"], reason="logout", client=client_of(request)
            )
        else:
            logout(request._request)  # the browser's session row goes with it (receivers)
        return signed_out(request)


class LogoutAllView(LogoutView):
    """POST auth/logout/all/: revoke every token of the user (sign out everywhere)."""

    @extend_schema(request=None, responses=LOGOUT_RESPONSES)
    def post(self, request: Request) -> Response:
        services.logout_all(request.user, client=client_of(request))
        if not isinstance(request.auth, dict):
            logout(request._request)
        return signed_out(request)


class JWKSView(APIView):
    """GET auth/.well-known/jwks.json: the public keys, for other services."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    renderer_classes = [JSONRenderer]

    @extend_schema(
        responses={200: inline_serializer("JWKS", fields={"keys": ListField(child=DictField())})}
    )
    def get(self, request: Request) -> Response:
        response = Response(public_jwks())
        patch_cache_control(response, public=True, max_age=300)
        return response


@method_decorator(csrf_protect, name="dispatch")
# Never framed, whatever the site's middleware: a hostile page framing the Sign in
# button of its own link would sign the visitor into the attacker's account.
@method_decorator(xframe_options_deny, name="dispatch")
class VerifyView(View):
    """GET auth/verify/?token=: a page with a Sign in button (consumes nothing,
    since mail scanners prefetch links). POST: consume, sign in, redirect."""

    template_name = "django_jwt_email/verify.html"
    invalid_template_name = "django_jwt_email/verify_invalid.html"
    other_browser_template_name = "django_jwt_email/verify_other_browser.html"
    code_invalid_template_name = "django_jwt_email/code_invalid.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return super().dispatch(request, *args, **kwargs)
        except Exception as exc:
            unavailable = as_unavailable(exc)
            if unavailable is None:
                raise
            return unavailable_page(request, unavailable)

    def get(self, request: HttpRequest) -> HttpResponse:
        token = request.GET.get("token", "")
        try:
            services.check_login(token)
        except TokenError as exc:
            return self.invalid(request, exc)
        context = {"token": token, "next": request.GET.get("next", "")}
        return form_page(request, self.template_name, context)

    def post(self, request: HttpRequest) -> HttpResponse:
        """Sign in with the link's ``token``, or with ``email`` and ``code`` (the
        short code of the same email, typed on another device)."""
        client = client_of(request)
        verifier = request.COOKIES.get(BINDING_COOKIE)
        try:
            if "code" in request.POST:
                signed_in = services.redeem_code(
                    request.POST.get("email", ""),
                    request.POST["code"],
                    client=client,
                    browser_verifier=verifier,
                )
            else:
                signed_in = services.redeem_login(
                    request.POST.get("token", ""), client=client, browser_verifier=verifier
                )
        except BrowserMismatch as exc:
            context = {"code": exc.sign_in_code}
            return no_store(render(request, self.other_browser_template_name, context))
        except CodeInvalid as exc:
            return self.code_invalid(request, exc)
        except TokenError as exc:
            return self.invalid(request, exc)
        services.sign_in_browser(request, signed_in, client=client)
        target = safe_next(request, request.POST.get("next", ""), signed_in.next_url)
        if not target:
            target = get_adapter().login_redirect_url(request, signed_in.user)
        return no_store(HttpResponseRedirect(target))

    def invalid(self, request: HttpRequest, exc: TokenError) -> HttpResponse:
        context = {"detail": exc.detail, "code": exc.code}
        return no_store(render(request, self.invalid_template_name, context, status=400))

    def code_invalid(self, request: HttpRequest, exc: CodeInvalid) -> HttpResponse:
        """The code form again (a typo need not cost a new email), with the one
        answer for an unknown address, a wrong code and a locked link."""
        context = {
            "detail": exc.detail,
            "code": exc.code,
            "email": request.POST.get("email", "")[:254],
            "next": safe_next(request, request.POST.get("next", "")),
        }
        return form_page(request, self.code_invalid_template_name, context, status=400)
