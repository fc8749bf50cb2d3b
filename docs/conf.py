"""Sphinx configuration of the documentation site (``make docs``).

Built offline: no intersphinx, no remote fonts, scripts or images; the theme
(furo) ships its own assets. Pages are Markdown (MyST). ``make docs`` runs
Sphinx with ``-W -n``, so a broken reference or a page left out of every
toctree fails the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parent)]

import django_jwt_email  # noqa: E402

project = "django-jwt-email"
author = "django-jwt-email developers"
copyright = "django-jwt-email developers"
release = django_jwt_email.__version__
version = release

extensions = ["myst_parser", "jwt_email_docs"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
# Fenced blocks in languages Pygments does not know are shown as plain text.
suppress_warnings: list[str] = []

html_theme = "furo"
html_title = f"django-jwt-email {release}"
html_static_path: list[str] = []
html_theme_options = {"top_of_page_buttons": []}
# Nothing is fetched from the network while the site is built or read.
html_permalinks_icon = "#"
