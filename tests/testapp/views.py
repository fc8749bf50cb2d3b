from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from django_jwt_email.authentication import JWTEmailAuthentication
from django_jwt_email.http import client_of
from django_jwt_email.permissions import HasScope
from django_jwt_email.services import request_link


class MeView(APIView):
    authentication_classes = [JWTEmailAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"id": request.user.pk, "email": request.user.email})


class PkOnlyView(APIView):
    """Reads only request.user.pk: must not need the user row."""

    authentication_classes = [JWTEmailAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"id": request.user.pk})


class AdminScopeView(APIView):
    authentication_classes = [JWTEmailAuthentication]
    permission_classes = [HasScope]
    required_scopes = ["admin"]

    def get(self, request):
        return Response({"ok": True})


@require_POST
def change_email(request: HttpRequest) -> HttpResponse:
    """A site's own "change my address" page, as a signed-in browser posts it."""
    request.user.email = request.POST["email"]
    request.user.save()
    return HttpResponse("changed")


@require_POST
def email_link(request: HttpRequest) -> HttpResponse:
    """A site's own view that emails a sign-in link (as a marketing page might)."""
    request_link(request.POST["email"], client=client_of(request))
    return HttpResponse("sent")
