"""The sign-in email: build the link, render the templates, hand the message to
Django's email backend. No database and no token logic here.

The link's scheme and host come from LINK_BASE_URL only, never from the
request's Host header, so a forged Host cannot point a real link elsewhere. The
message leaves through a connection with a timeout (EMAIL_TIMEOUT), so a mail
server that accepts and never answers cannot hold a request or a worker forever.
It is rendered in the message's language and shows times in the site's time zone,
whichever language and zone the process (a worker's, say) has active.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from smtplib import SMTPServerDisconnected
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from .conf import PREFIX, app_settings
from .exceptions import ConfigurationError

__all__ = [
    "LoginEmail",
    "build_link",
    "connection",
    "describe_browser",
    "link_base_url",
    "send_login_email",
]


def link_base_url() -> str:
    """LINK_BASE_URL without its trailing slash; ConfigurationError if it is not an
    absolute http(s) URL, or not https without DEBUG."""
    base: str = (app_settings.LINK_BASE_URL or "").rstrip("/")
    scheme = urlsplit(base).scheme
    if not base or scheme not in ("http", "https") or not urlsplit(base).netloc:
        raise ConfigurationError(
            "link_base_url", f"{PREFIX}LINK_BASE_URL must be set, e.g. 'https://example.com'."
        )
    if scheme != "https" and not settings.DEBUG:
        raise ConfigurationError("link_base_url", f"{PREFIX}LINK_BASE_URL must be https.")
    return base


def build_link(token: str) -> str:
    """The verify page's URL carrying ``token``."""
    path = reverse("django_jwt_email:verify")
    return f"{link_base_url()}{path}?{urlencode({'token': token})}"


# (marker in the User-Agent, name), most specific first: Edge and Opera say
# "Chrome" too, and Chrome says "Safari".
BROWSERS = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
]
SYSTEMS = [
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
]


def describe_browser(user_agent: str) -> str:
    """A short human name for a User-Agent, "Firefox on Linux", or "" if unknown.

    Shown in the email so the owner can tell whether the request was theirs; it is
    the client's own claim, so it only ever informs, never decides anything.
    """
    browser = next((name for mark, name in BROWSERS if mark in user_agent), "")
    system = next((name for mark, name in SYSTEMS if mark in user_agent), "")
    if browser and system:
        # Translators: a web browser and an operating system, "Firefox on Linux".
        return gettext("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system


@dataclass(frozen=True)
class LoginEmail:
    """What the sign-in email says; ``context()`` is the templates' context."""

    to: str
    link: str
    # The raw login token, for a template that builds its own link (a front end's).
    token: str
    code: str
    expires_at: datetime
    expires_minutes: int
    requested_at: datetime | None
    ip: str | None
    user_agent: str
    signup: bool
    # The language to write it in (a code of LANGUAGES); "" for LANGUAGE_CODE.
    language: str = ""

    def context(self) -> dict[str, Any]:
        return {
            "link": self.link,
            "token": self.token,
            "browser": describe_browser(self.user_agent),
            "code": self.code,
            "expires_at": self.expires_at,
            "expires_minutes": self.expires_minutes,
            "site_name": urlsplit(link_base_url()).hostname,
            "requested_at": self.requested_at,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "signup": self.signup,
            "email": self.to,
        }


def send_login_email(message: LoginEmail) -> None:
    """Render and send; exceptions of the email backend propagate to the caller."""
    with translation.override(message.language or settings.LANGUAGE_CODE):
        email = render(message)
    # What EmailMessage.send() does, through a connection of our own (Django 6.1
    # deprecates passing one to the message).
    try:
        connection().send_messages([email])
    except SMTPServerDisconnected as exc:
        # smtplib reports a server that stopped answering as a disconnection; the
        # audit log should say what happened.
        if isinstance(exc.__context__, TimeoutError):
            raise TimeoutError(f"The mail server did not answer: {exc}") from exc
        raise


def render(message: LoginEmail) -> EmailMultiAlternatives:
    """The message, in the active language and the site's time zone (TIME_ZONE):
    a worker has no request to take them from, and a request may have activated
    the visitor's zone, which the recipient of an email need not share."""
    with timezone.override(timezone.get_default_timezone()):
        context = message.context()
        # A subject is one line: a template must not be able to inject headers.
        subject = " ".join(render_to_string(app_settings.EMAIL_SUBJECT_TEMPLATE, context).split())
        text = render_to_string(app_settings.EMAIL_TEXT_TEMPLATE, context)
        html_template = app_settings.EMAIL_HTML_TEMPLATE
        html = render_to_string(html_template, context) if html_template else ""
    # RFC 3282: the language of the message, for mail clients and screen readers.
    headers = {"Content-Language": translation.get_language()}
    email = EmailMultiAlternatives(subject, text, to=[message.to], headers=headers)
    if html:
        email.attach_alternative(html, "text/html")
    return email


def default_connection() -> Any:
    """A new connection of the site's default mail backend: Django 6.1's default
    mailer (``MAILERS``) where Django has mailers, else ``EMAIL_BACKEND``."""
    mailers = getattr(mail, "mailers", None)
    if mailers is not None:
        return mailers.default
    return mail.get_connection()


def connection() -> Any:
    """The connection that sends sign-in emails: the default one, with EMAIL_TIMEOUT
    where the backend takes a timeout and its own configuration set none.

    A backend with a ``timeout`` of None (Django's SMTP backend without
    ``EMAIL_TIMEOUT``, or a mailer without a "timeout" option) would wait on a
    hung server for ever: the request, or the worker, with it.
    """
    backend = default_connection()
    timeout = app_settings.EMAIL_TIMEOUT
    if timeout is not None and getattr(backend, "timeout", False) is None:
        backend.timeout = timeout
    return backend
