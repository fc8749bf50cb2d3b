"""Admin screens: issued tokens, the denylist, the audit log and its activity page.

The admin reads the models and writes only through ``services`` (revoking). The
lists stay cheap on tables of millions of rows: users are joined (no query per
row), the unfiltered total is never counted, facet counts are off, and on
PostgreSQL an unfiltered list takes its size from the planner's estimate. The
audit log is read-only for everyone, superusers included. Staff may also sign
in to the admin by an emailed link: ``AdminRequestView`` is the view its login
page form posts to.
"""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Max, Min, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.cache import patch_cache_control
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views import View
from django.views.decorators.csrf import csrf_protect

from . import services
from .activity import activity_report
from .clientinfo import client_of
from .conf import app_settings
from .models import IssuedToken, RevokedToken, TokenEvent
from .views import bind_browser, no_store

Event = TokenEvent.Event

# The admin login page with the "Email me a sign-in link" form. Set only on the
# default site, only if the site has not chosen its own login template.
LOGIN_TEMPLATE = "django_jwt_email/admin/login.html"
if admin.site.login_template is None:
    admin.site.login_template = LOGIN_TEMPLATE


# --- lists that stay fast on large tables ---------------------------------------


class EstimatedCountPaginator(Paginator):
    """A paginator that does not ``COUNT(*)`` an unfiltered huge PostgreSQL table.

    Counting a million rows reads them all; the planner's estimate (kept fresh
    by autovacuum) is enough to number the pages. Filtered lists, small tables
    and other databases are counted exactly.
    """

    estimate_above = 100_000

    @cached_property
    def count(self) -> int:
        estimate = _estimated_rows(self.object_list)
        if estimate is not None and estimate > self.estimate_above:
            return estimate
        return super().count


def _estimated_rows(queryset: Any) -> int | None:
    if not isinstance(queryset, QuerySet) or queryset.query.where:
        return None
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    # -1: never analysed (PostgreSQL 14+), so no estimate yet.
    return int(row[0]) if row and row[0] >= 0 else None


def to_the_second(value: datetime) -> str:
    """A time as an audit trail needs it: local, to the second, sortable."""
    return formats.date_format(timezone.localtime(value), "Y-m-d H:i:s")


class LargeTableAdmin(admin.ModelAdmin):
    """Shared settings of the three screens: fast lists, one search rule."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    search_fields = ["user__email", "=jti", "=ip"]
    search_help_text = _("Part of a user's email address, or an exact jti or IP address.")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Email by substring; ``jti`` and IP only exactly, so their indexes are used
        (and a word that is not an address never reaches an ``inet`` column)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        user_model = get_user_model()
        # Users first (a small table), then their rows by the user_id index: a join
        # with an OR would read every row of a large table.
        users = user_model._default_manager.filter(
            **{f"{user_model.get_email_field_name()}__icontains": term}
        ).values("pk")
        condition = Q(user__in=users) | Q(jti=term)
        try:
            condition |= Q(ip=str(ipaddress.ip_address(term)))
        except ValueError:
            pass
        return queryset.filter(condition), False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LargeTableChangeList


class LargeTableChangeList(ChangeList):
    """A changelist whose date hierarchy costs two index lookups, not a table scan.

    Django lists the years, months or days that have rows with ``SELECT DISTINCT``
    over every matching row (seconds on a million). Here the span comes from
    ``MIN``/``MAX`` on the indexed date, and every period inside it is offered:
    a quiet day is a link to an empty page, a price worth paying.
    """

    def date_links(self) -> dict[str, Any]:
        """The context of ``admin/date_hierarchy.html``, as Django's tag builds it."""
        field = self.date_hierarchy
        year, month, day = (
            self.params.get(f"{field}__{part}") for part in ("year", "month", "day")
        )

        def link(**parts: Any) -> str:
            return str(
                self.get_query_string(
                    {f"{field}__{k}": v for k, v in parts.items()}, [f"{field}__"]
                )
            )

        if year and month and day:
            chosen = date(int(year), int(month), int(day))
            return {
                "show": True,
                "back": {
                    "link": link(year=year, month=month),
                    "title": _title(chosen, "YEAR_MONTH_FORMAT"),
                },
                "choices": [{"title": _title(chosen, "MONTH_DAY_FORMAT")}],
            }
        span = self.queryset.aggregate(first=Min(field), last=Max(field))
        first, last = _local_date(span["first"]), _local_date(span["last"])
        if not year and first and last and first.year == last.year:
            year = str(first.year)
            if first.month == last.month:
                month = str(first.month)
        if year and month:
            days = range(first.day, last.day + 1) if first and last else range(0)
            return {
                "show": True,
                "back": {"link": link(year=year), "title": year},
                "choices": [
                    {
                        "link": link(year=year, month=month, day=n),
                        "title": _title(date(int(year), int(month), n), "MONTH_DAY_FORMAT"),
                    }
                    for n in days
                ],
            }
        if year:
            months = range(first.month, last.month + 1) if first and last else range(0)
            return {
                "show": True,
                "back": {"link": link(), "title": _("All dates")},
                "choices": [
                    {
                        "link": link(year=year, month=n),
                        "title": _title(date(int(year), n, 1), "YEAR_MONTH_FORMAT"),
                    }
                    for n in months
                ],
            }
        years = range(first.year, last.year + 1) if first and last else range(0)
        return {
            "show": True,
            "back": None,
            "choices": [{"link": link(year=n), "title": str(n)} for n in years],
        }


