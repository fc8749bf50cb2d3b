"""Every page, email and API ``detail`` in the visitor's language; ``code`` never.

The suite's settings put Django's ``LocaleMiddleware`` where the README says
(after sessions, before ``RateLimitMiddleware``), so ``Accept-Language`` picks the
language as on a real site. The texts asserted are the shipped French and German
catalogs' own: a catalog that lost an entry, or a string no longer marked, fails
here as well as in ``make lint``.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.utils import translation

from django_jwt_email import services
from django_jwt_email.adapter import DefaultAdapter
from django_jwt_email.http import unavailable_page
from django_jwt_email.middleware import wait_in_words
from tests.conftest import code_of

ROOT = Path(__file__).resolve().parent.parent
HTML = "text/html,application/xhtml+xml,*/*;q=0.8"
NBSP = "\u00a0"  # French puts one before a colon
APOSTROPHE = "\u2019"  # and writes its apostrophes so

#: What each shipped catalog says, in the words a visitor reads.
TEXTS = {
    "fr": {
        "check_inbox": "<h1>Consultez votre boîte de réception</h1>",
        "request_detail": "Si un compte existe pour cette adresse, un lien de connexion est en "
        "route. Consultez votre boîte de réception.",
        "sign_in_button": '<button type="submit">Se connecter</button>',
        "verify_text": "Appuyez sur le bouton pour terminer la connexion.",
        "link_invalid": "<h1>Ce lien de connexion ne peut pas être utilisé</h1>",
        "token_invalid": f"Le jeton n{APOSTROPHE}est pas valide.",
        "new_link_button": f"M{APOSTROPHE}envoyer un nouveau lien",
        "code_invalid": "<h1>Ce code ne peut pas être utilisé</h1>",
        "code_label": "Code reçu par e-mail",
        "code_detail": f"Le code n{APOSTROPHE}est pas valide ou a expiré. "
        "Demandez un nouvel e-mail de connexion.",
        "too_many": "<h1>Trop de tentatives</h1>",
        "wait_page": "Patientez {wait}, puis réessayez.",
        "wait_json": "Trop de requêtes. Réessayez dans {wait}.",
        "units": {"second": ("seconde", "secondes"), "minute": ("minute", "minutes")},
        "bad_header": "En-tête Authorization non valide.",
        "unavailable": "Le service est momentanément indisponible. Réessayez dans quelques "
        "secondes.",
        "unavailable_page": "<h1>La connexion est momentanément indisponible</h1>",
        "subject": "Connexion à app.example.com",
        "signup_subject": "Créez votre compte sur app.example.com",
        "email_text": f"Utilisez ce lien pour vous connecter à app.example.com{NBSP}:",
        "email_html": f"Utilisez ce bouton pour vous connecter à app.example.com{NBSP}:",
        "email_expiry": f"Le lien et le code ne servent qu{APOSTROPHE}une fois et expirent "
        "dans 10 minutes.",
        "email_button": ">Se connecter</a>",
    },
    "de": {
        "check_inbox": "<h1>Sehen Sie in Ihrem Posteingang nach</h1>",
        "request_detail": "Falls für diese Adresse ein Konto besteht, ist ein Anmeldelink "
        "unterwegs. Sehen Sie in Ihrem Posteingang nach.",
        "sign_in_button": '<button type="submit">Anmelden</button>',
        "verify_text": "Klicken Sie auf die Schaltfläche, um die Anmeldung abzuschließen.",
        "link_invalid": "<h1>Dieser Anmeldelink kann nicht verwendet werden</h1>",
        "token_invalid": "Das Token ist ungültig.",
        "new_link_button": "Neuen Link per E-Mail senden",
        "code_invalid": "<h1>Dieser Code kann nicht verwendet werden</h1>",
        "code_label": "Code aus der E-Mail",
        "code_detail": "Der Code ist ungültig oder abgelaufen. Fordern Sie eine neue "
        "Anmelde-E-Mail an.",
        "too_many": "<h1>Zu viele Versuche</h1>",
        "wait_page": "Bitte warten Sie {wait} und versuchen Sie es dann erneut.",
        "wait_json": "Zu viele Anfragen. Versuchen Sie es in {wait} erneut.",
        "units": {"second": ("Sekunde", "Sekunden"), "minute": ("Minute", "Minuten")},
        "bad_header": "Ungültiger Authorization-Header.",
        "unavailable": "Der Dienst ist vorübergehend nicht verfügbar. Versuchen Sie es in ein "
        "paar Sekunden erneut.",
        "unavailable_page": "<h1>Die Anmeldung ist vorübergehend nicht verfügbar</h1>",
        "subject": "Anmeldung bei app.example.com",
        "signup_subject": "Ihr Konto bei app.example.com erstellen",
        "email_text": "Mit diesem Link melden Sie sich bei app.example.com an:",
        "email_html": "Mit dieser Schaltfläche melden Sie sich bei app.example.com an:",
        "email_expiry": "Link und Code sind nur einmal gültig und laufen in 10 Minuten ab.",
        "email_button": ">Anmelden</a>",
    },
}
LANGUAGES = pytest.mark.parametrize("language", sorted(TEXTS))

pytestmark = pytest.mark.django_db


def wait_words(language: str, seconds: int) -> str:
    """The wait as the catalog words it: rounded up, seconds under 90, else minutes."""
    second, minute = TEXTS[language]["units"]["second"], TEXTS[language]["units"]["minute"]
    count, unit = (seconds, second) if seconds < 90 else (-(-seconds // 60), minute)
    # French: the singular for 0 and 1; German: for 1 only (never 0 here).
    return f"{count} {unit[0] if count == 1 else unit[1]}"


def json_in(language: str) -> dict[str, str]:
    return {"format": "json", "HTTP_ACCEPT_LANGUAGE": language}


def page(response) -> str:
    return response.content.decode()


def assert_in(language: str, response) -> None:
    """The response says which language it is in, as LocaleMiddleware sets it."""
    assert response["Content-Language"] == language
    assert "Accept-Language" in response["Vary"]


# --- pages ------------------------------------------------------------------------------


@LANGUAGES
def test_request_page(language, user, client, mailoutbox):
    response = client.post(
        "/auth/request/",
        {"email": user.email},
        HTTP_ACCEPT=HTML,
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 202
    html = page(response)
    assert f'<html lang="{language}" dir="ltr">' in html
    assert TEXTS[language]["check_inbox"] in html
    assert TEXTS[language]["request_detail"] in html
    assert_in(language, response)


@LANGUAGES
def test_verify_page(language, user, client, request_link):
    token = request_link(user.email)
    response = client.get("/auth/verify/", {"token": token}, HTTP_ACCEPT_LANGUAGE=language)
    html = page(response)
    assert response.status_code == 200
    assert f'<html lang="{language}" dir="ltr">' in html
    assert TEXTS[language]["sign_in_button"] in html
    assert TEXTS[language]["verify_text"] in html
    assert_in(language, response)


@LANGUAGES
def test_invalid_link_page(language, client):
    response = client.get("/auth/verify/", {"token": "not-a-token"}, HTTP_ACCEPT_LANGUAGE=language)
    html = page(response)
    assert response.status_code == 400
    assert TEXTS[language]["link_invalid"] in html
    assert f'data-code="invalid_token">{TEXTS[language]["token_invalid"]}</p>' in html
    assert TEXTS[language]["new_link_button"] in html
    assert_in(language, response)


@LANGUAGES
def test_code_form(language, user, client):
    response = client.post(
        "/auth/verify/",
        {"email": user.email, "code": "AAAA-BBBB"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    html = page(response)
    assert response.status_code == 400
    assert TEXTS[language]["code_invalid"] in html
    assert f'data-code="invalid_code">{TEXTS[language]["code_detail"]}</p>' in html
    assert TEXTS[language]["code_label"] in html
    assert_in(language, response)


@LANGUAGES
@pytest.mark.usefixtures("frozen_clock")
def test_rate_limited_page(language, client, rates):
    rates(verify_ip="1/h")
    client.post("/auth/verify/", {"token": "x"}, HTTP_ACCEPT_LANGUAGE=language)
    response = client.post("/auth/verify/", {"token": "x"}, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 429
    html = page(response)
    wait = wait_words(language, int(response["Retry-After"]))
    assert TEXTS[language]["too_many"] in html
    assert TEXTS[language]["wait_page"].format(wait=wait) in html
    assert 'data-code="rate_limited"' in html
    # The 429 is answered before any view: LocaleMiddleware, before it, still applies.
    assert_in(language, response)


@LANGUAGES
def test_unavailable_page(language, rf: RequestFactory):
    with translation.override(language):
        response = unavailable_page(rf.get("/auth/verify/"))
    assert response.status_code == 503
    html = page(response)
    assert TEXTS[language]["unavailable_page"] in html
    assert f'data-code="unavailable">{TEXTS[language]["unavailable"]}</p>' in html


def test_a_right_to_left_language_sets_dir(client):
    response = client.get("/auth/verify/", {"token": "x"}, HTTP_ACCEPT_LANGUAGE="ar")
    assert '<html lang="ar" dir="rtl">' in page(response)
    assert response["Content-Language"] == "ar"


# --- the JSON API: detail translated, code unchanged -------------------------------------


@LANGUAGES
def test_json_error_detail(language, api_client):
    response = api_client.post(
        "/auth/token/", {"token": "not-a-token"}, format="json", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 400
    assert response.json() == {"detail": TEXTS[language]["token_invalid"], "code": "invalid_token"}
    assert_in(language, response)


@LANGUAGES
def test_json_request_detail(language, api_client):
    response = api_client.post(
        "/auth/request/", {"email": "a@example.com"}, format="json", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 202
    assert response.json() == {"detail": TEXTS[language]["request_detail"]}


@LANGUAGES
@pytest.mark.usefixtures("frozen_clock")
def test_json_rate_limited_detail_with_its_plural(language, api_client, rates):
    rates(request_ip="1/h")
    for _ in range(2):
        response = api_client.post(
            "/auth/request/", {"email": "a@example.com"}, **json_in(language)
        )
    assert response.status_code == 429
    wait = wait_words(language, int(response["Retry-After"]))
    assert response.json() == {
        "detail": TEXTS[language]["wait_json"].format(wait=wait),
        "code": "rate_limited",
    }
    assert_in(language, response)


@LANGUAGES
def test_bearer_refusal_detail(language, api_client):
    response = api_client.post(
        "/auth/logout/", HTTP_AUTHORIZATION="Bearer two parts", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 401
    assert response.json() == {"detail": TEXTS[language]["bad_header"], "code": "invalid_token"}
    assert response["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="invalid_token"'
    )


@LANGUAGES
def test_unavailable_detail(language, settings, user, api_client):
    # A real refusal of the Django Tasks database backend: another queue than the task's
    # (the task itself is declared first, on the default backend, as a site's would be).
    importlib.import_module("django_jwt_email.django_tasks")
    settings.JWT_EMAIL_EMAIL_SENDER = "django_jwt_email.django_tasks.deliver_later"
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["reports"]}
    }
    response = api_client.post(
        "/auth/request/", {"email": user.email}, format="json", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 503
    assert response.json() == {"detail": TEXTS[language]["unavailable"], "code": "unavailable"}


@pytest.mark.parametrize(
    "language,seconds,words",
    [
        ("fr", 1, "1 seconde"),
        ("fr", 45, "45 secondes"),
        ("fr", 90, "2 minutes"),
        ("fr", 7200, "2 heures"),
        ("de", 1, "1 Sekunde"),
        ("de", 61, "61 Sekunden"),
        ("de", 60 * 89, "89 Minuten"),
        ("de", 5400, "2 Stunden"),
        ("es", 3600 * 3, "3 horas"),
        ("pt-br", 120, "2 minutos"),
    ],
)
def test_wait_in_words_with_the_languages_plurals(language, seconds, words):
    with translation.override(language):
        assert wait_in_words(seconds) == words


# --- the email --------------------------------------------------------------------------


def ask(api_client, email, language):
    response = api_client.post(
        "/auth/request/", {"email": email}, format="json", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 202


def html_of(message) -> str:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return html


@LANGUAGES
def test_sign_in_email(language, user, api_client, mailoutbox):
    ask(api_client, user.email, language)
    (message,) = mailoutbox
    html = html_of(message)
    assert message.subject == TEXTS[language]["subject"]
    assert TEXTS[language]["email_text"] in message.body
    assert TEXTS[language]["email_expiry"] in message.body
    assert TEXTS[language]["email_html"] in html
    assert TEXTS[language]["email_expiry"] in html
    assert TEXTS[language]["email_button"] in html
    assert f'<html lang="{language}" dir="ltr">' in html
    assert message.extra_headers["Content-Language"] == language
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code_of(message))


@LANGUAGES
def test_sign_up_email(language, settings, api_client, mailoutbox):
    settings.JWT_EMAIL_CREATE_USERS = True
    ask(api_client, "new@example.com", language)
    assert mailoutbox[0].subject == TEXTS[language]["signup_subject"]


def test_email_times_are_in_the_sites_zone_formatted_for_the_language(settings, user, mailoutbox):
    settings.TIME_ZONE = "Europe/Berlin"
    # The delivery unit, as a worker runs it: the payload's time and language.
    services.deliver(email=user.email, requested_at="2030-01-02T03:04:00+00:00", language="de")
    assert "Angefordert am: 2. Januar 2030 04:04 CET" in mailoutbox[0].body
    assert "Angefordert am: 2. Januar 2030 04:04 CET" in html_of(mailoutbox[0])


class PreferenceAdapter(DefaultAdapter):
    """A site that stores each user's language (here: German for everyone known)."""

    def language_for(self, user, request):
        return "de" if user is not None else None


