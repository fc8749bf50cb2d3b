"""Run the suite: ``python -m benchmarks.run [--quick] [--only a,b,...] [--snapshot]``.

Every measurement is taken against its peer in the same run, interleaved and
repeated, because this machine is noisy (±30 %): only the ratios are compared
with the goals. Results go to benchmarks/results/latest.json and latest.md
(git-ignored); ``--snapshot`` also writes the committed benchmarks/results.md.

Scenarios: (a) Bearer throughput through gunicorn; (b) redemption and refresh
against simplejwt's refresh; (c) the same with a large token table; (d) cleanup
against flushexpiredtokens; (e) the request endpoint, known vs unknown address;
(f) token and link sizes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import datasets, load, report

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
DATA = RESULTS / "data"
SCENARIOS = "abcdef"
MAX_DATA_AGE = 20 * 3600  # seconds a built database is reused


@dataclass(frozen=True)
class Config:
    quick: bool
    repeats: int  # (a): wrk runs per server, interleaved
    seconds: float  # (a): length of one wrk run
    connections: int
    threads: int
    cold_tokens: int  # (a): distinct tokens for the never-cached run
    small_rows: int  # (b), (c): token rows of the ordinary database
    large_rows: int  # (c), (d): token rows of the large database (half expired)
    auth_rounds: int  # (b), (c): alternations between the databases
    auth_calls: int  # (b), (c): calls of each operation per round
    cleanup_repeats: int  # (d)
    request_calls: int  # (e): calls per address and sender

    @classmethod
    def make(cls, quick: bool, **overrides: Any) -> Config:
        if quick:
            values: dict[str, Any] = dict(
                repeats=3, seconds=3, connections=8, threads=2, cold_tokens=8_000,
                small_rows=2_000, large_rows=20_000, auth_rounds=2, auth_calls=20,
                cleanup_repeats=1, request_calls=10,
            )  # fmt: skip
        else:
            values = dict(
                repeats=5, seconds=8, connections=8, threads=2, cold_tokens=24_000,
                small_rows=10_000, large_rows=1_000_000, auth_rounds=4, auth_calls=50,
                cleanup_repeats=3, request_calls=30,
            )  # fmt: skip
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(quick=quick, **values)


def bench_env(db: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="benchmarks.benchsite.settings",
        PYTHONPATH=str(ROOT),
        BENCH_DB=str(db),
        BENCH_KEY_DIR=str(RESULTS / "keys"),
        PYTHONHASHSEED="0",
    )
    return env


def scenario(db: Path, *args: str, timeout: float = 900) -> Any:
    """Run ``python -m benchmarks.scenarios ARGS`` on ``db``; its JSON answer."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.scenarios", *args],
        env=bench_env(db),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"scenarios {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- data -------------------------------------------------------------------------


