"""The sign-in email: the link (from LINK_BASE_URL only), the templates and their
context, and what the message must never contain."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.utils import timezone

from django_jwt_email import addresses, emails
from django_jwt_email.exceptions import ConfigurationError
from django_jwt_email.models import IssuedToken, TokenEvent
from tests.conftest import SilentServer, answer


def message(**overrides):
    fields = {
        "to": "alice@example.com",
        "link": "https://app.example.com/auth/verify/?token=abc",
        "token": "abc",
        "code": "ABCD-EFGH",
        "expires_at": datetime(2030, 1, 2, 3, 14, tzinfo=dt_timezone.utc),
        "expires_minutes": 10,
        "requested_at": datetime(2030, 1, 2, 3, 4, tzinfo=dt_timezone.utc),
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
        "signup": False,
    }
    return emails.LoginEmail(**{**fields, **overrides})


# --- the link -----------------------------------------------------------------------


def test_link_is_built_from_link_base_url(settings):
    settings.JWT_EMAIL_LINK_BASE_URL = "https://accounts.example.net/"
    assert emails.build_link("a.b.c") == "https://accounts.example.net/auth/verify/?token=a.b.c"


def test_link_quotes_the_token(settings):
    assert emails.build_link("a+b/c=") == (
        "https://app.example.com/auth/verify/?token=a%2Bb%2Fc%3D"
    )


@pytest.mark.parametrize(
    "base", ["", "app.example.com", "ftp://app.example.com", "https://", "//app.example.com"]
)
def test_link_base_url_must_be_an_absolute_http_url(base, settings):
    settings.JWT_EMAIL_LINK_BASE_URL = base
    with pytest.raises(ConfigurationError):
        emails.build_link("t")


def test_link_must_be_https_unless_debug(settings):
    settings.JWT_EMAIL_LINK_BASE_URL = "http://app.example.com"
    with pytest.raises(ConfigurationError):
        emails.build_link("t")
    settings.DEBUG = True
    assert emails.build_link("t").startswith("http://app.example.com/")


# --- the message --------------------------------------------------------------------


def test_message_carries_link_code_expiry_site_time_ip_and_browser(settings):
    emails.send_login_email(message())
    (sent,) = mail.outbox
    html = sent.alternatives[0][0]
    assert sent.to == ["alice@example.com"]
    assert sent.subject == "Sign in to app.example.com"
    for body in (sent.body, html):
        assert "https://app.example.com/auth/verify/?token=abc" in body
        assert "ABCD-EFGH" in body
        assert "expire in 10 minutes" in body
        assert "Requested: Jan. 2, 2030, 3:04 a.m. UTC" in body
        assert "IP address: 203.0.113.9" in body
        assert "Browser: Edge on Windows" in body


def test_request_time_is_shown_in_the_sites_time_zone(settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    emails.send_login_email(message())
    assert "Requested: Jan. 2, 2030, 12:04 p.m. JST" in mail.outbox[0].body


def test_request_time_ignores_a_time_zone_the_request_activated(settings):
    # A site may activate each visitor's zone; the recipient need not be that visitor.
    with timezone.override("America/New_York"):
        emails.send_login_email(message())
    assert "Requested: Jan. 2, 2030, 3:04 a.m. UTC" in mail.outbox[0].body


def test_one_minute_is_singular():
    emails.send_login_email(message(expires_minutes=1))
    assert "expire in 1 minute." in mail.outbox[0].body


def test_sign_up_message_says_so(settings):
    emails.send_login_email(message(signup=True))
    assert mail.outbox[0].subject == "Create your account on app.example.com"
    assert "create your account and sign in" in mail.outbox[0].body


def test_html_part_escapes_what_the_client_sent():
    emails.send_login_email(message(user_agent="<script>alert(1)</script>"))
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_unknown_user_agent_is_shown_truncated():
    emails.send_login_email(message(user_agent="SomeBot/" + "x" * 200))
    body = mail.outbox[0].body
    assert "Browser: SomeBot/xxx" in body
    assert "x" * 100 not in body


def test_templates_are_settings_and_get_the_documented_context(settings):
    settings.JWT_EMAIL_EMAIL_TEXT_TEMPLATE = "testapp/email.txt"
    settings.JWT_EMAIL_EMAIL_HTML_TEMPLATE = ""
    emails.send_login_email(message())
    (sent,) = mail.outbox
    assert sent.alternatives == []
    assert sent.body.strip() == "|".join(
        [
            "app.example.com",
            "https://app.example.com/auth/verify/?token=abc",
            "ABCD-EFGH",
            "10",
            "2030-01-02T03:14:00+00:00",
            "2030-01-02T03:04:00+00:00",
            "203.0.113.9",
            "Edge on Windows",
            message().user_agent,
            "False",
            "alice@example.com",
            "abc",  # the raw token, for a template that builds a link of its own
        ]
    )


def test_a_multi_line_subject_template_cannot_add_headers(settings):
    settings.JWT_EMAIL_EMAIL_SUBJECT_TEMPLATE = "testapp/email_subject.txt"
    emails.send_login_email(message())
    (sent,) = mail.outbox
    assert sent.subject == "Your link Bcc: victim@example.com"
    assert sent.bcc == []
    assert "\nBcc:" not in sent.message().as_string()


def test_backend_errors_reach_the_caller(settings):
    settings.EMAIL_BACKEND = "tests.testapp.mail.FailingEmailBackend"
    from smtplib import SMTPException

    with pytest.raises(SMTPException):
        emails.send_login_email(message())


@pytest.mark.parametrize(
    "user_agent,expected",
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1",
            "Chrome on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0",
            "Opera on Windows",
        ),
        ("curl/8.5.0", "curl"),
        ("", ""),
        ("SomeBot/1.0", ""),
    ],
)
def test_describe_browser(user_agent, expected):
    assert emails.describe_browser(user_agent) == expected


def test_expiry_minutes_follow_the_login_ttl(settings, user, request_link, mailoutbox):
    settings.JWT_EMAIL_LOGIN_TOKEN_TTL = timedelta(minutes=3)
    request_link(user.email)
    assert "expire in 3 minutes" in mailoutbox[0].body


# --- the connection's timeout, and a mail server that never answers -----------------

SMTP = "django.core.mail.backends.smtp.EmailBackend"
# Django 6.1 configures mail backends as named mailers (MAILERS); before, EMAIL_*.
HAS_MAILERS = hasattr(mail, "mailers")


@pytest.fixture
def smtp(settings):
    """Django's SMTP backend with no timeout of its own."""
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_TIMEOUT = None
    return settings


