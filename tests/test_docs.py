"""The documentation's reference against the code: every setting, error code,
signal, management command, system check id and endpoint the package has is
documented, each collected from the code itself (never from a hand list), so a
feature added without its documentation fails the suite.

The Sphinx build itself (``make docs``: strict, offline) runs in CI; these tests
read the Markdown sources, which is where a missing entry would be written.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import URLPattern, get_resolver
from rest_framework import exceptions as drf_exceptions

import django_jwt_email
from django_jwt_email import signals
from django_jwt_email.conf import DEFAULTS, PREFIX
from django_jwt_email.exceptions import ConfigurationError, JWTEmailError
from django_jwt_email.views import JSONView

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
PACKAGE = Path(django_jwt_email.__file__).resolve().parent
COMING = "Coming in this release"


def page(name: str) -> str:
    return (REFERENCE / f"{name}.md").read_text()


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row of ``text``."""
    lines = text.splitlines()
    separator = re.compile(r"^\|[-| :]+\|$")
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line, after in zip(lines, [*lines[1:], ""])
        # Neither a separator nor the header row above one.
        if line.startswith("|") and not separator.match(line) and not separator.match(after)
    ]


def first_cells(text: str) -> set[str]:
    """What the first cell of each table row names (`x`, or `x` / `y`)."""
    return {name for row in table_rows(text) for name in re.findall(r"`([^`]+)`", row[0])}


def package_sources() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text())
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
    }


# --- settings -----------------------------------------------------------------------


def settings_text() -> str:
    return page("settings")


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_every_setting_has_a_row_in_the_settings_reference(name):
    current = settings_text()
    assert name in first_cells(current) or PREFIX + name in first_cells(current), (
        f"{PREFIX}{name} is missing from docs/reference/settings.md"
    )


def documented_default(cell: str):
    literal = re.match(r"`([^`]+)`", cell)
    assert literal, f"no default in {cell!r}"
    return eval(literal.group(1), {"timedelta": timedelta})  # our own docs


def test_the_documented_defaults_are_the_defaults():
    current = settings_text()
    for row in table_rows(current):
        names = re.findall(r"`([A-Z_]+)`", row[0])
        if len(names) != 1 or names[0].removeprefix(PREFIX) not in DEFAULTS:
            continue
        name = names[0].removeprefix(PREFIX)
        if name == "RATE_LIMITS":  # "see below": the code block that follows
            block = re.search(r"JWT_EMAIL_RATE_LIMITS = (\{.*?\n\})", current, re.S)
            assert block and ast.literal_eval(block.group(1)) == DEFAULTS[name]
            continue
        assert documented_default(row[1]) == DEFAULTS[name], f"the default of {name}"


def test_the_settings_table_names_only_settings_that_exist():
    current = settings_text()
    known = set(DEFAULTS) | {PREFIX + name for name in DEFAULTS}
    rows = {
        names[0] for row in table_rows(current) if (names := re.findall(r"`([A-Z_]+)`", row[0]))
    }
    django_ratelimit = {name for name in rows if name.startswith("RATELIMIT_")}
    assert rows - django_ratelimit <= known


# --- error codes --------------------------------------------------------------------


def exception_codes() -> set[str]:
    for module in pkgutil.walk_packages(django_jwt_email.__path__, "django_jwt_email."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: set[str] = set()
    stack = [JWTEmailError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        # The base class's placeholder, and a configuration error, which the checks
        # report and no endpoint answers.
        if cls not in (JWTEmailError, ConfigurationError):
            found.add(cls.code)
    return found


def literal_codes() -> set[str]:
    """Codes written in the package as literals: ``{"code": "x"}``, ``code = "x"``
    (or ``"x" if ... else "y"``), and ``error(detail, "x")`` / ``_fail(..., "x")``;
    plus the codes of the DRF exceptions the package raises without one."""
    found: set[str] = set()

    def strings(node: ast.AST) -> set[str]:
        if isinstance(node, ast.IfExp):  # "x" if ... else "y": the test is no code
            return strings(node.body) | strings(node.orelse)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        return set()

    for tree in package_sources().values():
        # Class attributes (``code = "..."`` of the exceptions) are read from the
        # classes themselves, by exception_codes().
        in_classes = {
            id(item)
            for cls in ast.walk(tree)
            if isinstance(cls, ast.ClassDef)
            for item in cls.body
        }
        for node in ast.walk(tree):
            if id(node) in in_classes:
                continue
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values):
                    if isinstance(key, ast.Constant) and key.value == "code" and value:
                        found |= strings(value)
            elif isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets):
                    found |= strings(node.value)
            elif isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in ("error", "_fail"):
                    found |= {
                        a.value
                        for a in node.args
                        if isinstance(a, ast.Constant)
                        and isinstance(a.value, str)
                        and re.fullmatch(r"[a-z_]+", a.value)
                    }
                elif (
                    isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "exceptions"
                    and not any(isinstance(a, ast.Dict) for a in node.args)
                ):
                    drf = getattr(drf_exceptions, node.func.attr, None)
                    if isinstance(drf, type) and issubclass(drf, drf_exceptions.APIException):
                        found.add(drf.default_code)
    return found


def answered_codes(client) -> set[str]:
    """The codes the JSON endpoints answer to the wrong method, a body that is not
    JSON, broken JSON and an empty object: DRF's own refusals included."""
    found: set[str] = set()
    for pattern in get_resolver().url_patterns:
        for route in getattr(pattern, "url_patterns", [pattern]):
            view = getattr(route.callback, "view_class", None)
            if not isinstance(route, URLPattern) or not (view and issubclass(view, JSONView)):
                continue
            url = f"/auth/{route.pattern}"
            for response in (
                client.get(url),
                client.post(url, "x", content_type="text/plain"),
                client.post(url, "{", content_type="application/json"),
                client.post(url, "{}", content_type="application/json"),
            ):
                if response.get("Content-Type", "").startswith("application/json"):
                    code = response.json().get("code") if response.content else None
                    if code:
                        found.add(code)
    return found


