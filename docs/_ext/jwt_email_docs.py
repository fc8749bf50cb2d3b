"""A Sphinx directive that renders the settings table from ``conf.DEFAULTS``.

``jwt-email-settings`` lists every ``JWT_EMAIL_*`` setting with its default,
taken from the dict itself, and the comment written above its entry in
``conf.py``: the table can never disagree with the code. The prose of the
reference page says more about each setting; ``tests/test_docs.py`` checks
that the prose names every one.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

CONF = Path(__file__).resolve().parents[2] / "django_jwt_email" / "conf.py"
KEY = re.compile(r'^    "(?P<name>[A-Z_]+)":')
COMMENT = re.compile(r"^    # ?(?P<text>.*)$")


def comments() -> dict[str, str]:
    """The comment lines written right above each top-level entry of DEFAULTS."""
    found: dict[str, str] = {}
    pending: list[str] = []
    inside = False
    for line in CONF.read_text().splitlines():
        if line.startswith("DEFAULTS"):
            inside = True
            continue
        if not inside:
            continue
        if line == "}":
            break
        if match := COMMENT.match(line):
            pending.append(match["text"])
        elif match := KEY.match(line):
            found[match["name"]] = " ".join(pending)
            pending = []
        elif not line.startswith("        "):
            pending = []
    return found


def show(value: Any) -> str:
    """A default as a site would write it in settings.py."""
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
            if seconds % size == 0:
                return f"timedelta({unit}={seconds // size})"
        return f"timedelta(seconds={seconds})"
    return repr(value)


def cell(*children: nodes.Node) -> nodes.entry:
    entry = nodes.entry()
    entry += nodes.paragraph("", "", *children)
    return entry


class SettingsTable(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        from django_jwt_email.conf import DEFAULTS, PREFIX

        self.env.note_dependency(str(CONF))
        notes = comments()
        table = nodes.table(classes=["jwt-email-settings"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (25, 30, 45):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        row = nodes.row()
        for title in ("setting", "default", "from conf.py"):
            row += cell(nodes.Text(title))
        head += row
        group += head
        body = nodes.tbody()
        for name, value in DEFAULTS.items():
            row = nodes.row()
            row += cell(nodes.literal(text=PREFIX + name))
            row += cell(nodes.literal(text=show(value)))
            row += cell(nodes.Text(notes.get(name, "")))
            body += row
        group += body
        return [table]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("jwt-email-settings", SettingsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
