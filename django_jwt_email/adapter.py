"""The adapter: the one class a site subclasses to change a decision of the flows.

``JWT_EMAIL_ADAPTER`` names it (default ``DefaultAdapter``, which keeps the
documented behaviour). The services call it for every decision a site may change;
it calls only the layers below (accounts, emails, client information, settings),
never the services, views or models' writes of the flows. Each method is small
and documented: override one, call ``super()`` for the rest.

    # mysite/adapter.py
    class Adapter(DefaultAdapter):
        def may_receive_link(self, user, email):
            return super().may_receive_link(user, email) and email.endswith("@example.com")

    # settings.py
    JWT_EMAIL_ADAPTER = "mysite.adapter.Adapter"
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.module_loading import import_string

from . import accounts, clientinfo, emails
from .conf import PREFIX, app_settings

__all__ = ["DefaultAdapter", "get_adapter"]

RATE_LIMITED_VIEWS = {
    "django_jwt_email:request": "request_ip",
    "django_jwt_email:admin_request": "request_ip",
    "django_jwt_email:verify": "verify_ip",
    "django_jwt_email:token": "token_ip",
    "django_jwt_email:code": "code_ip",
    "django_jwt_email:refresh": "refresh_ip",
}


class DefaultAdapter:
    """Every decision a site may change, with the package's own answer."""

    # --- who gets a link ---------------------------------------------------------

    def find_user(self, email: str) -> Any:
        """The account ``email`` names, or None. Default: the one account whose email
        field matches case-insensitively (confirmed by Unicode case folding)."""
        return accounts.find_user(email)

    def may_receive_link(self, user: Any, email: str) -> bool:
        """Whether a sign-in link is sent for ``email``. ``user`` is the account
        ``find_user`` found, or None (a sign-up, sent only with CREATE_USERS)."""
        if user is not None:
            return bool(getattr(user, "is_active", True))
        # No sign-up for an address that differs from an existing account's only by
        # case or a Unicode trick (dotless i for i): it would open a look-alike.
        return bool(app_settings.CREATE_USERS) and not accounts.lookalike_exists(email)

    def create_user(self, email: str) -> Any:
        """The account of a redeemed sign-up link for ``email``, created now; None if
        it cannot be created (the redemption is then refused as ``signup_failed``)."""
        return accounts.get_or_create_account(email)

    # --- the email ---------------------------------------------------------------

    def build_link(self, token: str, next_url: str = "") -> str:
        """The URL the email carries. Default: LINK_URL with ``{token}`` filled in, else
        the verify page on LINK_BASE_URL. ``next_url`` is kept on the server (the
        link's stored row) and need not be in the link."""
        template = app_settings.LINK_URL
        if template:
            return str(template).format(token=quote(token, safe=""))
        return emails.build_link(token)

    def send_login_email(self, message: emails.LoginEmail) -> None:
        """Render and send the sign-in email. Override it to send through an email
        provider's API; raise on failure (it is recorded as ``email_failed``)."""
        emails.send_login_email(message)

    def language_for(self, user: Any, request: HttpRequest | None) -> str | None:
        """The language of ``user``'s sign-in email, or None for the language of the
        request that asked for it. A site that stores a preference returns it here.

        ``user`` is None for a sign-up link. ``request`` is None: the email is
        composed by the delivery unit (inline or in a worker), apart from the request."""
        return None

    # --- after sign-in -----------------------------------------------------------

    def login_redirect_url(self, request: HttpRequest, user: Any) -> str:
        """Where a browser goes after signing in when the link has no safe ``next``."""
        return resolve_url(settings.LOGIN_REDIRECT_URL)

    def access_claims(self, user: Any) -> dict[str, Any]:
        """Extra claims of ``user``'s access tokens, computed when a token is minted (at
        sign-in and at each refresh), never per request. Reserved names (``iss``,
        ``sub``, ``scope``...) are refused; keep it small and free of personal data."""
        return {}

    def scopes_for(self, user: Any) -> list[str]:
        """The scopes of ``user``'s access tokens, computed when a token is minted.
        Default: ACCESS_TOKEN_SCOPES."""
        return list(app_settings.ACCESS_TOKEN_SCOPES)

    # --- who is asking, and how often -------------------------------------------

    def rate_limited_views(self) -> dict[str, str]:
        """The POST views ``RateLimitMiddleware`` counts per client IP, by URL name
        (``"namespace:name"``), with their ``RATE_LIMITS`` group. A view of yours that
        emails sign-in links joins ``"request_ip"`` (so it is no second budget for
        mail bombing); one that redeems tokens joins a group of its own, and its 400
        answers count as failed verifications."""
        return dict(RATE_LIMITED_VIEWS)

    def client_ip(self, request: HttpRequest) -> str | None:
        """The client's IP, for the rate limits and the audit log. Default: the last
        entry of RATELIMIT_IP_META_KEY's header if set, else REMOTE_ADDR."""
        return clientinfo.client_ip(request)


_adapters: dict[str, DefaultAdapter] = {}


def get_adapter() -> DefaultAdapter:
    """The configured adapter (one instance per setting value, rebuilt when it changes)."""
    path: str = app_settings.ADAPTER
    adapter = _adapters.get(path)
    if adapter is None:
        adapter = _adapters[path] = import_string(path)()
    return adapter


@receiver(setting_changed)
def _reset_adapter(*, setting: str, **kwargs: Any) -> None:
    if setting == PREFIX + "ADAPTER":
        _adapters.clear()