def _local_date(value: datetime | None) -> date | None:
    if value is None:
        return None
    return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()


def _title(day: date, format_name: str) -> str:
    return capfirst(formats.date_format(day, format_name))


# --- issued tokens -------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """Active, used, expired or revoked, as ``IssuedToken.status`` says, in SQL."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("active", _("active")),
            ("used", _("used")),
            ("expired", _("expired")),
            ("revoked", _("revoked")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        # Same precedence as IssuedToken.status: revoked, then used, then expired.
        conditions = {
            "active": Q(revoked_at=None, used_at=None, expires_at__gt=now),
            "used": Q(revoked_at=None, used_at__isnull=False),
            "expired": Q(revoked_at=None, used_at=None, expires_at__lte=now),
            "revoked": Q(revoked_at__isnull=False),
        }
        value = self.value()
        return queryset.filter(conditions[value]) if value in conditions else queryset


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=64,
        initial="revoked_by_admin",
        help_text=_("Recorded with each revocation and in the audit log (64 characters)."),
    )


# The keyed hashes (address, code, browser) mean nothing to a reader.
ISSUED_FIELDS = (
    "jti",
    "kind",
    "user",
    "signup_email",
    "sid",
    "issued_at",
    "expires_at",
    "used_at",
    "revoked_at",
    "revoke_reason",
    "ip",
    "user_agent",
    "next_url",
    "code_attempts",
)


@admin.register(IssuedToken)
class IssuedTokenAdmin(LargeTableAdmin):
    """Every login link and refresh token minted. Read-only; revoking is the one action."""

    list_display = ["short_jti", "user_column", "kind", "status", "issued", "expires", "ip"]
    list_filter = ["kind", StatusFilter, "issued_at"]
    list_select_related = ["user"]
    date_hierarchy = "issued_at"
    actions = ["revoke_selected"]
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
        return str(_(row.status))

    @admin.display(description=_("issued"), ordering="issued_at")
    def issued(self, row: IssuedToken) -> str:
        return to_the_second(row.issued_at)

    @admin.display(description=_("expires"), ordering="expires_at")
    def expires(self, row: IssuedToken) -> str:
        return to_the_second(row.expires_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a row would forget a used refresh token, and with it reuse detection.
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description=_("Revoke selected"), permissions=["revoke"])
    def revoke_selected(
        self, request: HttpRequest, queryset: QuerySet[IssuedToken]
    ) -> HttpResponse | None:
        """Ask for a reason on a confirmation page, then revoke (refresh tokens with
        their whole session) through ``services.revoke_issued``."""
        form = RevokeForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_valid():
            count = services.revoke_issued(
                queryset.select_related("user"),
                reason=form.cleaned_data["reason"],
                revoked_by=request.user,
                client=client_of(request),
            )
            message = ngettext("Revoked %d token.", "Revoked %d tokens.", count) % count
            self.message_user(request, message, messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Revoke tokens"),
            "opts": self.opts,
            "form": form,
            "count": queryset.count(),
            "preview": queryset.select_related("user")[:20],
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "django_jwt_email/admin/revoke_confirmation.html", context
        )


