"""The package's long description, ``README.pypi.md``, made from ``README.md``.

A package index shows the long description on its own, away from the
repository: a relative image path (the README's screenshots) renders there as
a broken image, and a relative link (into ``docs/``, to ``CONTRIBUTING.md``)
leads nowhere. So the long description is the README without the block between
``<!-- screenshots`` and ``<!-- /screenshots -->``, and with each relative link
turned into its text. Absolute links stay.

``write`` makes the file (after any change to the README); ``check`` fails when
it is out of step, as ``tests/test_docs.py`` does.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LONG_DESCRIPTION = ROOT / "README.pypi.md"

SCREENSHOTS = re.compile(r"^<!-- screenshots.*?^<!-- /screenshots -->\n+", re.M | re.S)
# [text](target), where the target is neither a URL, an anchor nor an address.
RELATIVE_LINK = re.compile(r"\[([^\]]+)\]\((?!https?:|mailto:|#)[^)\s]+\)")


def long_description(readme: str) -> str:
    text = SCREENSHOTS.sub("", readme)
    return RELATIVE_LINK.sub(r"\1", text)


def main(action: str) -> int:
    expected = long_description(README.read_text())
    if action == "write":
        LONG_DESCRIPTION.write_text(expected)
        return 0
    if LONG_DESCRIPTION.read_text() != expected:
        print(f"{LONG_DESCRIPTION.name} is out of step: run python scripts/readme.py write")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("check", "write"):
        raise SystemExit(f"usage: {sys.argv[0]} check|write")
    sys.exit(main(sys.argv[1]))
