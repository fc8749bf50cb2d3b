"""The distribution as a site gets it: the sdist and the wheel built from it pass
``twine check``, the wheel holds every file of the package, and, installed into
a fresh virtualenv with nothing of the checkout on its path, it runs the example
site's system check.

Marked ``package``: it builds and installs (from PyPI or pip's cache), so it
runs in CI's package step, once, not in ``make test`` or per tox environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel, built as a package index would get them."""
    # From a copy of the files git tracks: the checkout's own build leftovers (an
    # egg-info's SOURCES.txt from `pip install -e .`) would otherwise add files
    # that the package-data patterns miss.
    source = tmp_path_factory.mktemp("source")
    for name in run("git", "ls-files", "-z", cwd=ROOT).split("\0"):
        if name and (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    # Without --no-isolation: the build backend comes from a fresh environment, as
    # on a publisher's machine. The wheel is built from the sdist, so a file the
    # sdist forgets is missing from the wheel too.
    run(sys.executable, "-m", "build", "--outdir", out, source, cwd=out)
    return out


def test_sdist_and_wheel_pass_twine_check(dist):
    files = sorted(dist.iterdir())
    assert sorted(path.suffix for path in files) == [".gz", ".whl"]
    output = run(sys.executable, "-m", "twine", "check", "--strict", *files, cwd=dist)
    assert output.count("PASSED") == 2


def test_wheel_holds_every_file_of_the_package(dist):
    """Templates, py.typed, migrations: a package-data pattern that matches nothing,
    or a new kind of file no pattern names, shows here."""
    tracked = run("git", "ls-files", "django_jwt_email", cwd=ROOT).split()
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.startswith("django_jwt_email/")}
    assert set(tracked) - shipped == set()


def test_the_wheel_ships_the_compiled_catalogs(dist):
    """The four languages' .mo files, as committed (building needs no gettext)."""
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for language in ("de", "es", "fr", "pt_BR"):
            name = f"django_jwt_email/locale/{language}/LC_MESSAGES/django.mo"
            assert archive.read(name) == (ROOT / name).read_bytes()


def test_installed_wheel_runs_the_example_sites_check(dist, tmp_path):
    [wheel] = dist.glob("*.whl")
    home = tmp_path / "venv"
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    # The example site's own dependencies (drf-spectacular, its sidecar, ninja...),
    # not the app's: from its requirements file, which names no path of the checkout.
    requirements = ROOT / "example_project" / "requirements.txt"
    run(python, "-m", "pip", "install", "-q", wheel, "-r", requirements, cwd=tmp_path)
    site = tmp_path / "site"
    run("cp", "-r", ROOT / "example_project", site, cwd=tmp_path)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "JWT_EMAIL_KEY_FILE": str(tmp_path / "key.pem"),
    }
    where = run(
        python, "-c", "import django_jwt_email; print(django_jwt_email.__file__)", cwd=site
    )
    assert str(home) in where and str(ROOT) not in where
    manage = site / "manage.py"
    run(
        python,
        manage,
        "jwt_email_keys",
        "generate",
        "--output",
        env["JWT_EMAIL_KEY_FILE"],
        cwd=site,
        env=env,
    )
    output = run(python, manage, "check", "--fail-level", "WARNING", cwd=site, env=env)
    assert "System check identified no issues" in output
    run(python, manage, "migrate", "--noinput", "-v", "0", cwd=site, env=env)
