#!/usr/bin/env bash
# Audit the installed packages of .venv for known vulnerabilities with pip-audit.
#
# pip-audit asks an advisory service about each installed version: PyPI's JSON API
# (the default) or OSV. Where neither answers for any package (a machine that
# reaches only a PyPI mirror, as in this project's CI, whose JSON has no
# per-release pages and no advisories), the audit cannot say anything: this
# script then says so plainly and exits 0 rather than failing the build on a
# network it does not have. Known vulnerabilities, when the service does answer,
# fail the run (exit 1). Either way it lists the project's runtime dependencies
# that have a newer release on the index pip uses.
#
# Usage: .ci/audit.sh   (env: VENV=.venv)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${VENV:-$PWD/.venv}
PY=$VENV/bin/python
RUNTIME_DEPS="Django djangorestframework PyJWT cryptography django-ratelimit"

if [ ! -x "$VENV/bin/pip-audit" ]; then
    echo "installing pip-audit into $VENV"
    "$PY" -m pip install --quiet pip-audit
fi

REPORT=$(mktemp)
trap 'rm -f "$REPORT" "$REPORT.err"' EXIT

# audit <service>: writes the JSON report; its exit status is pip-audit's.
audit() {
    "$VENV/bin/pip-audit" --vulnerability-service "$1" --format json --skip-editable \
        --progress-spinner off --timeout 15 --desc off >"$REPORT" 2>"$REPORT.err"
}

# summarise: "<audited> <skipped> <vulnerable>" from the JSON report (or "0 0 0").
summarise() {
    "$PY" - "$REPORT" <<'EOF'
import json, sys
try:
    deps = json.load(open(sys.argv[1]))["dependencies"]
except (OSError, ValueError, KeyError, TypeError):
    print(0, 0, 0)
    raise SystemExit
audited = [d for d in deps if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
for dep in vulnerable:
    ids = ", ".join(v["id"] for v in dep["vulns"])
    fixes = sorted({f for v in dep["vulns"] for f in v.get("fix_versions", [])})
    print(f"VULNERABLE {dep['name']} {dep['version']}: {ids}; fixed in {fixes or '?'}",
          file=sys.stderr)
print(len(audited), len(deps) - len(audited), len(vulnerable))
EOF
}

status=unreachable
for service in pypi osv; do
    echo "pip-audit: asking the '$service' advisory service about $VENV"
    rc=0
    audit "$service" || rc=$?
    read -r audited skipped vulnerable < <(summarise)
    if [ "$audited" -gt 0 ]; then
        echo "pip-audit ($service): $audited packages audited, $skipped skipped," \
            "$vulnerable with known vulnerabilities"
        status=$([ "$vulnerable" -gt 0 ] && echo vulnerable || echo clean)
        if [ "$rc" -gt 1 ]; then
            echo "pip-audit exited $rc:"
            tail -n 3 "$REPORT.err"
        fi
        break
    fi
    echo "pip-audit ($service): no package could be audited ($skipped skipped, exit $rc)"
    if [ "$rc" != 0 ]; then
        grep -v '^$' "$REPORT.err" | tail -n 1 | cut -c1-160
    fi
done

echo
echo "runtime dependencies with a newer release on the package index:"
"$PY" -m pip list --outdated --format=columns 2>/dev/null \
    | awk -v deps="$RUNTIME_DEPS" 'BEGIN { n = split(tolower(deps), d, " "); for (i = 1; i <= n; i++) want[d[i]] = 1 }
        NR <= 2 || (tolower($1) in want)' || echo "(the package index did not answer)"

case $status in
clean)
    echo
    echo "audit: no known vulnerabilities in the installed packages"
    ;;
vulnerable)
    echo
    echo "audit: FAILED, known vulnerabilities above (upgrade, or record an accepted risk)"
    exit 1
    ;;
unreachable)
    echo
    echo "audit: SKIPPED, no advisory service answered for any package from this machine"
    echo "       (PyPI's JSON API gave no per-release data, OSV was unreachable)."
    echo "       Nothing was checked; run .ci/audit.sh where pypi.org or api.osv.dev answer."
    ;;
esac
