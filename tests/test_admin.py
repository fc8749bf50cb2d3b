"""The admin: issued tokens, revoked tokens and the audit log; revoke, export, activity.

What an admin sees and can do, through the admin's own URLs with a signed-in
client: lists with filters and search, a bounded number of queries per list,
the revoke action (confirmation, reason, who), the CSV export, a read-only
audit log, the activity page, and signing in to the admin by emailed link.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_jwt_email import tokens
from django_jwt_email.admin.activity import tick_step
from django_jwt_email.admin.lists import EstimatedCountPaginator
from django_jwt_email.models import STATES, IssuedToken, RevokedToken, SignInSession, TokenEvent

from .conftest import link_of, token_of

pytestmark = pytest.mark.django_db

ISSUED = "/admin/django_jwt_email/issuedtoken/"
SESSIONS = "/admin/django_jwt_email/signinsession/"
REVOKED = "/admin/django_jwt_email/revokedtoken/"
EVENTS = "/admin/django_jwt_email/tokenevent/"
ACTIVITY = "/admin/django_jwt_email/tokenevent/activity/"


def issued(user=None, *, status="active", ip="203.0.113.5", ago=timedelta(0)):
    """A login link's row in the given status, issued ``ago`` before now."""
    now = timezone.now()
    row = IssuedToken(
        jti=tokens.new_id(),
        user=user,
        issued_at=now - ago,
        expires_at=now + timedelta(minutes=10),
        ip=ip,
    )
    if status == "used":
        row.used_at = now
    elif status == "expired":
        row.expires_at = now - timedelta(minutes=1)
    elif status == "revoked":
        row.revoked_at, row.revoke_reason = now, "test"
    elif status == "locked":
        row.code_attempts = 3
    row.save()
    return row


def session(user, *, status="active", ip="203.0.113.5", browser=False):
    """A sign-in session's row in the given status."""
    now = timezone.now()
    row = SignInSession(
        sid=tokens.new_id(),
        user=user,
        expires_at=now + timedelta(days=14),
        ip=ip,
        session_key=secrets.token_hex(16) if browser else "",
    )
    if status == "expired":
        row.expires_at = now - timedelta(minutes=1)
    elif status == "revoked":
        row.revoked_at, row.revoke_reason = now, "test"
    row.save()
    return row


def event(kind="issued", *, reason="", user=None, ip="203.0.113.5", jti="", at=None):
    return TokenEvent.objects.create(
        event=kind,
        reason=reason,
        user=user,
        ip=ip,
        jti=jti or tokens.new_id(),
        created_at=at or timezone.now(),
    )


def shown(response):
    """The rows of a changelist page, as the admin computed them."""
    assert response.status_code == 200, response.content[:500]
    return list(response.context["cl"].result_list)


@pytest.fixture
def staff_client(client, user_factory):
    """A staff user with view permission on the three models (not a superuser)."""
    staff = user_factory("staff@example.com", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="django_jwt_email", codename__startswith="view_"
        )
    )
    client.force_login(staff)
    return client


# --- issued tokens ---------------------------------------------------------------


def test_issued_list_shows_user_status_times_and_ip(admin_client, user):
    active = issued(user, ip="198.51.100.7")
    issued(user, status="revoked")
    response = admin_client.get(ISSUED)
    assert len(shown(response)) == 2
    page = response.content.decode()
    assert active.jti[:12] in page
    assert "alice" in page or "user1" in page
    assert "198.51.100.7" in page
    assert ">active<" in page
    assert ">revoked<" in page