@pytest.mark.django_db
def test_every_error_code_is_in_the_error_codes_table(client):
    codes = exception_codes() | literal_codes() | answered_codes(client)
    assert {"invalid_token", "rate_limited", "parse_error"} <= codes  # the collectors work
    documented = first_cells(page("http").partition("## Error codes")[2])
    assert codes - documented == set(), "error codes missing from docs/reference/http.md"


# --- endpoints ----------------------------------------------------------------------


def test_every_endpoint_is_in_the_http_reference():
    import django_jwt_email.urls as app_urls

    text = page("http")
    for route in app_urls.urlpatterns:
        assert f"auth/{route.pattern}" in text, f"auth/{route.pattern}"
        assert f":{route.name}`" in text, f"the URL name {route.name}"


# --- signals, commands, checks, adapter -----------------------------------------------


def test_every_signal_is_in_the_signals_reference():
    from django.dispatch import Signal

    names = {name for name, value in vars(signals).items() if isinstance(value, Signal)}
    assert names, "no signal found in signals.py"
    assert names - first_cells(page("signals")) == set()


def test_every_management_command_is_in_the_commands_reference():
    commands = {path.stem for path in (PACKAGE / "management" / "commands").glob("[!_]*.py")}
    assert commands
    text = page("commands")
    assert {name for name in commands if f"`{name}`" not in text} == set()


def check_ids() -> set[str]:
    found = set()
    for tree in package_sources().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= set(re.findall(r"django_jwt_email\.[EW]\d{3}", node.value))
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") in ("_error", "_warning")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                letter = "E" if node.func.id == "_error" else "W"  # type: ignore[attr-defined]
                found.add(f"django_jwt_email.{letter}{node.args[0].value:03d}")
    return found


def test_every_system_check_id_is_in_the_checks_reference():
    ids = check_ids()
    assert "django_jwt_email.E001" in ids and "django_jwt_email.W001" in ids
    documented = set()
    for name in first_cells(page("checks")):
        documented.add(
            name if name.startswith("django_jwt_email.") else f"django_jwt_email.{name}"
        )
    assert ids - documented == set()


def test_the_adapter_reference_documents_every_method():
    from django_jwt_email.adapter import DefaultAdapter

    methods = {name for name in vars(DefaultAdapter) if not name.startswith("_")}
    # A method is named with its arguments: `find_user(email)`.
    documented = {cell.split("(")[0] for cell in first_cells(page("adapter"))}
    assert methods - documented == set()


def test_no_page_announces_a_feature_as_coming():
    """Every feature of the release exists: a "coming" note is out of date."""
    pages = [path for path in DOCS.rglob("*.md") if "_build" not in path.parts]
    assert [str(path) for path in pages if COMING.lower() in path.read_text().lower()] == []


# --- the repository's Markdown files: links resolve, no file that is not there -------

MARKDOWN_FILES = ["CHANGELOG.md", "CONTRIBUTING.md", "README.md", "SECURITY.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def github_anchor(heading: str) -> str:
    """The id GitHub (and MyST, for the docs) gives a heading: lower case, only
    letters, digits, spaces, ``-`` and ``_`` kept, spaces made ``-``."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, outside its fenced code."""
    found: set[str] = set()
    fenced = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6} (.+)", line)):
            anchor = github_anchor(heading.group(1))
            # A repeated heading gets -1, -2, ... as on GitHub.
            count = sum(1 for name in found if re.fullmatch(rf"{re.escape(anchor)}(-\d+)?", name))
            found.add(f"{anchor}-{count}" if count else anchor)
    return found


def test_github_anchor_is_githubs():
    assert github_anchor("Same-browser binding (`JWT_EMAIL_BIND_TO_BROWSER`)") == (
        "same-browser-binding-jwt_email_bind_to_browser"
    )
    assert github_anchor("Continuous integration: `.ci/run`") == "continuous-integration-cirun"


@pytest.mark.parametrize("name", MARKDOWN_FILES)
def test_every_link_resolves_to_a_file_and_a_heading_of_the_repository(name):
    source = ROOT / name
    for target in LINK.findall(source.read_text()):
        if re.match(r"(https?|mailto):", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (source.parent / path) if path else source
        assert linked.exists(), f"{name} links to {path}, which is not in the repository"
        if anchor:
            assert anchor in anchors(linked), f"{name} links to {target}: no such heading"


@pytest.mark.parametrize("name", [*MARKDOWN_FILES, "README.pypi.md"])
def test_every_markdown_file_named_is_in_the_repository(name):
    """Not only links: a file named in the text (``DESIGN.md``, say) must be there."""
    named = set(re.findall(r"[\w./-]*\w\.md\b", (ROOT / name).read_text()))
    assert {path for path in named if not (ROOT / path).exists()} == set()


# --- the README and the package's long description -------------------------------------


def readme_script():
    spec = importlib.util.spec_from_file_location("readme", ROOT / "scripts" / "readme.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_the_long_description_is_the_readme_without_screenshots_or_relative_links():
    readme = (ROOT / "README.md").read_text()
    long_description = (ROOT / "README.pypi.md").read_text()
    assert long_description == readme_script().long_description(readme), (
        "README.pypi.md is out of step: run python scripts/readme.py write"
    )
    assert "docs/images/" in readme and "docs/images/" not in long_description
    assert [t for t in LINK.findall(long_description) if not t.startswith("http")] == []
