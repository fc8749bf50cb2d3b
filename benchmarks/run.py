"""Run the suite: ``python -m benchmarks.run [--quick] [--only a,b,...] [--engines ...]``.

Every measurement is taken against its peer in the same run, interleaved and
repeated, because this machine is noisy (±30 %): only the ratios are compared
with the goals. Each scenario runs on PostgreSQL (the headline: databases this
run creates and drops) and on SQLite (the second column), with the revocation
marks, the rate-limit counters and the Celery broker in a Redis server this run
starts on a free port. Results go to benchmarks/results/latest.json and
latest.md (git-ignored); ``--snapshot`` also writes the committed
benchmarks/results.md.

Scenarios: (a) Bearer throughput through gunicorn, and how fast a revocation
reaches another server; (b) redemption and refresh against simplejwt's refresh;
(c) the same with a large table; (d) cleanup against flushexpiredtokens; (e) the
request endpoint, known vs unknown address; (f) token and link sizes; (g) reloading
the revocation marks from the database.
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
WORK = RESULTS / "work"
SCENARIOS = "abcdefg"
ENGINES = ("postgresql", "sqlite")
MAX_DATA_AGE = 20 * 3600  # seconds a built SQLite file is reused


@dataclass(frozen=True)
class Config:
    quick: bool
    repeats: int  # (a): load runs per server, interleaved
    seconds: float  # (a): length of one load run
    connections: int
    threads: int
    cold_tokens: int  # (a): distinct tokens for the never-cached run
    propagation_trials: int  # (a): revocations timed across two servers
    small_rows: int  # (b), (c): rows of the ordinary database
    large_rows: int  # (c), (d): rows of the large database (half expired)
    auth_calls: int  # (b), (c): calls of each operation on each database
    cleanup_repeats: int  # (d)
    request_calls: int  # (e): calls per address and sender
    reload_marks: int  # (g): live revoked sessions to reload

    @classmethod
    def make(cls, quick: bool, **overrides: Any) -> Config:
        if quick:
            values: dict[str, Any] = dict(
                repeats=2, seconds=2, connections=8, threads=2, cold_tokens=6_000,
                propagation_trials=10, small_rows=2_000, large_rows=20_000, auth_calls=30,
                cleanup_repeats=1, request_calls=8, reload_marks=10_000,
            )  # fmt: skip
        else:
            values = dict(
                repeats=5, seconds=5, connections=8, threads=2, cold_tokens=20_000,
                propagation_trials=40, small_rows=10_000, large_rows=1_000_000,
                auth_calls=200, cleanup_repeats=2, request_calls=30,
                reload_marks=100_000,
            )  # fmt: skip
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(quick=quick, **values)


@dataclass(frozen=True)
class Database:
    """One database of one engine: a PostgreSQL name or an SQLite file."""

    engine: str
    name: str  # the PostgreSQL database, or the SQLite file's path

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="benchmarks.benchsite.settings",
            PYTHONPATH=str(ROOT),
            BENCH_ENGINE=self.engine,
            BENCH_DB=self.name,
            BENCH_PG=Run.postgres_address,
            BENCH_REDIS_URL=Run.redis_url,
            BENCH_KEY_DIR=str(RESULTS / "keys"),
            PYTHONHASHSEED="0",
        )
        env.update(extra)
        return env


class Run:
    """What every scenario of this run shares: the servers and the databases."""

    postgres_address = os.environ.get("BENCH_PG", "127.0.0.1:5432")
    redis_url = ""
    postgres: datasets.Postgres


def scenario(db: Database, *args: str, timeout: float = 900) -> Any:
    """Run ``python -m benchmarks.scenarios ARGS`` on ``db``; its JSON answer."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.scenarios", *args],
        env=db.env(),
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


# --- data ---------------------------------------------------------------------------