def local_seconds(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def test_issued_detail_page_shows_every_time_to_the_second(admin_client, user, settings):
    settings.TIME_ZONE = "Europe/Paris"
    row = issued(user, status="revoked")
    row.used_at = row.issued_at + timedelta(seconds=7)
    row.save()
    page = admin_client.get(f"{ISSUED}{row.pk}/change/").content.decode()
    for value in (row.issued_at, row.expires_at, row.used_at, row.revoked_at):
        assert f'<div class="readonly">{local_seconds(value)}</div>' in page
    assert "code_hash" not in page and "email_hash" not in page


def test_revoked_list_and_detail_show_times_to_the_second(admin_client, user):
    entry = RevokedToken.objects.create(
        jti="sid-2", kind="session", user=user, reason="logout",
        expires_at=timezone.now() + timedelta(days=3, seconds=17),
    )  # fmt: skip
    listed = admin_client.get(REVOKED).content.decode()
    detail = admin_client.get(f"{REVOKED}{entry.pk}/change/").content.decode()
    for value in (entry.revoked_at, entry.expires_at):
        assert local_seconds(value) in listed
        assert f'<div class="readonly">{local_seconds(value)}</div>' in detail


def test_event_detail_shows_the_time_to_the_second_and_no_hash(admin_client, user):
    row = event("rejected", reason="token_expired", user=user)
    TokenEvent.objects.filter(pk=row.pk).update(email_hash="f" * 64)
    page = admin_client.get(f"{EVENTS}{row.pk}/change/").content.decode()
    assert f'<div class="readonly">{local_seconds(row.created_at)}</div>' in page
    assert "token_expired" in page
    assert "f" * 64 not in page


def test_used_sign_up_link_shows_and_finds_the_new_account(
    admin_client, settings, request_link, api_client
):
    settings.JWT_EMAIL_CREATE_USERS = True
    token = request_link("newcomer@example.com")
    assert api_client.post("/auth/token/", {"token": token}, format="json").status_code == 200
    link = IssuedToken.objects.get()
    page = admin_client.get(ISSUED).content.decode()
    assert "newcomer@example.com" in page
    assert "sign-up:" not in page  # the account exists now: its user, not the address
    found = shown(admin_client.get(ISSUED, {"q": "newcomer"}))
    assert [r.pk for r in found] == [link.pk]


@pytest.mark.parametrize("status", STATES)
def test_issued_status_filter(admin_client, user, status):
    rows = {name: issued(user, status=name) for name in STATES}
    # A revoked row that was also used and expired is "revoked" only.
    both = issued(user, status="used")
    IssuedToken.objects.filter(pk=both.pk).update(
        revoked_at=timezone.now(), expires_at=timezone.now() - timedelta(days=1)
    )
    expected = {rows[status].pk} | ({both.pk} if status == "revoked" else set())
    assert {row.pk for row in shown(admin_client.get(ISSUED, {"status": status}))} == expected


def test_issued_date_filter_and_date_hierarchy(admin_client, user):
    recent = issued(user)
    old = issued(user, ago=timedelta(days=400))
    # The "Past 7 days" choice of the date filter, as the admin links it.
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    week = {
        "issued_at__gte": str(today - timedelta(days=7)),
        "issued_at__lt": str(today + timedelta(days=1)),
    }
    assert "issued_at__gte=" in admin_client.get(ISSUED).content.decode()
    assert [row.pk for row in shown(admin_client.get(ISSUED, week))] == [recent.pk]
    year = {"issued_at__year": str(timezone.localtime(old.issued_at).year)}
    assert [row.pk for row in shown(admin_client.get(ISSUED, year))] == [old.pk]


def test_issued_search_by_email_jti_and_ip(admin_client, user, user_factory):
    bob = user_factory("bob@example.org")
    alice_row = issued(user, ip="192.0.2.1")
    bob_row = issued(bob, ip="2001:db8::1")

    def found(term):
        return {row.pk for row in shown(admin_client.get(ISSUED, {"q": term}))}

    assert found("alice@") == {alice_row.pk}
    assert found("EXAMPLE.ORG") == {bob_row.pk}
    assert found(bob_row.jti) == {bob_row.pk}
    assert found(bob_row.jti[:10]) == set()  # a jti matches only whole
    assert found("192.0.2.1") == {alice_row.pk}
    assert found("2001:db8::1") == {bob_row.pk}
    assert found("192.0.2") == set()
    assert found("nobody") == set()


def test_issued_tokens_cannot_be_added_edited_or_deleted(admin_client, user):
    row = issued(user)
    assert admin_client.get(f"{ISSUED}add/").status_code == 403
    assert admin_client.get(f"{ISSUED}{row.pk}/change/").status_code == 200  # view only
    assert admin_client.post(f"{ISSUED}{row.pk}/change/", {"ip": "1.2.3.4"}).status_code == 403
    assert admin_client.post(f"{ISSUED}{row.pk}/delete/").status_code == 403
    actions = dict(admin_client.get(ISSUED).context["action_form"].fields["action"].choices)
    assert set(actions) == {"", "revoke_selected"}
    assert IssuedToken.objects.get(pk=row.pk).ip == "203.0.113.5"


# --- queries per list --------------------------------------------------------------


@pytest.mark.parametrize("url", [ISSUED, SESSIONS, REVOKED, EVENTS])
def test_list_queries_do_not_grow_with_rows(
    admin_client, user_factory, url, django_assert_max_num_queries
):
    def add_rows(count):
        for _ in range(count):
            owner = user_factory()
            row = issued(owner)
            session(owner)
            RevokedToken.objects.create(
                jti=row.jti, kind="login", user=owner, revoked_by=owner,
                expires_at=row.expires_at,
            )  # fmt: skip
            event(user=owner, jti=row.jti)

    add_rows(5)
    with CaptureQueriesContext(connection) as five:
        assert len(shown(admin_client.get(url))) == 5
    add_rows(45)
    with django_assert_max_num_queries(len(five.captured_queries)):
        assert len(shown(admin_client.get(url))) == 50


def test_list_never_counts_the_unfiltered_table_twice(admin_client, user):
    issued(user)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(ISSUED, {"status": "active"})
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1  # the filtered count; no full_result_count


def hierarchy(response):
    """(back title, [choice titles]) of the date hierarchy on a changelist page."""
    links = response.context["cl"].date_links()
    return (links["back"] or {}).get("title"), [c["title"] for c in links["choices"]]


def test_date_hierarchy_without_reading_every_date(admin_client):
    def at(y, m, d):
        return timezone.make_aware(datetime(y, m, d, 12))

    for when in [at(2024, 11, 5), at(2025, 2, 3), at(2025, 4, 9), at(2025, 4, 20)]:
        event("issued", at=when)
    with CaptureQueriesContext(connection) as queries:
        top = admin_client.get(EVENTS)
    assert not any("DISTINCT" in q["sql"].upper() for q in queries.captured_queries)
    assert hierarchy(top) == (None, ["2024", "2025"])
    assert b"?created_at__year=2025" in top.content
    year = admin_client.get(EVENTS, {"created_at__year": "2025"})
    assert hierarchy(year) == ("All dates", ["February 2025", "March 2025", "April 2025"])
    month = admin_client.get(EVENTS, {"created_at__year": "2025", "created_at__month": "4"})
    assert hierarchy(month)[1][0] == "April 9" and hierarchy(month)[1][-1] == "April 20"
    assert len(shown(month)) == 2
    day = {"created_at__year": "2025", "created_at__month": "4", "created_at__day": "9"}
    assert hierarchy(admin_client.get(EVENTS, day)) == ("April 2025", ["April 9"])
    assert len(shown(admin_client.get(EVENTS, day))) == 1
    # One year of rows only: the hierarchy opens on its months, as Django's does.
    TokenEvent.objects.filter(created_at__year=2024).delete()
    assert hierarchy(admin_client.get(EVENTS))[1] == ["February 2025", "March 2025", "April 2025"]
    assert hierarchy(admin_client.get(EVENTS, {"event": "verified"})) == (None, [])


# --- revoke ---------------------------------------------------------------------


def revoke(client, rows, *, confirm, reason="revoked_by_admin", select_across=False, url=ISSUED):
    data = {
        "action": "revoke_selected",
        "index": "0",
        "_selected_action": [] if select_across else [row.pk for row in rows],
        "select_across": "1" if select_across else "0",
    }
    if confirm:
        data.update(post="yes", reason=reason)
    return client.post(url, data)


def test_revoke_asks_for_a_reason_first(admin_client, user):
    row = issued(user)
    page = revoke(admin_client, [row], confirm=False)
    assert page.status_code == 200
    assert b'name="reason"' in page.content
    assert b"Revoke 1 login link?" in page.content
    assert IssuedToken.objects.get(pk=row.pk).revoked_at is None
    assert not RevokedToken.objects.exists()


def test_revoke_without_reason_shows_the_page_again(admin_client, user):
    row = issued(user)
    page = revoke(admin_client, [row], confirm=True, reason="")
    assert page.status_code == 200
    assert b"This field is required." in page.content
    assert IssuedToken.objects.get(pk=row.pk).revoked_at is None


def test_revoke_login_link_records_admin_and_reason(admin_client, admin_user, user):
    row = issued(user)
    untouched = issued(user)
    response = revoke(admin_client, [row], confirm=True, reason="phished")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == "revoked"
    assert row.revoke_reason == "phished"
    entry = RevokedToken.objects.get(jti=row.jti)
    assert (entry.revoked_by, entry.reason, entry.user) == (admin_user, "phished", user)
    assert TokenEvent.objects.filter(event="revoked", jti=row.jti, reason="phished").count() == 1
    assert IssuedToken.objects.get(pk=untouched.pk).status == "active"
    messages = [str(m) for m in admin_client.get(ISSUED).context["messages"]]
    assert "Revoked 1 login link." in messages


def test_revoke_session_signs_the_api_client_out(admin_client, admin_user, user, pair, api_client):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {pair['access']}"}
    assert api_client.get("/api/me/", **bearer).status_code == 200
    row = SignInSession.objects.get(user=user)
    done = revoke(admin_client, [row], confirm=True, reason="stolen laptop", url=SESSIONS)
    assert done.status_code == 302
    entry = RevokedToken.objects.get(jti=row.sid, kind="session")
    assert (entry.revoked_by, entry.reason) == (admin_user, "stolen laptop")
    assert api_client.get("/api/me/", **bearer).status_code == 401
    refused = api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refused.json()["code"] == "token_revoked"


def test_revoke_browser_session_signs_the_browser_out(admin_client, user, request_link):
    from django.test import Client

    browser = Client()
    browser.post("/auth/verify/", {"token": request_link(user.email)})
    assert browser.get("/home/").content == f"home {user}".encode()
    row = SignInSession.objects.get(user=user)
    assert row.is_browser
    assert revoke(admin_client, [row], confirm=True, url=SESSIONS).status_code == 302
    assert browser.get("/home/").content == b"home AnonymousUser"


def test_revoke_all_matching_a_filter(admin_client, user):
    api = [session(user) for _ in range(3)]
    browser = session(user, browser=True)
    page = admin_client.post(
        f"{SESSIONS}?client=api",
        {"action": "revoke_selected", "index": "0", "select_across": "1",
         "_selected_action": [api[0].pk]},
    )  # fmt: skip
    assert b"Revoke 3 sign-in sessions?" in page.content
    assert b'name="select_across" value="1"' in page.content
    done = admin_client.post(
        f"{SESSIONS}?client=api",
        {"action": "revoke_selected", "index": "0", "select_across": "1",
         "_selected_action": [api[0].pk], "post": "yes", "reason": "incident"},
    )  # fmt: skip
    assert done.status_code == 302
    assert RevokedToken.objects.filter(kind="session", reason="incident").count() == 3
    assert SignInSession.objects.get(pk=browser.pk).revoked_at is None


# --- sign-in sessions --------------------------------------------------------------


@pytest.mark.parametrize(("client", "browser"), [("browser", True), ("api", False)])
def test_sessions_list_filters_by_client(admin_client, user, client, browser):
    wanted = session(user, browser=browser)
    session(user, browser=not browser)

    response = admin_client.get(SESSIONS, {"client": client})

    assert [row.pk for row in shown(response)] == [wanted.pk]


def test_sessions_list_shows_who_where_and_since_when(admin_client, user):
    api = session(user, ip="198.51.100.7")
    session(user, status="revoked", browser=True)
    response = admin_client.get(SESSIONS)
    assert len(shown(response)) == 2
    page = response.content.decode()
    assert api.sid[:12] in page
    assert "198.51.100.7" in page
    assert ">API<" in page and ">browser<" in page
    assert ">active<" in page and ">revoked<" in page


@pytest.mark.parametrize("status", ["active", "expired", "revoked"])
def test_sessions_status_filter(admin_client, user, status):
    rows = {name: session(user, status=name) for name in ["active", "expired", "revoked"]}
    found = {row.pk for row in shown(admin_client.get(SESSIONS, {"status": status}))}
    assert found == {rows[status].pk}


def test_sessions_search_by_email_sid_and_ip(admin_client, user, user_factory):
    bob = user_factory("bob@example.org")
    alice_row, bob_row = session(user, ip="192.0.2.1"), session(bob)

    def found(term):
        return {row.pk for row in shown(admin_client.get(SESSIONS, {"q": term}))}

    assert found("alice@") == {alice_row.pk}
    assert found(bob_row.sid) == {bob_row.pk}
    assert found(bob_row.sid[:10]) == set()
    assert found("192.0.2.1") == {alice_row.pk}


def test_sessions_cannot_be_added_edited_or_deleted(admin_client, user):
    row = session(user)
    assert admin_client.get(f"{SESSIONS}add/").status_code == 403
    assert admin_client.get(f"{SESSIONS}{row.pk}/change/").status_code == 200
    assert admin_client.post(f"{SESSIONS}{row.pk}/delete/").status_code == 403


def test_revoke_needs_change_permission(staff_client, user):
    row = issued(user)
    assert staff_client.get(ISSUED).context["action_form"] is None  # no action at all
    revoke(staff_client, [row], confirm=True, reason="nope")
    assert IssuedToken.objects.get(pk=row.pk).revoked_at is None


# --- revoked tokens ----------------------------------------------------------------


def test_revoked_list_shows_who_why_when(admin_client, admin_user, user):
    RevokedToken.objects.create(
        jti="sid-1", kind="session", user=user, reason="refresh_reuse",
        revoked_by=admin_user, expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    response = admin_client.get(REVOKED)
    assert len(shown(response)) == 1
    assert b"refresh_reuse" in response.content
    assert b"sid-1" in response.content
    assert admin_client.get(f"{REVOKED}add/").status_code == 403
    assert [r.jti for r in shown(admin_client.get(REVOKED, {"kind": "session"}))] == ["sid-1"]
    assert shown(admin_client.get(REVOKED, {"kind": "login"})) == []
    assert [r.jti for r in shown(admin_client.get(REVOKED, {"q": "alice"}))] == ["sid-1"]


# --- the audit log ---------------------------------------------------------------


def test_audit_log_lists_filters_and_searches(admin_client, user, user_factory):
    bob = user_factory("bob@example.org")
    issued_ = event("issued", user=user, ip="192.0.2.10")
    rejected = event("rejected", reason="expired", user=bob, ip="192.0.2.20")
    limited = event("rate_limited", reason="request_ip", ip="2001:db8::7")

    def found(**params):
        return {row.pk for row in shown(admin_client.get(EVENTS, params))}

    assert found() == {issued_.pk, rejected.pk, limited.pk}
    assert found(event="rejected") == {rejected.pk}
    assert found(reason="request_ip") == {limited.pk}
    assert found(q="bob@") == {rejected.pk}
    assert found(q="192.0.2.10") == {issued_.pk}
    assert found(q="2001:db8::7") == {limited.pk}
    assert found(q=rejected.jti) == {rejected.pk}
    year = str(timezone.localdate().year)
    assert found(created_at__year=year) == {issued_.pk, rejected.pk, limited.pk}
    reasons = admin_client.get(EVENTS).content.decode()
    assert "?reason=expired" in reasons and "?reason=request_ip" in reasons


def test_audit_log_is_read_only_even_for_superusers(admin_client, user):
    row = event("verified", user=user)
    assert admin_client.get(f"{EVENTS}add/").status_code == 403
    assert admin_client.post(f"{EVENTS}add/", {"event": "verified"}).status_code == 403
    assert admin_client.get(f"{EVENTS}{row.pk}/change/").status_code == 200
    changed = admin_client.post(f"{EVENTS}{row.pk}/change/", {"event": "rejected"})
    assert changed.status_code == 403
    assert admin_client.get(f"{EVENTS}{row.pk}/delete/").status_code == 403
    assert admin_client.post(f"{EVENTS}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    actions = dict(admin_client.get(EVENTS).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert "export_csv" in actions
    deleted = admin_client.post(
        EVENTS, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    )
    assert deleted.status_code in (200, 302)
    assert TokenEvent.objects.get(pk=row.pk).event == "verified"


@pytest.mark.parametrize("url", [EVENTS, ACTIVITY, ISSUED, REVOKED])
def test_non_staff_are_sent_to_the_login_page(client, user, url):
    for _signed_in in (False, True):
        response = client.get(url)
        assert response.status_code == 302
        assert urlsplit(response["Location"]).path == "/admin/login/"
        client.force_login(user)


def test_staff_without_view_permission_cannot_see_the_activity(client, user_factory):
    client.force_login(user_factory(is_staff=True))
    assert client.get(ACTIVITY).status_code == 403
    assert client.get(EVENTS).status_code == 403


# --- CSV export ----------------------------------------------------------------------


def export(client, rows):
    return client.post(
        EVENTS, {"action": "export_csv", "index": "0", "_selected_action": [r.pk for r in rows]}
    )


def test_export_selected_events_as_csv(admin_client, user):
    now = timezone.now()  # explicit times: the newest first, whatever the clock does
    first = event("issued", user=user, ip="192.0.2.1", at=now - timedelta(seconds=2))
    second = event("rejected", reason="expired", user=user, at=now - timedelta(seconds=1))
    event("verified", user=user, at=now)  # not selected
    response = export(admin_client, [first, second])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="token-events-')
    assert "no-store" in response["Cache-Control"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["time", "event", "reason", "jti", "user_id", "user_email", "ip",
                       "user_agent"]  # fmt: skip
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in rows[1:]] == [
        ("rejected", "expired", second.jti, str(user.pk), "alice@example.com"),
        ("issued", "", first.jti, str(user.pk), "alice@example.com"),
    ]
    assert rows[2][6] == "192.0.2.1"


def test_export_defuses_spreadsheet_formulas(admin_client):
    row = event("rate_limited", reason="request_ip")
    TokenEvent.objects.filter(pk=row.pk).update(user_agent='=HYPERLINK("http://evil")')
    rows = list(csv.reader(io.StringIO(b"".join(export(admin_client, [row])).decode())))
    assert rows[1][7] == '\'=HYPERLINK("http://evil")'


def test_export_holds_no_token(admin_client, user, request_link, api_client, mailoutbox):
    login = request_link(user.email)
    pair = api_client.post("/auth/token/", {"token": login}, format="json").json()
    api_client.post("/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    api_client.post("/auth/token/", {"token": login}, format="json")  # rejected: used
    response = export(admin_client, TokenEvent.objects.all())
    text = b"".join(response.streaming_content).decode()
    assert text.count("\n") == TokenEvent.objects.count() + 1
    for token in (login, pair["access"], pair["refresh"]):
        assert token not in text
        assert token.split(".")[1] not in text  # not even the payload


# --- the activity page -------------------------------------------------------------


def days_ago(n, hour=12):
    day = timezone.localdate() - timedelta(days=n)
    return timezone.make_aware(datetime.combine(day, time(hour)))


def test_activity_page_charts_30_days_and_lists_the_tops(
    admin_client, django_assert_max_num_queries
):
    for _ in range(3):
        event("issued", at=days_ago(0))
    event("issued", at=days_ago(29, hour=0))
    event("issued", at=days_ago(30, hour=23))  # 31 days ago: outside
    event("verified", at=days_ago(1))
    event("email_sent", at=days_ago(1))  # not charted
    for reason, count in [("expired", 3), ("bad_signature", 1), ("used", 2)]:
        for _ in range(count):
            event("rejected", reason=reason, at=days_ago(2))
    event("rejected", reason="ancient", at=days_ago(40))
    for ip, count in [("192.0.2.9", 4), ("2001:db8::1", 2)]:
        for _ in range(count):
            event("rate_limited", reason="request_ip", ip=ip, at=days_ago(3))
    event("rate_limited", reason="request_ip", ip=None, at=days_ago(3))

    with django_assert_max_num_queries(8):
        response = admin_client.get(ACTIVITY)
    assert response.status_code == 200
    report = response.context["report"]
    assert len(report.days) == 30
    assert report.days[-1] == timezone.localdate()
    series = {s.event: s.counts for s in report.series}
    assert series["issued"][-1] == 3 and series["issued"][0] == 1 and sum(series["issued"]) == 4
    assert series["verified"][-2] == 1 and sum(series["verified"]) == 1
    assert series["rejected"][-3] == 6
    assert series["rate_limited"][-4] == 7
    assert [(r["reason"], r["count"]) for r in report.top_reasons] == [
        ("expired", 3), ("used", 2), ("bad_signature", 1)
    ]  # fmt: skip
    assert [(r["ip"], r["count"]) for r in report.top_ips] == [
        ("192.0.2.9", 4),
        ("2001:db8::1", 2),
    ]

    page = response.content.decode()
    assert "<svg" in page and '<title id="jwt-activity-title">' in page
    for label in ("issued (4)", "verified (1)", "rejected (6)", "rate limited (7)"):
        assert label in page
    assert "Events per day" in page and ">Day<" in page
    assert "?event=rejected&amp;reason=expired" in page
    assert "<script" not in page.split('id="content-main"')[1]  # no JavaScript for the chart
    assert "http://" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org/2000/svg", ""
    )


def test_activity_chart_counts_in_one_grouped_query(admin_client):
    event("issued")
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(ACTIVITY)
    grouped = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"].upper()]
    assert len(grouped) == 3  # chart (day x event), top reasons, top IPs
    # The four series come from one query: every charted event in one IN (...).
    chart = [sql for sql in grouped if all(e in sql for e in ("verified", "rate_limited"))]
    assert len(chart) == 1 and "issued" in chart[0] and "rejected" in chart[0]


def test_activity_page_without_events(admin_client):
    response = admin_client.get(ACTIVITY)
    assert response.status_code == 200
    assert b"No rejections." in response.content
    assert b"No requests were rate limited." in response.content


def test_activity_is_linked_from_the_app_index_and_the_audit_log(admin_client):
    assert ACTIVITY.encode() in admin_client.get("/admin/django_jwt_email/").content
    assert ACTIVITY.encode() in admin_client.get(EVENTS).content


@pytest.mark.parametrize(
    ("peak", "step"), [(0, 1), (3, 1), (4, 1), (5, 2), (9, 5), (40, 10), (41, 20), (999, 500)]
)
def test_chart_gridlines_are_round_numbers(peak, step):
    assert tick_step(peak) == step


# --- admin sign-in by emailed link ---------------------------------------------------------


def test_admin_login_page_offers_a_sign_in_link(client):
    page = client.get("/admin/login/?next=/admin/django_jwt_email/").content.decode()
    assert 'action="/auth/admin/request/"' in page
    assert "Email me a sign-in link" in page
    assert 'name="next" value="/admin/django_jwt_email/"' in page
    assert 'id="login-form"' in page  # the password form is still there


def test_admin_login_link_is_opt_in(client, settings, user_factory, mailoutbox):
    settings.JWT_EMAIL_ADMIN_LOGIN_LINK = False
    page = client.get("/admin/login/").content.decode()
    assert "/auth/admin/request/" not in page
    assert 'id="login-form"' in page
    user_factory("staff@example.com", is_staff=True)
    assert ask_admin_link(client, "staff@example.com").status_code == 404
    assert mailoutbox == []


def ask_admin_link(client, email, next_url="/admin/"):
    return client.post("/auth/admin/request/", {"email": email, "next": next_url})


def test_staff_signs_in_to_the_admin_by_link(client, user_factory, mailoutbox):
    boss = user_factory("boss@example.com", is_staff=True)
    boss.user_permissions.add(Permission.objects.get(codename="view_tokenevent"))
    response = ask_admin_link(client, "BOSS@example.com", "/admin/django_jwt_email/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=%2Fadmin%2Fdjango_jwt_email%2F"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["boss@example.com"]
    token = token_of(mailoutbox[0])
    assert client.get("/auth/verify/", {"token": token}).status_code == 200
    signed_in = client.post("/auth/verify/", {"token": token})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/django_jwt_email/"
    assert b"Token events" in client.get("/admin/django_jwt_email/").content
    assert TokenEvent.objects.filter(event="verified", user=boss).count() == 1


@pytest.mark.parametrize("who", ["non_staff", "inactive_staff", "unknown"])
def test_admin_link_only_for_active_staff_and_same_answer(client, user_factory, mailoutbox, who):
    user_factory("boss@example.com", is_staff=True)
    user_factory("plain@example.com")
    user_factory("gone@example.com", is_staff=True, is_active=False)
    staff_answer = ask_admin_link(client, "boss@example.com")
    email = {
        "non_staff": "plain@example.com",
        "inactive_staff": "gone@example.com",
        "unknown": "who@example.com",
    }[who]
    answer = ask_admin_link(client, email)
    assert (answer.status_code, answer["Location"]) == (
        staff_answer.status_code,
        staff_answer["Location"],
    )
    assert [m.to for m in mailoutbox] == [["boss@example.com"]]
    messages = [str(m) for m in client.get("/admin/login/").context["messages"]]
    assert (
        messages
        == [
            "If a staff account exists for this address, a sign-in link is on its way. "
            "Check your inbox."
        ]
        * 2
    )


def test_admin_link_refuses_a_foreign_next(client, user_factory, mailoutbox):
    user_factory("boss@example.com", is_staff=True)
    response = ask_admin_link(client, "boss@example.com", "https://evil.example/")
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == ["/admin/"]
    assert IssuedToken.objects.get().next_url == "/admin/"
    assert "/auth/verify/?token=" in link_of(mailoutbox[0])


def test_admin_link_with_a_bad_address(client, mailoutbox):
    response = ask_admin_link(client, "not an address")
    assert response.status_code == 302
    messages = [str(m) for m in client.get("/admin/login/").context["messages"]]
    assert messages == ["Enter a valid email address."]
    assert mailoutbox == []


def test_admin_link_is_rate_limited_with_the_request_endpoint(
    client, api_client, user_factory, mailoutbox, settings
):
    settings.JWT_EMAIL_RATE_LIMITS = {"request_email": "2/h", "request_ip": "100/h"}
    user_factory("boss@example.com", is_staff=True)
    api_client.post("/auth/request/", {"email": "boss@example.com"}, format="json")
    assert ask_admin_link(client, "boss@example.com").status_code == 302
    limited = ask_admin_link(client, "boss@example.com")
    assert limited.status_code == 429
    assert len(mailoutbox) == 2
    assert TokenEvent.objects.filter(event="rate_limited", reason="request_email").count() == 1


def test_admin_link_from_the_login_forms_own_field(client, user_factory, mailoutbox):
    """An email-only user model: the button posts the login form, whose ``username``
    is the address (and a password field, perhaps filled, which is ignored)."""
    user_factory("boss@example.com", is_staff=True)
    response = client.post(
        "/auth/admin/request/",
        {"username": "boss@example.com", "password": "typed by mistake", "next": "/admin/"},
    )
    assert response.status_code == 302
    assert [message.to for message in mailoutbox] == [["boss@example.com"]]


def test_admin_link_by_username_shares_the_per_address_limit(
    client, api_client, user_factory, mailoutbox, settings
):
    """Posting ``username`` instead of ``email`` is no second budget for one inbox."""
    settings.JWT_EMAIL_RATE_LIMITS = {"request_email": "2/h", "request_ip": "100/h"}
    user_factory("boss@example.com", is_staff=True)
    api_client.post("/auth/request/", {"email": "boss@example.com"}, format="json")
    assert client.post("/auth/admin/request/", {"username": "boss@example.com"}).status_code == 302
    limited = client.post("/auth/admin/request/", {"username": "Boss@Example.com"})
    assert limited.status_code == 429
    assert len(mailoutbox) == 2


def test_admin_link_needs_csrf(user_factory, mailoutbox):
    from django.test import Client

    user_factory("boss@example.com", is_staff=True)
    strict = Client(enforce_csrf_checks=True)
    assert ask_admin_link(strict, "boss@example.com").status_code == 403
    assert mailoutbox == []


# --- large tables ------------------------------------------------------------------


@pytest.mark.postgres
def test_unfiltered_huge_list_is_not_counted_on_postgresql(admin_client, user, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://... (PostgreSQL's planner estimate)")
    for _ in range(30):
        event("issued", user=user)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_jwt_email_tokenevent")
    monkeypatch.setattr(EstimatedCountPaginator, "estimate_above", 10)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(EVENTS)
    sqls = [q["sql"] for q in queries.captured_queries]
    assert any("reltuples" in sql for sql in sqls)
    assert not any("COUNT(*)" in sql.upper() and "tokenevent" in sql for sql in sqls)
    assert response.context["cl"].result_count == 30
    # Filtered lists are counted exactly.
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(EVENTS, {"event": "issued"})
    assert any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


def test_paginator_counts_exactly_elsewhere(user):
    event("issued", user=user)
    paginator = EstimatedCountPaginator(TokenEvent.objects.all(), 10)
    assert paginator.count == 1
