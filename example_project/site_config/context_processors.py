"""Template context of every page of the example site."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """``show_outbox``: the dev outbox page exists only in DEBUG."""
    return {"show_outbox": settings.DEBUG}
