"""Admin screens: login links, sign-in sessions, the denylist, the audit log and its
activity page.

The admin reads the models and writes only through ``services`` (revoking). The
audit log is read-only for everyone, superusers included. The lists' machinery
for large tables is in ``lists``, the activity page's numbers and chart in
``activity``, admin sign-in by emailed link in ``signin``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import model_ngettext
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.signals import setting_changed
from django.db.models import Q, QuerySet
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy as _

from .. import services
from ..conf import PREFIX, app_settings
from ..http import client_of
from ..models import STATES, IssuedToken, RevokedToken, SignInSession, TokenEvent
from .activity import activity_report
from .lists import LargeTableAdmin, seconds_column
from .signin import AdminRequestView

# The admin login page with the "Email me a sign-in link" form, with ADMIN_LOGIN_LINK
# only. Set only on the default site, only if the site has not chosen its own.
LOGIN_TEMPLATE = "django_jwt_email/admin/login.html"


def offer_login_link() -> None:
    """Put the link form on the admin's login page, or take it off, as the setting says."""
    if app_settings.ADMIN_LOGIN_LINK and admin.site.login_template is None:
        admin.site.login_template = LOGIN_TEMPLATE
    elif not app_settings.ADMIN_LOGIN_LINK and admin.site.login_template == LOGIN_TEMPLATE:
        admin.site.login_template = None


offer_login_link()


@receiver(setting_changed)
def _reoffer_login_link(*, setting: str, **kwargs: Any) -> None:
    if setting == PREFIX + "ADMIN_LOGIN_LINK":
        offer_login_link()


STATE_LABELS = {
    "active": _("active"),
    "used": _("used"),
    "expired": _("expired"),
    "locked": _("locked (wrong codes)"),
    "revoked": _("revoked"),
}


# --- login links -------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """A link's state, in SQL: the same rule as ``IssuedToken.state`` (one definition)."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(state, STATE_LABELS[state]) for state in reversed(STATES)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.in_state(value) if value in STATES else queryset  # type: ignore[attr-defined]


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=64,
        initial="revoked_by_admin",
        help_text=_("Recorded with each revocation and in the audit log (64 characters)."),
    )


# The keyed hashes (address, code, browser) mean nothing to a reader. Times are
# columns to the second.
ISSUED_FIELDS = (
    "jti",
    "user",
    "signup_email",
    "issued",
    "expires",
    "used",
    "revoked",
    "revoke_reason",
    "ip",
    "user_agent",
    "next_url",
    "code_attempts",
)


