"""The admin's activity page: events per day, top rejection reasons, most limited IPs.

The database counts (grouped aggregate queries on ``TokenEvent``); Python only
lays the numbers out as the geometry of a line chart that the template draws
as inline SVG: no JavaScript, no external asset. No writes and no HTTP here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from ..models import EventType as Event
from ..models import TokenEvent

__all__ = [
    "activity_report",
]

# The charted events: Okabe-Ito colours (safe for colour-blind readers) and a
# dash pattern each, so that no series is told apart by colour alone.
SERIES: list[tuple[str, Any, str, str]] = [
    (str(Event.ISSUED), _("issued"), "#0072B2", ""),
    (str(Event.VERIFIED), _("verified"), "#009E73", "7 3"),
    (str(Event.REJECTED), _("rejected"), "#D55E00", "2 3"),
    (str(Event.RATE_LIMITED), _("rate limited"), "#CC79A7", "9 3 2 3"),
]


@dataclass(frozen=True)
class Frame:
    """The chart's box in SVG units: the plot sits inside the margins."""

    width: int = 760
    height: int = 300
    left: int = 56
    right: int = 728
    top: int = 16
    baseline: int = 248

    @property
    def centre_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def centre_y(self) -> float:
        return (self.top + self.baseline) / 2


@dataclass
class Series:
    event: str
    label: str
    colour: str
    dash: str
    counts: list[int]
    points: list[tuple[float, float]] = field(default_factory=list)
    # (x, y, tooltip) of each day's marker.
    markers: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


@dataclass
class ActivityReport:
    days: list[date]
    series: list[Series]
    top_reasons: list[dict[str, Any]]
    top_ips: list[dict[str, Any]]
    frame: Frame = Frame()
    y_ticks: list[tuple[float, int]] = field(default_factory=list)  # (y, value)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)  # (x, label)

    @property
    def rows(self) -> list[tuple[date, list[int]]]:
        """The numbers behind the chart, a row per day, for the table under it."""
        return [(day, [s.counts[n] for s in self.series]) for n, day in enumerate(self.days)]


def activity_report(today: date, days: int = 30) -> ActivityReport:
    """The ``days`` local days up to ``today``, in three queries; the chart's is one
    ``GROUP BY`` day and event."""
    first = today - timedelta(days=days - 1)
    recent = TokenEvent.objects.filter(
        created_at__gte=timezone.make_aware(datetime.combine(first, time.min))
    )
    counted = {
        (row["day"], row["event"]): row["count"]
        for row in recent.per_day([event for event, *rest in SERIES])
    }
    day_list = [first + timedelta(days=n) for n in range(days)]
    report = ActivityReport(
        days=day_list,
        series=[
            Series(event, str(label), colour, dash, [counted.get((d, event), 0) for d in day_list])
            for event, label, colour, dash in SERIES
        ],
        top_reasons=list(recent.filter(event=Event.REJECTED).top("reason")),
        top_ips=list(recent.filter(event=Event.RATE_LIMITED).exclude(ip=None).top("ip")),
    )
    _lay_out(report)
    return report


def _lay_out(report: ActivityReport) -> None:
    """Place the points and the axis ticks of ``report`` in its frame."""
    frame, days = report.frame, len(report.days)
    peak = max((max(s.counts) for s in report.series), default=0)
    step = tick_step(peak)
    top_value = step * max(2, math.ceil(peak / step))

    def x(n: int) -> float:
        return round(frame.left + n * (frame.right - frame.left) / max(1, days - 1), 1)

    def y(value: int) -> float:
        return round(frame.baseline - value * (frame.baseline - frame.top) / top_value, 1)

    for series in report.series:
        series.points = [(x(n), y(count)) for n, count in enumerate(series.counts)]
        # Markers (with a tooltip) on the days that had any: zeros would hide each other.
        series.markers = [
            (px, py, f"{formats.date_format(day, 'M j')}: {count} {series.label}")
            for (px, py), day, count in zip(series.points, report.days, series.counts, strict=True)
            if count
        ]
    report.y_ticks = [(y(value), value) for value in range(0, top_value + 1, step)]
    # A label a week apart, counted back from today, so that the last day has one.
    report.x_ticks = [
        (x(n), formats.date_format(report.days[n], "M j")) for n in range(days - 1, -1, -7)
    ][::-1]


def tick_step(peak: int) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about four gridlines."""
    rough = max(peak / 4, 1)
    magnitude = 10 ** math.floor(math.log10(rough))
    return next(f * magnitude for f in (1, 2, 5, 10) if f * magnitude >= rough)
