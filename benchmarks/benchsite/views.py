"""The one view every server measures, behind different authentication classes."""

from typing import Any, ClassVar

from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import (
    JWTAuthentication,
    JWTStatelessUserAuthentication,
)

from django_jwt_email.authentication import JWTEmailAuthentication


class FloorView(APIView):
    """No authentication at all: the cost of Django, DRF and the server."""

    authentication_classes: ClassVar[list[Any]] = []
    permission_classes: ClassVar[list[Any]] = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"id": None})


class MeView(APIView):
    """``{"id": request.user.pk}`` for a Bearer access token."""

    permission_classes: ClassVar[list[Any]] = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"id": request.user.pk})


class JWTEmailMeView(MeView):
    authentication_classes: ClassVar[list[Any]] = [JWTEmailAuthentication]


class SimpleJWTMeView(MeView):
    authentication_classes: ClassVar[list[Any]] = [JWTAuthentication]


class SimpleJWTStatelessMeView(MeView):
    authentication_classes: ClassVar[list[Any]] = [JWTStatelessUserAuthentication]
