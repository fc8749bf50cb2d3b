"""The documented curl walkthrough, run as written: ``example_project/walkthrough.sh``.

The test starts the example site (``runserver`` on a free port, a fresh SQLite
database, key and file outbox of its own) and runs the script top to bottom
with bash, curl and Python, as a newcomer would against ``make demo``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.walkthrough

SCRIPT = ROOT / "example_project" / "walkthrough.sh"


def test_walkthrough_runs_top_to_bottom(start_example_site):
    if shutil.which("curl") is None:
        pytest.skip("curl is missing (apt-get install curl)")
    site = start_example_site()
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "BASE": site.url, "OUTBOX": str(site.outbox), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.rstrip().endswith("The walkthrough ran to the end.")
    assert "If an account exists for this address, a sign-in link is on its way." in out
    assert '{"id": 1, "email": "alice@example.com"}' in out
    assert '"token_type": "Bearer"' in out
    assert '"code": "token_revoked"' in out
    # Tokens are shown cut short, never whole (a JWT is three dot-separated parts).
    assert "eyJ" in out
    assert not any(len(word) > 60 for word in out.split())