def schema_tag() -> str:
    """Changes when the models, their migrations or the row builder change."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "django_jwt_email" / "migrations").glob("*.py"))
    for path in [*sources, BENCH_DIR / "datasets.py", ROOT / "django_jwt_email" / "models.py"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def database(engine: str, name: str, rows: int) -> Database:
    """A database with ``rows`` rows of each app (half expired): on PostgreSQL built in
    this run from a migrated template; on SQLite built once per schema and kept."""
    if engine == "postgresql":
        return _postgres_database(name, rows)
    return _sqlite_database(name, rows)


def _postgres_database(name: str, rows: int) -> Database:
    empty = Database("postgresql", datasets.PG_PREFIX + "migrated")
    if empty.name not in Run.postgres.names():
        Run.postgres.create(empty.name)
        datasets.migrate(empty.env())
    target = Database("postgresql", Run.postgres.create(f"{datasets.PG_PREFIX}{name}", empty.name))
    log(f"building PostgreSQL {target.name}: {rows:,} rows of each app")
    scenario(target, "build", "--rows", str(rows), "--which", "both", timeout=1800)
    return target


def _sqlite_database(name: str, rows: int) -> Database:
    DATA.mkdir(parents=True, exist_ok=True)
    tag = schema_tag()
    path = DATA / f"{name}-{rows}-{tag}.sqlite3"
    # Live rows expire a day after the build at the earliest: rebuild before that.
    if path.exists() and time.time() - path.stat().st_mtime < MAX_DATA_AGE:
        return Database("sqlite", str(path))
    template = DATA / f"template-{tag}.sqlite3"
    # Files of another schema go; other sizes of this one stay (quick and full runs).
    for stale in DATA.glob("*.sqlite3"):
        if not stale.stem.endswith(tag):
            stale.unlink()
    building = path.with_suffix(".building")
    log(f"building SQLite {path.name}: {rows:,} rows of each app")
    datasets.migrated_copy(template, building, Database("sqlite", str(building)).env())
    scenario(Database("sqlite", str(building)), "build", "--rows", str(rows), timeout=1800)
    building.rename(path)
    return Database("sqlite", str(path))


def working_copy(source: Database, name: str) -> Database:
    """A fresh copy of ``source`` to change: a file copy on either engine."""
    if source.engine == "postgresql":
        return Database("postgresql", Run.postgres.create(datasets.PG_PREFIX + name, source.name))
    target = WORK / f"{name}.sqlite3"
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source.name, target)
    return Database("sqlite", str(target))


def discard(db: Database) -> None:
    if db.engine == "postgresql":
        Run.postgres.drop(db.name)
    else:
        Path(db.name).unlink(missing_ok=True)


# --- (a) Bearer throughput and the spread of a revocation -------------------------------


# name: (server, path, whose token, one new token per request, engines). This app's
# servers differ only in where the revocation marks live (BENCH_REVOCATION_CACHE) and
# whether each process keeps its tracked copy of them (BENCH_TRACKING).
BEARER_TARGETS: dict[str, tuple[str, str, str | None, bool, tuple[str, ...]]] = {
    "floor": ("redis", "/floor/", None, False, ENGINES),
    "jwt_email": ("redis", "/jwt-email/me/", "jwt_email", False, ENGINES),
    "jwt_email_cold": ("redis", "/jwt-email/me/", "jwt_email", True, ("postgresql",)),
    "jwt_email_roundtrip": ("roundtrip", "/jwt-email/me/", "jwt_email", False, ("postgresql",)),
    "simplejwt": ("redis", "/simplejwt/me/", "simplejwt", False, ENGINES),
    "simplejwt_stateless": ("redis", "/simplejwt-stateless/me/", "simplejwt", False, ENGINES),
}
SERVER_ENV = {"redis": {}, "roundtrip": {"BENCH_TRACKING": "off"}}


def bearer(config: Config, small: Database) -> dict[str, Any]:
    """Each target in turn, ``repeats`` times, the order rotating every repeat."""
    db = working_copy(small, f"bearer_{small.engine[:2]}")
    targets = {name: t for name, t in BEARER_TARGETS.items() if small.engine in t[4]}
    cold_file = WORK / "cold-tokens.txt"
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    minted_at = 0.0
    tokens: dict[str, Any] = {}
    log_file = WORK / "gunicorn.log"
    kinds = sorted({target[0] for target in targets.values()})
    servers = {kind: load.Server(db.env(**SERVER_ENV[kind]), log=log_file) for kind in kinds}
    try:
        for server in servers.values():
            server.start()
        for repeat in range(config.repeats + 1):  # the first pass only warms up
            if time.monotonic() - minted_at > 120:  # access tokens live 5 minutes
                tokens = scenario(
                    db, "bearer", "--cold", str(config.cold_tokens), "--out", str(cold_file)
                )
                _check_responses(servers, targets, tokens)
                minted_at = time.monotonic()
            names = list(targets)
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:
                server, path, owner, cold, _ = targets[name]
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
                    log(f"(a) {db.engine} repeat {repeat}: {name:20} {result.rps:8.0f} req/s")
    finally:
        for server in servers.values():
            server.stop()
        discard(db)
    return {"runs": runs, "generator": runs["floor"][0]["generator"]}


def _check_responses(
    servers: dict[str, load.Server], targets: dict[str, Any], tokens: dict[str, Any]
) -> None:
    """Every authenticated target answers 200 with the user's id before any load."""
    for name, (server, path, owner, _, _) in targets.items():
        if owner is None:
            continue
        url = servers[server].url(path)
        status, body = load.get(url, {"Authorization": f"Bearer {tokens[owner]}"})
        # simplejwt's stateless user has the token's id claim: a string.
        if status != 200 or str(json.loads(body).get("id")) != str(tokens["user_id"]):
            raise RuntimeError(f"{name}: {status} {body[:200]!r}")