# --- the denylist ----------------------------------------------------------------


@admin.register(RevokedToken)
class RevokedTokenAdmin(LargeTableAdmin):
    """Who revoked what, why and when. Read-only: entries are written by revoking."""

    list_display = ["jti", "kind", "user", "reason", "revoked_by", "revoked", "expires_at"]
    list_filter = ["kind", "revoked_at"]
    list_select_related = ["user", "revoked_by"]
    date_hierarchy = "revoked_at"

    @admin.display(description=_("revoked at"), ordering="revoked_at")
    def revoked(self, row: RevokedToken) -> str:
        return to_the_second(row.revoked_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
        if self.value():
            reasons.add(self.value())
        return [(reason, reason) for reason in sorted(reasons)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(reason=self.value()) if self.value() else queryset


class _Echo:
    """A file that hands back what is written, for csv.writer in a streaming response."""

    def write(self, value: str) -> str:
        return value


@admin.register(TokenEvent)
class TokenEventAdmin(LargeTableAdmin):
    """The audit log: read-only for everyone, with a CSV export and the activity page."""

    list_display = ["time", "event", "reason", "user", "ip", "jti"]
    list_filter = ["event", ReasonFilter]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]

    @admin.display(description=_("time"), ordering="created_at")
    def time(self, row: TokenEvent) -> str:
        return to_the_second(row.created_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

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


# --- admin sign-in by emailed link ---------------------------------------------------


class AdminRequestForm(forms.Form):
    email = forms.EmailField(max_length=254)
    next = forms.CharField(required=False, max_length=2000)


@method_decorator(csrf_protect, name="dispatch")
class AdminRequestView(View):
    """POST auth/admin/request/ (URL name ``django_jwt_email:admin_request``): email a
    staff user a sign-in link to the admin. The admin login page's form posts here.

    The answer is the same for every address; only an active staff account gets a
    link (``services.deliver`` decides, with ``staff_only``). The link is an ordinary
    login link: same token, lifetime, single use and audit, through the verify page.
    Rate limits: ``RateLimitMiddleware`` must count this URL name exactly as
    ``django_jwt_email:request`` (same ``request_ip`` and ``request_email`` buckets),
    so that it is no second budget for mail bombing.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = AdminRequestForm(request.POST)
        admin_index = _admin_url("admin:index")
        requested = form.data.get("next", "")
        next_url = requested if _is_local_path(request, requested) else admin_index
        response = HttpResponseRedirect(
            f"{_admin_url('admin:login')}?{urlencode({'next': next_url})}"
        )
        if not form.is_valid():
            messages.error(request, _("Enter a valid email address."))
            return no_store(response)
        browser_hash = bind_browser(request, response) if app_settings.BIND_TO_BROWSER else ""
        services.request_link(
            form.cleaned_data["email"],
            next_url=next_url,
            client=client_of(request),
            browser_hash=browser_hash,
            staff_only=True,
        )
        messages.success(
            request,
            _(
                "If a staff account exists for this address, a sign-in link is on its "
                "way. Check your inbox."
            ),
        )
        return no_store(response)


def _admin_url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return "/"


def _is_local_path(request: HttpRequest, url: str) -> bool:
    """A path on this site (the verify page checks ``next`` again on redemption)."""
    return url.startswith("/") and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