def test_the_adapters_language_wins_over_the_requesters(settings, user, api_client, mailoutbox):
    settings.JWT_EMAIL_ADAPTER = "tests.test_translations.PreferenceAdapter"
    ask(api_client, user.email, "fr")
    assert mailoutbox[0].subject == TEXTS["de"]["subject"]


def test_without_a_preference_the_requesters_language_is_used(settings, api_client, mailoutbox):
    settings.JWT_EMAIL_ADAPTER = "tests.test_translations.PreferenceAdapter"
    settings.JWT_EMAIL_CREATE_USERS = True
    ask(api_client, "new@example.com", "fr")  # a sign-up: no user, no preference
    assert mailoutbox[0].subject == TEXTS["fr"]["signup_subject"]


def test_without_locale_middleware_everything_is_in_language_code(
    settings, user, client, api_client, mailoutbox
):
    settings.MIDDLEWARE = [
        name for name in settings.MIDDLEWARE if name != "django.middleware.locale.LocaleMiddleware"
    ]
    settings.LANGUAGE_CODE = "de"
    response = client.get("/auth/verify/", {"token": "x"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert TEXTS["de"]["link_invalid"] in page(response)
    ask(api_client, user.email, "fr")
    assert mailoutbox[0].subject == TEXTS["de"]["subject"]


# --- the admin --------------------------------------------------------------------------


def test_the_admin_screens_speak_french(admin_client, user, request_link):
    request_link(user.email)
    index = admin_client.get("/admin/django_jwt_email/", HTTP_ACCEPT_LANGUAGE="fr")
    html = page(index)
    assert "Connexion par e-mail (JWT)" in html
    for name in ("Liens de connexion", "Sessions de connexion", "Jetons révoqués"):
        assert f">{name}</a>" in html
    assert "<h2>Activité</h2>" in html
    links = page(
        admin_client.get("/admin/django_jwt_email/issuedtoken/", HTTP_ACCEPT_LANGUAGE="fr")
    )
    for column in ("Utilisateur", "Statut", "Émis", "Expire le", "Adresse IP"):
        assert f">{column}</a>" in links or f"<span>{column}</span>" in links, column
    assert '<td class="field-status">actif</td>' in links  # the link's state