def schema_tag() -> str:
    """Changes when the models, their migrations or the row builder change."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "django_jwt_email" / "migrations").glob("*.py"))
    for path in [*sources, BENCH_DIR / "datasets.py", ROOT / "django_jwt_email" / "models.py"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def database(name: str, rows: int) -> Path:
    """A database with ``rows`` issued and outstanding tokens (half expired), built
    once per schema and kept in results/data/ for later runs."""
    DATA.mkdir(parents=True, exist_ok=True)
    tag = schema_tag()
    path = DATA / f"{name}-{rows}-{tag}.sqlite3"
    # Live rows expire a day after the build at the earliest: rebuild before that.
    if path.exists() and time.time() - path.stat().st_mtime < MAX_DATA_AGE:
        return path
    template = DATA / f"template-{tag}.sqlite3"
    for stale in [*DATA.glob(f"{name}-*.sqlite3"), *DATA.glob("template-*.sqlite3")]:
        if stale != template:
            stale.unlink()
    building = path.with_suffix(".building")
    log(f"building {path.name}: {rows:,} issued + {rows:,} outstanding tokens")
    datasets.migrated_copy(template, building, bench_env(building))
    scenario(building, "build", "--rows", str(rows), "--which", "both", timeout=1800)
    building.rename(path)
    return path


def working_copy(source: Path, name: str) -> Path:
    target = RESULTS / "work" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


# --- (a) Bearer throughput ----------------------------------------------------------


# name: (server, path, whose token, one new token per request). This app's
# servers differ only in where the revocation marks live (BENCH_REVOCATION_CACHE).
BEARER_TARGETS = {
    "floor": ("file", "/floor/", None, False),
    "jwt_email": ("file", "/jwt-email/me/", "jwt_email", False),
    "jwt_email_cold": ("file", "/jwt-email/me/", "jwt_email", True),
    "jwt_email_redis": ("redis", "/jwt-email/me/", "jwt_email", False),
    "jwt_email_locmem": ("locmem", "/jwt-email/me/", "jwt_email", False),
    "simplejwt": ("file", "/simplejwt/me/", "simplejwt", False),
    "simplejwt_stateless": ("file", "/simplejwt-stateless/me/", "simplejwt", False),
}


def bearer(config: Config, small: Path) -> dict[str, Any]:
    """Each target in turn, ``repeats`` times, the order rotating every repeat."""
    db = working_copy(small, "bearer.sqlite3")
    cold_file = RESULTS / "work" / "cold-tokens.txt"
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in BEARER_TARGETS}
    minted_at = 0.0
    tokens: dict[str, Any] = {}
    # Marks in files shared by the workers of this host (as the SQLite database
    # is), in Redis (shared by every host), or in each worker's memory (diagnostic:
    # a logout reaches the other worker only at its next reload).
    marks = RESULTS / "work" / "marks"
    shutil.rmtree(marks, ignore_errors=True)
    env = {**bench_env(db), "BENCH_FILE_CACHE": str(marks)}
    log_file = RESULTS / "work" / "gunicorn.log"
    with (
        load.Server({**env, "BENCH_REVOCATION_CACHE": "file"}, log=log_file) as file,
        load.Server({**env, "BENCH_REVOCATION_CACHE": "redis"}, log=log_file) as redis,
        load.Server({**env, "BENCH_REVOCATION_CACHE": "locmem"}, log=log_file) as locmem,
    ):
        servers = {"file": file, "redis": redis, "locmem": locmem}
        for repeat in range(config.repeats + 1):  # the first pass only warms up
            if time.monotonic() - minted_at > 120:  # access tokens live 5 minutes
                tokens = scenario(
                    db, "bearer", "--cold", str(config.cold_tokens), "--out", str(cold_file)
                )
                _check_responses(servers, tokens)
                minted_at = time.monotonic()
            names = list(BEARER_TARGETS)
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:
                server, path, owner, cold = BEARER_TARGETS[name]
                result = load.measure(
                    servers[server].url(path),
                    seconds=1 if repeat == 0 else config.seconds,
                    connections=config.connections,
                    threads=config.threads,
                    token=tokens[owner] if owner else None,
                    cold_file=cold_file if cold else None,
                )
                if result.non_2xx or result.socket_errors:
                    raise RuntimeError(f"{name}: failed requests during the run: {result}")
                if repeat:
                    runs[name].append(result.as_dict())
                    log(f"(a) repeat {repeat}: {name:20} {result.rps:8.0f} req/s")
    return {"runs": runs, "generator": runs["floor"][0]["generator"]}


def _check_responses(servers: dict[str, load.Server], tokens: dict[str, Any]) -> None:
    """Every authenticated target answers 200 with the user's id before any load."""
    for name, (server, path, owner, _) in BEARER_TARGETS.items():
        if owner is None:
            continue
        url = servers[server].url(path)
        status, body = load.get(url, {"Authorization": f"Bearer {tokens[owner]}"})
        # simplejwt's stateless user has the token's id claim: a string.
        if status != 200 or str(json.loads(body).get("id")) != str(tokens["user_id"]):
            raise RuntimeError(f"{name}: {status} {body[:200]!r}")


# --- (b) and (c) redemption and refresh, ordinary and large tables ----------------------


def auth(config: Config, small: Path, large: Path | None) -> dict[str, Any]:
    dbs = {"small": working_copy(small, "auth-small.sqlite3")}
    if large is not None:
        dbs["large"] = working_copy(large, "auth-large.sqlite3")
    results: dict[str, dict[str, Any]] = {name: {"samples_ms": {}, "queries": {}} for name in dbs}
    for round_ in range(config.auth_rounds):
        names = list(dbs) if round_ % 2 == 0 else list(reversed(dbs))
        for name in names:
            answer = scenario(dbs[name], "auth", "--calls", str(config.auth_calls))
            for operation, samples in answer["samples_ms"].items():
                results[name]["samples_ms"].setdefault(operation, []).extend(samples)
            results[name]["queries"] = answer["queries"]
            log(f"(b/c) round {round_ + 1}: {name} table done")
    for name in dbs:
        Path(dbs[name]).unlink()
    return results


