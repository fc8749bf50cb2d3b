"""The translation catalogs: check them (``make lint``) or update them (``make messages``).

Two trees of catalogs: the app's (``django_jwt_email/locale``, shipped in the
wheel) and the example site's (``example_project/locale``). Each language is a
``LC_MESSAGES/django.po`` and its compiled ``django.mo``, both committed, so that
building the wheel needs no gettext.

``check`` extracts the strings marked in each tree with Django's makemessages,
into a temporary copy, and fails when a catalog

- lacks a marked string, or leaves one untranslated or fuzzy (``msgcmp``);
- keeps a string nobody marks any more;
- does not compile (``msgfmt --check``);
- was changed without compiling it again (its ``.mo`` says something else).

``update`` runs makemessages and compilemessages in place: new strings appear
untranslated (and ``check`` fails until they are translated), strings no longer
marked are dropped. Both need GNU gettext (``apt-get install gettext``).
"""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (source tree, what makemessages must not read there)
TREES = {
    ROOT / "django_jwt_email": ["locale", "__pycache__"],
    ROOT / "example_project": ["locale", "__pycache__", "outbox", "static", "staticfiles"],
}
DJANGO_ADMIN = [sys.executable, "-m", "django"]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Without settings: makemessages would read a site's LOCALE_PATHS otherwise.
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    # The commands are this script's own, never built from input.
    return subprocess.run(  # noqa: S603
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def catalogs(tree: Path) -> list[Path]:
    return sorted((tree / "locale").glob("*/LC_MESSAGES/django.po"))


def languages(tree: Path) -> list[str]:
    return [po.parent.parent.name for po in catalogs(tree)]


def extract(tree: Path, workdir: Path) -> Path:
    """The strings marked in ``tree`` today, as an untranslated catalog."""
    copy = workdir / tree.name
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns(*TREES[tree]))
    (copy / "locale").mkdir()
    result = run([*DJANGO_ADMIN, "makemessages", "--locale", "en", "--no-location"], copy)
    if result.returncode != 0:
        raise SystemExit(f"makemessages failed in a copy of {tree}:\n{result.stderr}")
    return copy / "locale" / "en" / "LC_MESSAGES" / "django.po"


def problems(po: Path, marked: Path, workdir: Path) -> list[str]:
    """What is wrong with the catalog ``po``, given the ``marked`` strings."""
    found = []
    # Every marked string is there, translated and not fuzzy.
    missing = run(["msgcmp", "--no-fuzzy-matching", str(po), str(marked)], ROOT)
    if missing.returncode != 0:
        found.append(f"strings missing, untranslated or fuzzy:\n{missing.stderr}")
    # And nothing else (obsolete "#~" entries are ignored).
    every = ["--use-untranslated", "--use-fuzzy"]
    stale = run(["msgcmp", "--no-fuzzy-matching", *every, str(marked), str(po)], ROOT)
    if stale.returncode != 0:
        found.append(f"strings no longer marked anywhere:\n{stale.stderr}")
    compiled = workdir / "check.mo"
    result = run(["msgfmt", "--check", "--output-file", str(compiled), str(po)], ROOT)
    if result.returncode != 0:
        return [*found, f"does not compile:\n{result.stderr}"]
    shipped = po.with_suffix(".mo")
    if not shipped.exists() or messages(shipped) != messages(compiled):
        found.append(f"{shipped.relative_to(ROOT)} is not the compiled catalog")
    return found


def messages(mo: Path) -> dict[object, str]:
    with mo.open("rb") as file:
        return dict(gettext.GNUTranslations(file)._catalog)  # type: ignore[attr-defined]


def check() -> int:
    for tool in ("msgfmt", "msgcmp"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: install GNU gettext (apt-get install gettext)")
            return 1
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for tree in TREES:
            marked = extract(tree, workdir)
            for po in catalogs(tree):
                for problem in problems(po, marked, workdir):
                    failed += 1
                    print(f"{po.relative_to(ROOT)}: {problem}")
    if failed:
        print("Run `make messages`, translate what is new, and commit the .po and .mo files.")
        return 1
    count = sum(len(catalogs(tree)) for tree in TREES)
    print(f"{count} catalogs complete, up to date and compiled")
    return 0


def update() -> int:
    for tree, ignored in TREES.items():
        locales = [arg for language in languages(tree) for arg in ("--locale", language)]
        ignores = [arg for name in ignored for arg in ("--ignore", f"{name}/*")]
        for command in (
            [*DJANGO_ADMIN, "makemessages", *locales, *ignores, "--no-obsolete"],
            [*DJANGO_ADMIN, "compilemessages", *locales],
        ):
            result = run(command, tree)
            print(result.stdout, end="")
            if result.returncode != 0:
                print(result.stderr, end="")
                return 1
    return 0


if __name__ == "__main__":
    actions = {"check": check, "update": update}
    if len(sys.argv) != 2 or sys.argv[1] not in actions:
        raise SystemExit(f"usage: {sys.argv[0]} check|update")
    sys.exit(actions[sys.argv[1]]())