def propagation(config: Config, small: Database) -> dict[str, Any]:
    """How long after a logout's 204 from server A server B still accepts the session.

    Two gunicorn masters (two app servers, two workers each) share the database
    and Redis. For each trial, a session's access token is first accepted by B
    (so that B's processes hold the answer), then logged out on A; from the 204
    on, B is asked again and again until it refuses: the delay is the time from
    the 204 to the sending of the first request B refuses (0 when B refuses the very
    next one), and every 200 meanwhile is counted.
    """
    db = working_copy(small, f"spread_{small.engine[:2]}")
    log_file = WORK / "gunicorn.log"
    a, b = load.Server(db.env(), log=log_file), load.Server(db.env(), log=log_file)
    trials: list[dict[str, Any]] = []
    try:
        a.start()
        b.start()
        sessions = scenario(db, "sessions", "--count", str(config.propagation_trials))
        for access in sessions["access"]:
            headers = {"Authorization": f"Bearer {access}"}
            for _ in range(6):  # both of B's workers most likely hold the answer now
                status, body = load.get(b.url("/jwt-email/me/"), headers)
                if status != 200:
                    raise RuntimeError(f"B refused a live session: {status} {body[:200]!r}")
            status, body = load.post(a.url("/auth/logout/"), headers)
            answered = time.perf_counter()
            if status != 204:
                raise RuntimeError(f"logout on A: {status} {body[:200]!r}")
            accepted = 0
            while True:
                sent = time.perf_counter()
                status, _ = load.get(b.url("/jwt-email/me/"), headers)
                if status == 401:
                    break
                if status != 200 or sent - answered > 30:
                    raise RuntimeError(f"B still answers {status} 30 s after the logout")
                accepted += 1
            # B took the revocation in before it read the first request it refused.
            trials.append({"delay_ms": (sent - answered) * 1000, "accepted": accepted})
        log(f"(a) {db.engine}: {len(trials)} revocations timed across two servers")
    finally:
        a.stop()
        b.stop()
        discard(db)
    return {"trials": trials}


# --- (b) and (c) redemption and refresh, ordinary and large tables ----------------------