# --- (d) cleanup ------------------------------------------------------------------------


def cleanup(config: Config, large: Path) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"jwt_email": [], "simplejwt": []}
    errors: dict[str, str] = {}
    for repeat in range(config.cleanup_repeats):
        tools = ["jwt-email", "simplejwt"] if repeat % 2 == 0 else ["simplejwt", "jwt-email"]
        for tool in tools:
            db = working_copy(large, "cleanup.sqlite3")
            stop = RESULTS / "work" / "probe.stop"
            stop.unlink(missing_ok=True)
            probe = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.probe", str(db), str(stop)],
                cwd=ROOT,
                env=bench_env(db),
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(0.5)
            try:
                answer = scenario(db, "cleanup", "--tool", tool, timeout=1800)
            except RuntimeError as exc:  # e.g. the command does not exist yet
                errors[tool] = str(exc)[-1000:]
                log(f"(d) {tool}: failed")
                continue
            finally:
                stop.touch()
                out, _ = probe.communicate(timeout=700)
                db.unlink()
            answer["probe"] = json.loads(out)
            runs[tool.replace("-", "_")].append(answer)
            log(f"(d) {tool}: {answer['seconds']:.1f} s, {answer['before']} -> {answer['after']}")
    return {"runs": runs, "errors": errors}


# --- (e) the request endpoint -------------------------------------------------------------


def requests(config: Config, small: Path) -> dict[str, Any]:
    db = working_copy(small, "request.sqlite3")
    results = {}
    for sender in ("inline", "celery"):
        try:
            results[sender] = scenario(
                db, "request", "--calls", str(config.request_calls), "--sender", sender
            )
        except RuntimeError as exc:
            results[sender] = {"error": str(exc)[-500:]}
        log(f"(e) {sender} sender done")
    db.unlink()
    return results


# --- the run ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    packages = (
        "django", "djangorestframework", "djangorestframework-simplejwt", "django-sesame",
        "pyjwt", "cryptography", "gunicorn", "redis", "celery",
    )  # fmt: skip
    for package in packages:
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # a missing package is simply not listed
            continue
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": sys.version.split()[0],
        "versions": versions,
        "commit": commit,
        "load_average": list(os.getloadavg()),
        "generator": "wrk" if load.have_wrk() else "python",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    parser.add_argument("--only", default=SCENARIOS, help="scenarios to run, e.g. 'ab'")
    parser.add_argument("--snapshot", action="store_true", help="also write results.md")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--large-rows", type=int)
    parser.add_argument("--label", help="the command to show in the report")
    args = parser.parse_args(argv)
    config = Config.make(
        args.quick, repeats=args.repeats, seconds=args.seconds, large_rows=args.large_rows
    )
    only = set(args.only.replace(",", ""))
    began = time.monotonic()
    result: dict[str, Any] = {
        "command": args.label or " ".join(["python -m benchmarks.run", *argv]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "config": config.__dict__,
        "machine": machine(),
    }
    RESULTS.mkdir(exist_ok=True)
    datasets.write_keys(RESULTS / "keys")
    small = database("small", config.small_rows)
    large = database("large", config.large_rows) if only & set("cd") else None
    if "a" in only:
        result["bearer"] = bearer(config, small)
    if only & set("bc"):
        result["auth"] = auth(config, small, large if "c" in only else None)
    if "d" in only and large is not None:
        result["cleanup"] = cleanup(config, large)
    if "e" in only:
        result["request"] = requests(config, small)
    if "f" in only:
        result["sizes"] = scenario(working_copy(small, "sizes.sqlite3"), "sizes")
    result["seconds"] = round(time.monotonic() - began, 1)
    result["machine"]["load_average_end"] = list(os.getloadavg())
    summary = report.summarize(result)
    result["summary"] = summary
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=2))
    markdown = report.markdown(result)
    (RESULTS / "latest.md").write_text(markdown)
    if args.snapshot:
        (BENCH_DIR / "results.md").write_text(markdown)
    shutil.rmtree(RESULTS / "work", ignore_errors=True)
    print()
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
