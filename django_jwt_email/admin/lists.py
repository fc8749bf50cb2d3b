"""Admin lists that stay fast on tables of millions of rows; no writes here.

Users are joined (no query per row), the unfiltered total is never counted
twice, facet counts are off, an unfiltered PostgreSQL list takes its size from
the planner's estimate, the date hierarchy comes from ``MIN``/``MAX`` instead of
``SELECT DISTINCT``, and search goes through indexes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Max, Min, Q, QuerySet
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

__all__ = [
    "LargeTableAdmin",
    "seconds_column",
    "to_the_second",
]

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


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


def seconds_column(field: str, description: str | StrPromise) -> Callable[[Any, Any], str]:
    """An admin column of the datetime ``field``, to the second, for a list or a
    detail page (Django's own display of a datetime stops at the minute)."""

    @admin.display(description=description, ordering=field)
    def column(model_admin: Any, row: Any) -> str:
        value = getattr(row, field)
        return to_the_second(value) if value is not None else "-"

    return column


class LargeTableAdmin(admin.ModelAdmin):
    """Shared settings of the three screens: fast lists, one search rule."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    search_fields = ["user__email", "=jti", "=ip"]
    search_help_text = _("Part of a user's email address, or an exact jti or IP address.")
    #: The identifier searched exactly (by its unique index).
    exact_search_field = "jti"

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
        condition = Q(user__in=users) | Q(**{self.exact_search_field: term})
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
