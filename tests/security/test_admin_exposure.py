"""What the admin shows, and to whom: no whole token anywhere, a read-only audit log.

A full flow runs first (link, pair, refresh, sign-up, code, revoke), its tokens
are captured, and then every admin page of the app (changelists, change pages,
the activity page, the revoke confirmation, the CSV export) is fetched as a
superuser and searched for them.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from django_jwt_email.models import IssuedToken, RevokedToken, SignInSession, TokenEvent
from tests.conftest import token_of

pytestmark = pytest.mark.django_db

MODELS = ["issuedtoken", "revokedtoken", "signinsession", "tokenevent"]
ADMIN = "/admin/django_jwt_email"
ACTIVITY = f"{ADMIN}/tokenevent/activity/"


def secrets_of(token: str) -> list[str]:
    """What must never be shown: the whole token, and its payload and signature
    segments (the header segment is the same for every token of a kind)."""
    _, payload, signature = token.split(".")
    return [token, payload, signature]


@pytest.fixture
def captured(user_factory, settings, mailoutbox):
    """Tokens of every kind, minted by a full flow through the URLs."""
    settings.JWT_EMAIL_CREATE_USERS = True
    user = user_factory("alice@example.com")
    api = APIClient(HTTP_USER_AGENT='=HYPERLINK("https://evil.example")')
    seen: list[str] = []

    def link(email: str) -> str:
        assert api.post("/auth/request/", {"email": email}, format="json").status_code == 202
        seen.append(token_of(mailoutbox[-1]))
        return seen[-1]

    pair = api.post("/auth/token/", {"token": link(user.email)}, format="json").json()
    rotated = api.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json").json()
    api.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")  # a reuse
    signup = api.post("/auth/token/", {"token": link("new@example.com")}, format="json").json()
    api.post("/auth/token/revoke/", {"token": signup["refresh"]}, format="json")
    link(user.email)  # left outstanding
    api.post("/auth/token/", {"token": "not.a.token"}, format="json")  # a rejection
    seen += [pair["access"], pair["refresh"], rotated["access"], rotated["refresh"]]
    seen += [signup["access"], signup["refresh"]]
    return seen


@pytest.fixture
def superuser(user_factory):
    return user_factory("root@example.com", is_staff=True, is_superuser=True)


def signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def admin_pages() -> list[str]:
    pages = [f"{ADMIN}/{model}/" for model in MODELS] + [ACTIVITY]
    pages += [
        f"{ADMIN}/issuedtoken/{pk}/change/"
        for pk in IssuedToken.objects.values_list("pk", flat=True)
    ]
    pages += [
        f"{ADMIN}/revokedtoken/{pk}/change/"
        for pk in RevokedToken.objects.values_list("pk", flat=True)
    ]
    pages += [
        f"{ADMIN}/tokenevent/{pk}/change/"
        for pk in TokenEvent.objects.values_list("pk", flat=True)
    ]
    pages += [
        f"{ADMIN}/signinsession/{pk}/change/"
        for pk in SignInSession.objects.values_list("pk", flat=True)
    ]
    pages += [
        f"{ADMIN}/issuedtoken/?status=active",
        f"{ADMIN}/tokenevent/?event=rejected",
        f"{ADMIN}/signinsession/?status=revoked",
    ]
    return pages


def test_admin_pages_never_show_a_whole_token(captured, superuser):
    browser = signed_in(superuser)
    pages = admin_pages()
    assert len(pages) > 20  # rows of every table were made by the flow
    for page in pages:
        response = browser.get(page)
        assert response.status_code == 200, page
        content = response.content.decode()
        for token in captured:
            for secret in secrets_of(token):
                assert secret not in content, (page, secret[:20])


def test_admin_search_by_token_finds_nothing(captured, superuser):
    # Nothing stored holds a token, so pasting one into the search finds no row.
    # (The search box shows back what the admin typed, as any admin search does.)
    browser = signed_in(superuser)
    for model in MODELS:
        response = browser.get(f"{ADMIN}/{model}/", {"q": captured[0]})
        assert response.status_code == 200
        assert response.context["cl"].result_count == 0


def test_admin_csv_export_never_holds_a_whole_token(captured, superuser):
    browser = signed_in(superuser)
    pks = [str(pk) for pk in TokenEvent.objects.values_list("pk", flat=True)]
    response = browser.post(
        f"{ADMIN}/tokenevent/",
        {"action": "export_csv", "_selected_action": pks, "index": "0"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "no-store" in response["Cache-Control"]
    csv_text = b"".join(response.streaming_content).decode()
    assert csv_text.count("\n") == len(pks) + 1
    for token in captured:
        for secret in secrets_of(token):
            assert secret not in csv_text
    # Client-written cells cannot run as spreadsheet formulas.
    assert "'=HYPERLINK" in csv_text
    assert ",=HYPERLINK" not in csv_text


def test_admin_revoke_confirmation_never_shows_a_whole_token(captured, superuser):
    browser = signed_in(superuser)
    pks = [str(pk) for pk in IssuedToken.objects.values_list("pk", flat=True)]
    page = browser.post(
        f"{ADMIN}/issuedtoken/", {"action": "revoke_selected", "_selected_action": pks}
    )
    assert page.status_code == 200
    content = page.content.decode()
    for token in captured:
        for secret in secrets_of(token):
            assert secret not in content


@pytest.mark.parametrize("page", [f"{ADMIN}/{m}/" for m in MODELS] + [ACTIVITY])
@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_admin_pages_refuse_visitors_without_staff_status(user_factory, page, who):
    browser = Client()
    if who == "non-staff":
        browser.force_login(user_factory("plain@example.com"))
    response = browser.get(page)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("page", [f"{ADMIN}/tokenevent/", ACTIVITY])
def test_audit_log_refuses_staff_without_view_permission(user_factory, page):
    staff = user_factory("staff@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_issuedtoken"))
    response = signed_in(staff).get(page)
    assert response.status_code == 403


def test_audit_log_cannot_be_edited_even_by_a_superuser(captured, superuser):
    browser = signed_in(superuser)
    event = TokenEvent.objects.filter(event="rejected").first()
    before = (event.event, event.reason, event.jti, event.ip)
    change = browser.post(
        f"{ADMIN}/tokenevent/{event.pk}/change/",
        {"event": "verified", "reason": "", "jti": "forged", "ip": "127.0.0.1"},
    )
    add = browser.post(f"{ADMIN}/tokenevent/add/", {"event": "verified"})
    delete = browser.post(f"{ADMIN}/tokenevent/{event.pk}/delete/", {"post": "yes"})
    bulk = browser.post(
        f"{ADMIN}/tokenevent/",
        {"action": "delete_selected", "_selected_action": [str(event.pk)], "post": "yes"},
    )
    assert change.status_code == 403
    assert add.status_code == 403
    assert delete.status_code == 403
    assert bulk.status_code in (200, 302)  # an unknown action: nothing done
    event.refresh_from_db()
    assert (event.event, event.reason, event.jti, event.ip) == before
    assert TokenEvent.objects.filter(pk=event.pk).exists()


def test_issued_tokens_cannot_be_deleted_or_edited(captured, superuser):
    browser = signed_in(superuser)
    row = IssuedToken.objects.first()
    delete = browser.post(f"{ADMIN}/issuedtoken/{row.pk}/delete/", {"post": "yes"})
    change = browser.post(f"{ADMIN}/issuedtoken/{row.pk}/change/", {"used_at": ""})
    assert delete.status_code == 403
    assert change.status_code == 403
    assert IssuedToken.objects.filter(pk=row.pk).exists()


def test_revoke_action_refuses_staff_with_view_permission_only(captured, user_factory):
    staff = user_factory("viewer@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_issuedtoken"))
    active = IssuedToken.objects.redeemable()
    pks = [str(pk) for pk in active.values_list("pk", flat=True)]
    assert pks
    signed_in(staff).post(
        f"{ADMIN}/issuedtoken/",
        {"action": "revoke_selected", "_selected_action": pks, "post": "yes", "reason": "x"},
    )
    assert IssuedToken.objects.filter(pk__in=pks, revoked_at=None).count() == len(pks)


# --- the admin's own sign-in by link ---------------------------------------------------------


@pytest.mark.parametrize("address", ["plain@example.com", "nobody@example.com"])
def test_admin_request_mails_only_active_staff(user_factory, mailoutbox, address):
    user_factory("plain@example.com")  # an account, but not staff
    response = Client().post("/auth/admin/request/", {"email": address})
    assert response.status_code == 302
    assert mailoutbox == []


@pytest.mark.parametrize(
    "url", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_admin_request_next_stays_on_site(user_factory, mailoutbox, url):
    staff = user_factory("staff@example.com", is_staff=True)
    response = Client().post("/auth/admin/request/", {"email": staff.email, "next": url})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
    assert IssuedToken.objects.get().next_url == "/admin/"


def test_admin_request_shares_the_per_address_limit(user_factory, mailoutbox):
    staff = user_factory("staff@example.com", is_staff=True)
    for n in range(5):
        api = APIClient(REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert api.post("/auth/request/", {"email": staff.email}, format="json").status_code == 202
    sent = len(mailoutbox)
    response = Client(REMOTE_ADDR="198.51.100.99").post(
        "/auth/admin/request/", {"email": staff.email}
    )
    assert response.status_code == 429
    assert len(mailoutbox) == sent