def test_email_timeout_applies_where_the_backend_sets_none(smtp):
    assert emails.connection().timeout == 10
    smtp.JWT_EMAIL_EMAIL_TIMEOUT = 2.5
    assert emails.connection().timeout == 2.5


def test_the_backends_own_email_timeout_wins(smtp):
    smtp.EMAIL_TIMEOUT = 30
    assert emails.connection().timeout == 30


def test_email_timeout_none_leaves_the_backend_as_configured(smtp):
    smtp.JWT_EMAIL_EMAIL_TIMEOUT = None
    assert emails.connection().timeout is None


def test_a_backend_without_a_timeout_option_gets_none(settings):
    # locmem, console, an email provider's API client: no socket of theirs to bound.
    assert not hasattr(emails.connection(), "timeout")


@pytest.mark.skipif(not HAS_MAILERS, reason="MAILERS is Django 6.1+")
def test_the_default_mailers_own_timeout_wins(settings):
    settings.MAILERS = {
        "default": {"BACKEND": SMTP, "OPTIONS": {"host": "127.0.0.1", "timeout": 30}}
    }
    assert emails.connection().timeout == 30


@pytest.mark.skipif(not HAS_MAILERS, reason="MAILERS is Django 6.1+")
def test_email_timeout_applies_to_a_default_mailer_without_one(settings):
    settings.MAILERS = {"default": {"BACKEND": SMTP, "OPTIONS": {"host": "127.0.0.1"}}}
    assert emails.connection().timeout == 10


def test_a_mail_server_that_never_answers_times_out(smtp, silent_server):
    smtp.EMAIL_PORT = silent_server.port
    smtp.JWT_EMAIL_EMAIL_TIMEOUT = 0.5
    with pytest.raises(TimeoutError):
        emails.send_login_email(message())
    assert silent_server.hung_up == 0  # the client gave up on its own


def test_a_mail_server_that_hangs_up_is_a_disconnection_not_a_timeout(smtp):
    """Only a server that stopped answering is reported as a timeout; one that hung
    up keeps smtplib's own error, so the audit log tells the two apart."""
    hanging_up = SilentServer(hold=0.2)
    smtp.EMAIL_PORT = hanging_up.port
    smtp.JWT_EMAIL_EMAIL_TIMEOUT = 5
    try:
        with pytest.raises(SMTPServerDisconnected):
            emails.send_login_email(message())
    finally:
        hanging_up.close()
    assert hanging_up.hung_up == 1


@pytest.mark.django_db
def test_a_hung_mail_server_is_email_failed_and_the_answer_stays_the_same(
    smtp, silent_server, user, api_client
):
    """Inline sender, a mail server that accepts and never answers: the known address
    gets the unknown one's answer, and the timeout is recorded as email_failed."""
    smtp.EMAIL_PORT = silent_server.port
    smtp.JWT_EMAIL_EMAIL_TIMEOUT = 0.5
    known = api_client.post("/auth/request/", {"email": user.email}, format="json")
    unknown = api_client.post("/auth/request/", {"email": "nobody@example.com"}, format="json")

    assert known.status_code == unknown.status_code == 202
    assert answer(known) == answer(unknown)
    (issued,) = IssuedToken.objects.all()
    assert issued.email_hash == addresses.keyed_hash(user.email)
    events = TokenEvent.objects.order_by("pk").values_list("event", "reason", "jti", "user")
    assert list(events) == [
        ("issued", "", issued.jti, user.pk),
        ("email_failed", "TimeoutError", issued.jti, user.pk),
    ]
    assert silent_server.hung_up == 0
