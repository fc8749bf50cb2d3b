"""The package's branch coverage, checked against a floor.

coverage.py's own figure (``coverage report``) mixes statements and branches;
the floor the project keeps is on branches alone: of every branch in the
package, the share that some test took. Run it after ``coverage combine``:

    python scripts/coverage_floor.py 95

It prints both figures and exits 1 when the branches are under the floor.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import coverage


def totals() -> dict[str, float]:
    """coverage.py's totals of the combined data in the current directory."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "coverage.json"
        cov = coverage.Coverage()
        cov.load()
        cov.json_report(outfile=str(report))
        return json.loads(report.read_text())["totals"]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    floor = float(argv[0])
    figures = totals()
    covered, branches = figures["covered_branches"], figures["num_branches"]
    share = 100.0 * covered / branches if branches else 100.0
    print(f"statements and branches: {figures['percent_covered']:.1f} %")
    print(f"branches: {share:.1f} % ({covered} of {branches}; floor {floor:g} %)")
    if share < floor:
        print(f"FAIL: branch coverage {share:.1f} % is under the floor of {floor:g} %.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
