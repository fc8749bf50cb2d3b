"""Input shapes of the JSON endpoints (DRF serializers); no token or database logic."""

from __future__ import annotations

from rest_framework import serializers


class RequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    next = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=100_000, trim_whitespace=True)


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=100_000, trim_whitespace=True)


class CodeSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    code = serializers.CharField(max_length=64)


class PairSerializer(serializers.Serializer):
    """The answer of auth/token/, auth/code/ and auth/token/refresh/ (for the schema)."""

    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    refresh_expires_in = serializers.IntegerField()


class DetailSerializer(serializers.Serializer):
    """Every error body, and the body of auth/request/: ``{"detail", "code"}``."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False)
