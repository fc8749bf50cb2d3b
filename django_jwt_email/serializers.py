"""Input shapes of the JSON endpoints (DRF serializers); no token or database logic."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .http import offered_transports

__all__ = [
    "AddressField",
    "CodeSerializer",
    "DetailSerializer",
    "PairSerializer",
    "RefreshSerializer",
    "RequestSerializer",
    "TokenSerializer",
]

# Legal in a quoted local part ("a,b"@example.com) yet a list separator or a
# quote in a header: refused, since no real sign-in address needs them.
UNSAFE_IN_ADDRESS = frozenset('",;<>()[]\\')


class AddressField(serializers.EmailField):
    """An email address that is one plain mailbox: no quoting, no list, no control
    or space character anywhere (header injection: "a@b.com\\r\\nBcc: ...")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value: str = super().to_internal_value(data)
        if any(ch in UNSAFE_IN_ADDRESS or _is_control_or_space(ch) for ch in value):
            self.fail("invalid")
        return value


def _is_control_or_space(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "CZ"


class RequestSerializer(serializers.Serializer):
    email = AddressField()
    next = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class TransportField(serializers.ChoiceField):
    """``"transport"``: where the pair's refresh token goes, ``"body"`` or ``"cookie"``;
    only what JWT_EMAIL_TOKEN_TRANSPORT offers. Absent: the site's default."""

    default_error_messages = {"not_offered": _("This site does not offer the {value} transport.")}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=["body", "cookie"], required=False, default="", **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value: str = super().to_internal_value(data)
        if value not in offered_transports():
            self.fail("not_offered", value=value)
        return value


# No max_length on tokens: tokens.decode refuses one over MAX_TOKEN_LENGTH before
# parsing it, and records why (an over-long token is an attack worth seeing).
class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(trim_whitespace=True)


class SignInSerializer(TokenSerializer):
    """auth/token/: a login token, and where the refresh token is to go."""

    transport = TransportField()


class RefreshSerializer(serializers.Serializer):
    # Not required: under the cookie transport the refresh token is the cookie's.
    refresh = serializers.CharField(trim_whitespace=True, required=False)
    transport = TransportField()


class CodeSerializer(serializers.Serializer):
    email = AddressField()
    code = serializers.CharField(max_length=64)
    transport = TransportField()


class PairSerializer(serializers.Serializer):
    """The answer of auth/token/, auth/code/ and auth/token/refresh/ (for the schema)."""

    access = serializers.CharField()
    refresh = serializers.CharField(
        required=False,
        help_text="Absent under the cookie transport: the refresh token is then the "
        "HttpOnly cookie jwt_email_refresh.",
    )
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    refresh_expires_in = serializers.IntegerField()


class DetailSerializer(serializers.Serializer):
    """Every error body, and the body of auth/request/: ``{"detail", "code"}``."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False)
