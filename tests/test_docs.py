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


def settings_tables() -> tuple[str, str]:
    """The reference's settings (before the coming section) and the coming ones."""
    text = page("settings")
    current, _, coming = text.partition(f"## Settings {COMING.lower()}")
    return current, coming


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_every_setting_has_a_row_in_the_settings_reference(name):
    current, _ = settings_tables()
    assert name in first_cells(current) or PREFIX + name in first_cells(current), (
        f"{PREFIX}{name} is missing from docs/reference/settings.md"
    )


def documented_default(cell: str):
    literal = re.match(r"`([^`]+)`", cell)
    assert literal, f"no default in {cell!r}"
    return eval(literal.group(1), {"timedelta": timedelta})  # our own docs


def test_the_documented_defaults_are_the_defaults():
    current, _ = settings_tables()
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
    current, coming = settings_tables()
    known = set(DEFAULTS) | {PREFIX + name for name in DEFAULTS}
    rows = {
        names[0] for row in table_rows(current) if (names := re.findall(r"`([A-Z_]+)`", row[0]))
    }
    django_ratelimit = {name for name in rows if name.startswith("RATELIMIT_")}
    assert rows - django_ratelimit <= known
    # A setting announced as coming moves to the table once it exists.
    for name in first_cells(coming):
        assert name.removeprefix(PREFIX) not in DEFAULTS, (
            f"{name} exists now: move its row out of the coming section"
        )


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


def test_the_adapter_reference_documents_every_method_or_says_it_is_coming():
    text = page("adapter")
    try:
        adapter = importlib.import_module("django_jwt_email.adapter")
    except ModuleNotFoundError:
        assert COMING in text
        return
    methods = {name for name in vars(adapter.DefaultAdapter) if not name.startswith("_")}
    # A method is named with its arguments: `find_user(email)`.
    documented = {cell.split("(")[0] for cell in first_cells(text)}
    assert methods - documented == set()


# --- no reference to a file that is not in the repository ----------------------------


@pytest.mark.parametrize("name", ["CHANGELOG.md", "CONTRIBUTING.md", "README.md", "SECURITY.md"])
def test_relative_links_point_at_files_of_the_repository(name):
    text = (ROOT / name).read_text()
    for target in re.findall(r"\]\((?!https?:|#|mailto:)([^)#\s]+)", text):
        assert (ROOT / target).exists(), f"{name} links to {target}, which is not in the repo"