class ReadOnlyAdmin(LargeTableAdmin):
    """No add, change or delete for anyone, superusers included: the rows are
    written by the flows alone (and deleting an issued row would forget a used
    refresh token, and with it reuse detection). Actions go through services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RevocableAdmin(ReadOnlyAdmin):
    """Read-only, plus "Revoke selected": a confirmation page asking for a reason, then
    ``revoke_rows`` (a service). Allowed to users who may change the model."""

    actions = ["revoke_selected"]
    revoke_rows: Callable[..., int]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description=_("Revoke selected"), permissions=["revoke"])
    def revoke_selected(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        form = RevokeForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_valid():
            count = self.revoke_rows(
                queryset.select_related("user"),
                reason=form.cleaned_data["reason"],
                revoked_by=request.user,
                client=client_of(request),
            )
            message = _("Revoked %(count)d %(items)s.") % {
                "count": count,
                "items": model_ngettext(self.opts, count),
            }
            self.message_user(request, message, messages.SUCCESS)
            return None
        count = queryset.count()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Revoke %(name)s") % {"name": self.opts.verbose_name_plural},
            "opts": self.opts,
            "form": form,
            "count": count,
            # The model's name in the number the count asks for (one string to translate).
            "items": model_ngettext(self.opts, count),
            "preview": queryset.select_related("user")[:20],
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "django_jwt_email/admin/revoke_confirmation.html", context
        )


@admin.register(IssuedToken)
class IssuedTokenAdmin(RevocableAdmin):
    """Every login link emailed. Read-only; revoking is the one action."""

    list_display = ["short_jti", "user_column", "status", "issued", "expires", "ip"]
    list_filter = [StatusFilter, "issued_at"]
    list_select_related = ["user"]
    date_hierarchy = "issued_at"
    fields = ISSUED_FIELDS
    readonly_fields = ISSUED_FIELDS

    @admin.display(description=_("jti"), ordering="jti")
    def short_jti(self, row: IssuedToken) -> str:
        return f"{row.jti[:12]}…"

    @admin.display(description=_("user"), ordering="user")
    def user_column(self, row: IssuedToken) -> str:
        if row.user is not None:
            return str(row.user)
        return _("sign-up: %(email)s") % {"email": row.signup_email} if row.signup_email else "-"

    @admin.display(description=_("status"))
    def status(self, row: IssuedToken) -> str:
        return str(STATE_LABELS[row.state()])

    issued = seconds_column("issued_at", _("issued"))
    expires = seconds_column("expires_at", _("expires"))
    used = seconds_column("used_at", _("used"))
    revoked = seconds_column("revoked_at", _("revoked"))

    revoke_rows = staticmethod(services.revoke_issued)


# --- sign-in sessions ------------------------------------------------------------------


class SessionStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("active")), ("expired", _("expired")), ("revoked", _("revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        conditions = {
            "active": Q(revoked_at=None, expires_at__gt=now),
            "expired": Q(revoked_at=None, expires_at__lte=now),
            "revoked": Q(revoked_at__isnull=False),
        }
        value = self.value()
        return queryset.filter(conditions[value]) if value in conditions else queryset


class ClientFilter(admin.SimpleListFilter):
    title = _("client")
    parameter_name = "client"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("browser", _("browser")), ("api", _("API"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "browser":
            return queryset.exclude(session_key="")
        if self.value() == "api":
            return queryset.filter(session_key="")
        return queryset


SESSION_FIELDS = (
    "sid",
    "user",
    "client",
    "signed_in",
    "expires",
    "last_refresh",
    "refresh_count",
    "revoked",
    "revoke_reason",
    "ip",
    "user_agent",
    "login_jti",
)


@admin.register(SignInSession)
class SignInSessionAdmin(RevocableAdmin):
    """Who is signed in, where and since when: one row per sign-in (an API session or
    a browser's). Revoking one signs that client out at once."""

    list_display = [
        "short_sid",
        "user",
        "client",
        "status",
        "signed_in",
        "last_refresh",
        "refresh_count",
        "ip",
    ]
    list_filter = [SessionStatusFilter, ClientFilter, "created_at"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    fields = SESSION_FIELDS
    readonly_fields = SESSION_FIELDS
    search_fields = ["user__email", "=sid", "=ip"]
    search_help_text = _("Part of a user's email address, or an exact session id or IP address.")
    exact_search_field = "sid"

    @admin.display(description=_("session"), ordering="sid")
    def short_sid(self, row: SignInSession) -> str:
        return f"{row.sid[:12]}…"

    @admin.display(description=_("client"))
    def client(self, row: SignInSession) -> str:
        return str(_("browser") if row.is_browser else _("API"))

    @admin.display(description=_("status"))
    def status(self, row: SignInSession) -> str:
        return str(STATE_LABELS[row.state()])

    signed_in = seconds_column("created_at", _("signed in"))
    last_refresh = seconds_column("refreshed_at", _("last refresh"))
    expires = seconds_column("expires_at", _("expires"))
    revoked = seconds_column("revoked_at", _("revoked"))

    revoke_rows = staticmethod(services.revoke_sessions)


# --- the denylist ----------------------------------------------------------------


@admin.register(RevokedToken)
class RevokedTokenAdmin(ReadOnlyAdmin):
    """Who revoked what, why and when. Read-only: entries are written by revoking."""

    list_display = ["jti", "kind", "user", "reason", "revoked_by", "revoked", "expires"]
    list_filter = ["kind", "revoked_at"]
    list_select_related = ["user", "revoked_by"]
    date_hierarchy = "revoked_at"
    fields = readonly_fields = (
        "jti",
        "kind",
        "user",
        "reason",
        "revoked_by",
        "revoked",
        "expires",
    )

    revoked = seconds_column("revoked_at", _("revoked at"))
    expires = seconds_column("expires_at", _("expires"))


# --- the audit log ---------------------------------------------------------------


class ReasonFilter(admin.SimpleListFilter):
    """The reasons seen in the latest events. ``SELECT DISTINCT reason`` would read
    the whole log on every page view; the newest rows come from the time index."""

    title = _("reason")
    parameter_name = "reason"
    sample = 5000

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        latest = TokenEvent.objects.order_by("-created_at").values_list("reason", flat=True)
        reasons = {reason for reason in latest[: self.sample] if reason}
        chosen = self.value()
        if chosen:
            reasons.add(chosen)
        return [(reason, reason) for reason in sorted(reasons)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(reason=self.value()) if self.value() else queryset


class _Echo:
    """A file that hands back what is written, for csv.writer in a streaming response."""

    def write(self, value: str) -> str:
        return value


@admin.register(TokenEvent)
class TokenEventAdmin(ReadOnlyAdmin):
    """The audit log: read-only for everyone, with a CSV export and the activity page."""

    list_display = ["time", "event", "reason", "user", "ip", "jti"]
    list_filter = ["event", ReasonFilter]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]
    # The keyed address hash means nothing to a reader.
    fields = readonly_fields = (
        "time",
        "event",
        "reason",
        "jti",
        "user",
        "ip",
        "user_agent",
        "count",
    )

    time = seconds_column("created_at", _("time"))

    # Columns of the export: the row as stored (a jti, never a token).
    CSV_HEADER = ["time", "event", "reason", "jti", "user_id", "user_email", "ip", "user_agent"]

    @admin.action(description=_("Export selected as CSV"), permissions=["view"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[TokenEvent]
    ) -> StreamingHttpResponse:
        """Stream the rows (any number, in constant memory) as CSV."""
        email = f"user__{get_user_model().get_email_field_name()}"
        rows = queryset.order_by("-created_at", "-pk").values_list(
            "created_at", "event", "reason", "jti", "user_id", email, "ip", "user_agent"
        )
        writer = csv.writer(_Echo())

        def lines() -> Iterator[str]:
            yield writer.writerow(self.CSV_HEADER)
            for row in rows.iterator(chunk_size=2000):
                yield writer.writerow([_csv_cell(value) for value in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        filename = f"token-events-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        patch_cache_control(response, no_store=True, private=True)
        return response

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        activity = path(
            "activity/",
            self.admin_site.admin_view(self.activity_view),
            name="{}_{}_activity".format(*info),
        )
        return [activity, *super().get_urls()]

    def activity_view(self, request: HttpRequest) -> HttpResponse:
        """Events per day over the last 30 days, top rejection reasons, most limited IPs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = activity_report(timezone.localdate())
        context = {
            **self.admin_site.each_context(request),
            "title": _("Sign-in activity, last %(days)d days") % {"days": len(report.days)},
            "opts": self.opts,
            "report": report,
        }
        return TemplateResponse(request, "django_jwt_email/admin/activity.html", context)


def _csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection):
    user agents and reasons come from clients."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


__all__ = [
    "AdminRequestView",
    "IssuedTokenAdmin",
    "RevokedTokenAdmin",
    "SignInSessionAdmin",
    "TokenEventAdmin",
]