class AuthProcess:
    """``scenarios auth`` on one database, driven a call at a time."""

    def __init__(self, db: Database, calls: int, **env: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.scenarios", "auth", "--calls", str(calls)],
            env=db.env(**env),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("scenarios auth did not start")

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"scenarios auth stopped at {command!r}")
        return answer.strip()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.ask("stop")
            except (RuntimeError, BrokenPipeError):
                pass
            self.process.wait(timeout=30)


def auth(config: Config, small: Database, large: Database | None) -> dict[str, Any]:
    """The three operations on both databases, interleaved call by call (operation
    and database order rotating), so that both tables see the same moments of the
    machine's load."""
    tag = small.engine[:2]
    dbs = {"small": working_copy(small, f"auth_small_{tag}")}
    if large is not None:
        dbs["large"] = working_copy(large, f"auth_large_{tag}")
    calls, warmup = config.auth_calls, 5
    processes = {name: AuthProcess(db, calls + warmup) for name, db in dbs.items()}
    # Diagnostic: the small database again, without this app's rate-limit middleware.
    processes["no_limits"] = AuthProcess(dbs["small"], calls + warmup, BENCH_LIMITS="off")
    operations = ["redeem", "refresh", "simplejwt_refresh"]
    results: dict[str, dict[str, Any]] = {
        name: {"samples_ms": {op: [] for op in operations}, "queries": {}} for name in processes
    }
    try:
        for process in processes.values():
            process.wait_ready()
        names = list(processes)
        for call in range(warmup + calls):
            for op in operations[call % 3 :] + operations[: call % 3]:
                shift = (call + operations.index(op)) % len(names)
                for name in names[shift:] + names[:shift]:
                    elapsed = float(processes[name].ask(f"time {op}"))
                    if call >= warmup:
                        results[name]["samples_ms"][op].append(elapsed)
        for name, process in processes.items():
            results[name]["queries"] = json.loads(process.ask("count"))
        log(f"(b/c) {small.engine}: {calls} calls of each operation on each table")
    finally:
        for process in processes.values():
            process.close()
        for db in dbs.values():
            discard(db)
    return results


# --- (d) cleanup ------------------------------------------------------------------------


def cleanup(config: Config, large: Database) -> dict[str, Any]:
    """Both commands on a fresh copy of the same database, alternating which runs first.
    Each deletes from its own tables only, so one copy serves one run of each."""
    runs: dict[str, list[dict[str, Any]]] = {"jwt_email": [], "simplejwt": []}
    errors: dict[str, str] = {}
    for repeat in range(config.cleanup_repeats):
        db = working_copy(large, f"cleanup_{large.engine[:2]}")
        tools = ["jwt-email", "simplejwt"] if repeat % 2 == 0 else ["simplejwt", "jwt-email"]
        try:
            for tool in tools:
                answer = _cleanup_run(db, tool, errors)
                if answer is not None:
                    runs[tool.replace("-", "_")].append(answer)
        finally:
            discard(db)
    return {"runs": runs, "errors": errors}


def _cleanup_run(db: Database, tool: str, errors: dict[str, str]) -> dict[str, Any] | None:
    stop = WORK / "probe.stop"
    stop.parent.mkdir(parents=True, exist_ok=True)
    stop.unlink(missing_ok=True)
    probe = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.probe", tool, str(stop)],
        cwd=ROOT,
        env=db.env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # the probe's own start (Django's setup) is not measured
    try:
        answer = scenario(db, "cleanup", "--tool", tool, timeout=1800)
    except RuntimeError as exc:  # e.g. the command does not exist yet
        errors[tool] = str(exc)[-1000:]
        log(f"(d) {db.engine} {tool}: failed")
        return None
    finally:
        stop.touch()
        out, _ = probe.communicate(timeout=700)
    answer["probe"] = json.loads(out)
    log(
        f"(d) {db.engine} {tool}: {answer['seconds']:.1f} s, longest write wait "
        f"{answer['probe']['max_write_wait_ms']:.0f} ms"
    )
    return answer


# --- (e) the request endpoint -------------------------------------------------------------


def requests(config: Config, small: Database) -> dict[str, Any]:
    db = working_copy(small, f"request_{small.engine[:2]}")
    results = {}
    try:
        for sender in ("inline", "celery"):
            try:
                results[sender] = scenario(
                    db, "request", "--calls", str(config.request_calls), "--sender", sender
                )
            except RuntimeError as exc:
                results[sender] = {"error": str(exc)[-500:]}
            log(f"(e) {db.engine} {sender} sender done")
    finally:
        discard(db)
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
        "pyjwt", "cryptography", "gunicorn", "psycopg", "redis", "celery",
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
        "servers": load.server_versions(Run.postgres_address),
        "commit": commit,
        "load_average": list(os.getloadavg()),
        "generator": "wrk" if load.have_wrk() else "python",
    }


def run_engine(config: Config, engine: str, only: set[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    small = database(engine, "small", config.small_rows)
    large = database(engine, "large", config.large_rows) if only & set("cd") else None
    if "a" in only:
        result["bearer"] = bearer(config, small)
        if engine == "postgresql":
            result["propagation"] = propagation(config, small)
    if only & set("bc"):
        result["auth"] = auth(config, small, large if "c" in only else None)
    if "d" in only and large is not None:
        result["cleanup"] = cleanup(config, large)
    if "e" in only:
        result["request"] = requests(config, small)
    if "g" in only:
        copy = working_copy(small, f"reload_{engine[:2]}")
        try:
            result["reload"] = scenario(copy, "reload", "--count", str(config.reload_marks))
            log(f"(g) {engine}: {result['reload']['seconds']:.2f} s")
        finally:
            discard(copy)
    if "f" in only and engine == ENGINES[0]:
        copy = working_copy(small, "sizes")
        try:
            result["sizes"] = scenario(copy, "sizes")
        finally:
            discard(copy)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    parser.add_argument("--only", default=SCENARIOS, help="scenarios to run, e.g. 'ab'")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="postgresql,sqlite (the default) or one"
    )
    parser.add_argument("--snapshot", action="store_true", help="also write results.md")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--large-rows", type=int)
    parser.add_argument("--cleanup-repeats", type=int)
    parser.add_argument("--label", help="the command to show in the report")
    args = parser.parse_args(argv)
    config = Config.make(
        args.quick,
        repeats=args.repeats,
        seconds=args.seconds,
        large_rows=args.large_rows,
        cleanup_repeats=args.cleanup_repeats,
    )
    only = set(args.only.replace(",", ""))
    engines = [engine for engine in ENGINES if engine in args.engines.split(",")]
    began = time.monotonic()
    RESULTS.mkdir(exist_ok=True)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    datasets.write_keys(RESULTS / "keys")
    Run.postgres = datasets.Postgres(Run.postgres_address)
    result: dict[str, Any] = {
        "command": args.label or " ".join(["python -m benchmarks.run", *argv]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "config": config.__dict__,
        "engines": {},
    }
    with load.RedisServer() as redis:
        Run.redis_url = redis.url
        result["machine"] = machine()
        try:
            if "postgresql" in engines:
                Run.postgres.drop_all()  # left over by an interrupted run
            for engine in engines:
                result["engines"][engine] = run_engine(config, engine, only)
        finally:
            if "postgresql" in engines:
                Run.postgres.drop_all()
    result["seconds"] = round(time.monotonic() - began, 1)
    result["machine"]["load_average_end"] = list(os.getloadavg())
    summary = report.summarize(result)
    result["summary"] = summary
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=2))
    markdown = report.markdown(result)
    (RESULTS / "latest.md").write_text(markdown)
    if args.snapshot:
        (BENCH_DIR / "results.md").write_text(markdown)
    shutil.rmtree(WORK, ignore_errors=True)
    print()
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
