"""Turn the raw samples of a run into medians, spreads, ratios, goals and Markdown.

Ratios are what the goals are about: each is taken between numbers measured in
the same run, interleaved, so the machine's own drift cancels out. Where a goal
is missed, the table says by how much. Every figure is given per engine:
PostgreSQL (the headline) and SQLite, each with Redis beside it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

ENGINE_LABELS = {"postgresql": "PostgreSQL + Redis", "sqlite": "SQLite + Redis"}

# What the issue asks for; each is (key, description, target, direction).
GOALS = [
    ("bearer_vs_floor", "Bearer ES256 req/s vs unauthenticated floor, marks in Redis", 0.8, "min"),
    ("bearer_vs_simplejwt", "the same vs simplejwt JWTAuthentication", 2.5, "min"),
    (
        "propagation_max_ms",
        "a logout refused by another app server: ms from its 204 (worst trial)",
        100,
        "max",
    ),
    ("redeem_vs_simplejwt", "redemption (auth/token/) time vs simplejwt refresh", 0.5, "max"),
    ("refresh_vs_simplejwt", "refresh time vs simplejwt refresh", 0.5, "max"),
    (
        "redeem_no_limits_vs_simplejwt",
        "redemption without this app's rate-limit middleware (diagnostic)",
        0.5,
        "max",
    ),
    (
        "refresh_no_limits_vs_simplejwt",
        "refresh without it (diagnostic)",
        0.5,
        "max",
    ),
    ("redeem_commits", "redemption: commits (transactions with writes)", 1, "max"),
    ("refresh_commits", "refresh: commits (transactions with writes)", 1, "max"),
    ("redeem_large_vs_small", "redemption, large table vs 10k rows", 1.1, "max"),
    ("refresh_large_vs_small", "refresh, large table vs 10k rows", 1.1, "max"),
    ("cleanup_vs_flush", "cleanup time vs flushexpiredtokens", 0.3, "max"),
    ("cleanup_longest_wait_ms", "longest wait of a write during cleanup (ms)", 200, "max"),
    (
        "reload_round_trips_per_batch",
        "reload_marks: round trips per batch of 1,000 marks",
        1,
        "max",
    ),
    ("request_celery_gap", "request endpoint, Celery: known vs unknown median gap", 0.05, "max"),
]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def quantile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": median(values), "min": min(values), "max": max(values)}


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Medians, spreads, ratios and the goals' verdicts of one run, per engine."""
    return {engine: _summarize(answer) for engine, answer in result["engines"].items()}


def _summarize(result: dict[str, Any]) -> dict[str, Any]:
    measured: dict[str, float] = {}
    summary: dict[str, Any] = {"measured": measured}
    if "bearer" in result:
        _summarize_bearer(result["bearer"], summary, measured)
    if "propagation" in result:
        trials = result["propagation"]["trials"]
        delays = [trial["delay_ms"] for trial in trials]
        summary["propagation"] = {
            "trials": len(trials),
            "delay_ms": spread(delays),
            "accepted_after_204": sum(trial["accepted"] for trial in trials),
        }
        measured["propagation_max_ms"] = max(delays)
    if "auth" in result:
        _summarize_auth(result["auth"], summary, measured)
    if "cleanup" in result:
        runs = result["cleanup"]["runs"]
        summary["cleanup"] = {}
        for tool, tool_runs in runs.items():
            if tool_runs:
                summary["cleanup"][tool] = spread([run["seconds"] for run in tool_runs])
                summary["cleanup"][f"{tool}_longest_wait_ms"] = max(
                    run["probe"]["max_write_wait_ms"] for run in tool_runs
                )
        if runs["jwt_email"] and runs["simplejwt"]:
            measured["cleanup_vs_flush"] = (
                summary["cleanup"]["jwt_email"]["median"]
                / summary["cleanup"]["simplejwt"]["median"]
            )
            measured["cleanup_longest_wait_ms"] = summary["cleanup"]["jwt_email_longest_wait_ms"]
    if "reload" in result:
        reload = result["reload"]
        measured["reload_round_trips_per_batch"] = reload["round_trips"] / reload["batches"]
    if "request" in result:
        summary["request"] = {}
        for sender, answer in result["request"].items():
            if "samples_ms" not in answer:
                continue
            known = median(answer["samples_ms"]["known"])
            unknown = median(answer["samples_ms"]["unknown"])
            summary["request"][sender] = {
                "known_ms": known,
                "unknown_ms": unknown,
                "gap_ms": known - unknown,
                "gap": abs(known - unknown) / unknown,
            }
        if "celery" in summary["request"]:
            measured["request_celery_gap"] = summary["request"]["celery"]["gap"]
    summary["goals"] = [_verdict(goal, measured) for goal in GOALS]
    return summary


def _summarize_bearer(
    bearer: dict[str, Any], summary: dict[str, Any], measured: dict[str, float]
) -> None:
    runs = bearer["runs"]
    rps = {name: [run["rps"] for run in samples] for name, samples in runs.items()}
    summary["bearer"] = {name: spread(values) for name, values in rps.items()}
    ratios = {}
    for name in rps:
        for peer in ("floor", "simplejwt"):
            if name != peer and peer in rps:
                ratios[f"{name}_vs_{peer}"] = (name, peer)
    # One ratio per repeat (the two runs were seconds apart), then their median.
    summary["bearer_ratios"] = {
        key: spread([a / b for a, b in zip(rps[top], rps[bottom], strict=True)])
        for key, (top, bottom) in ratios.items()
    }
    measured["bearer_vs_floor"] = summary["bearer_ratios"]["jwt_email_vs_floor"]["median"]
    measured["bearer_vs_simplejwt"] = summary["bearer_ratios"]["jwt_email_vs_simplejwt"]["median"]


def _summarize_auth(
    auth: dict[str, Any], summary: dict[str, Any], measured: dict[str, float]
) -> None:
    table: dict[str, Any] = {}
    for db, answer in auth.items():
        if db == "no_limits":
            continue
        for operation, samples in answer["samples_ms"].items():
            table.setdefault(operation, {})[db] = {
                "median_ms": median(samples),
                "p10_ms": quantile(samples, 0.1),
                "p90_ms": quantile(samples, 0.9),
                "calls": len(samples),
                **answer["queries"].get(operation, {}),
            }
    summary["auth"] = table
    small = {operation: rows["small"] for operation, rows in table.items()}
    peer = small["simplejwt_refresh"]["median_ms"]
    measured["redeem_vs_simplejwt"] = small["redeem"]["median_ms"] / peer
    measured["refresh_vs_simplejwt"] = small["refresh"]["median_ms"] / peer
    if "no_limits" in auth:  # diagnostic: the same calls without the rate-limit middleware
        samples = auth["no_limits"]["samples_ms"]
        bare = {operation: median(values) for operation, values in samples.items()}
        summary["auth_no_limits"] = bare
        for operation in ("redeem", "refresh"):
            measured[f"{operation}_no_limits_vs_simplejwt"] = (
                bare[operation] / bare["simplejwt_refresh"]
            )
    measured["redeem_commits"] = small["redeem"].get("commits", float("nan"))
    measured["refresh_commits"] = small["refresh"].get("commits", float("nan"))
    if "large" in auth:
        for operation in ("redeem", "refresh"):
            rows = table[operation]
            measured[f"{operation}_large_vs_small"] = (
                rows["large"]["median_ms"] / rows["small"]["median_ms"]
            )


def _verdict(goal: tuple[str, str, float, str], measured: dict[str, float]) -> dict[str, Any]:
    key, description, target, direction = goal
    value = measured.get(key)
    if value is None or value != value:  # not measured in this run, or NaN
        return {"key": key, "goal": description, "target": target, "direction": direction,
                "value": None, "met": None, "missed_by": None}  # fmt: skip
    met = value >= target if direction == "min" else value <= target
    # How far off, as a share of the target (0.1 = 10 % short of or over it).
    missed_by = None if met else abs(value - target) / target
    return {"key": key, "goal": description, "target": target, "direction": direction,
            "value": value, "met": met, "missed_by": missed_by}  # fmt: skip


# --- Markdown ------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or value != value:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _verdict_text(goal: dict[str, Any]) -> str:
    if goal["met"] is None:
        return "not measured"
    if goal["met"]:
        return "yes"
    return f"**no**, missed by {goal['missed_by']:.0%}"


def markdown(result: dict[str, Any]) -> str:
    summary = result["summary"]
    machine = result["machine"]
    config = result["config"]
    engines = list(summary)
    servers = ", ".join(f"{name} {version}" for name, version in machine["servers"].items())
    lines = [
        "# django-jwt-email benchmark results",
        "",
        f"Command: `{result['command']}`, started {result['started']}, took "
        f"{result['seconds']:.0f} s, commit `{machine['commit']}`.",
        "",
        f"Machine: {machine['cpu'] or 'unknown CPU'}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB, Python {machine['python']}; load average "
        f"{machine['load_average'][0]:.2f} at start, {machine['load_average_end'][0]:.2f} at end. "
        f"Servers: {servers} (a Redis server of the run's own). "
        + ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
        + ".",
        "",
        "Every ratio compares numbers measured side by side in this run (interleaved, "
        "repeated); absolute numbers on this shared machine vary by ±30 %. PostgreSQL is "
        "the headline (a database this run creates and drops); SQLite is the second "
        "column. Both keep the revocation marks and the rate-limit counters in Redis.",
        "",
        "## Goals",
        "",
        "| goal | target | " + " | ".join(f"{ENGINE_LABELS[e]} | met" for e in engines) + " |",
        "|---|---|" + "---|---|" * len(engines),
    ]
    for index, goal in enumerate(GOALS):
        sign = "≥" if goal[3] == "min" else "≤"
        cells = []
        for engine in engines:
            verdict = summary[engine]["goals"][index]
            cells += [_num(verdict["value"]), _verdict_text(verdict)]
        lines.append(f"| {goal[1]} | {sign} {_num(goal[2])} | " + " | ".join(cells) + " |")
    sections = (
        ("bearer", _bearer_md),
        ("auth", _auth_md),
        ("cleanup", _cleanup_md),
        ("reload", _reload_md),
        ("request", _request_md),
    )
    for key, render in sections:
        present = [e for e in engines if key in result["engines"][e]]
        if present:
            lines += render(result, present, config)
    sizes = next((a["sizes"] for a in result["engines"].values() if "sizes" in a), None)
    if sizes:
        lines += _sizes_md(sizes)
    return "\n".join(lines) + "\n"


BEARER_LABELS = {
    "floor": "unauthenticated DRF view (floor)",
    "jwt_email": "django-jwt-email, ES256, marks in Redis, each process's copy kept current",
    "jwt_email_cold": "django-jwt-email, the same, every request a new token",
    "jwt_email_roundtrip": "django-jwt-email, marks in Redis, one round trip per request",
    "simplejwt": "simplejwt JWTAuthentication, ES256",
    "simplejwt_stateless": "simplejwt JWTStatelessUserAuthentication, ES256",
}


def _bearer_md(result: dict[str, Any], engines: list[str], config: dict[str, Any]) -> list[str]:
    generator = result["engines"][engines[0]]["bearer"]["generator"]
    lines = [
        "",
        "## (a) Bearer-authenticated requests through gunicorn",
        "",
        f"gunicorn, 2 sync workers, DEBUG off; {generator} -t{config['threads']} "
        f"-c{config['connections']}, {config['seconds']:g} s per run, {config['repeats']} "
        'interleaved repeats; the view returns {"id": request.user.pk}.',
    ]
    for engine in engines:
        summary = result["summary"][engine]
        runs = result["engines"][engine]["bearer"]["runs"]
        lines += [
            "",
            f"**{ENGINE_LABELS[engine]}**",
            "",
            "| server | req/s median | min-max | p50 latency ms | vs floor | vs simplejwt |",
            "|---|---|---|---|---|---|",
        ]
        for name, label in BEARER_LABELS.items():
            if name not in runs:
                continue
            stats = summary["bearer"][name]
            p50 = median([run["p50_ms"] for run in runs[name] if run["p50_ms"] is not None])
            ratios = summary["bearer_ratios"]
            vs_floor = 1.0 if name == "floor" else ratios[f"{name}_vs_floor"]["median"]
            vs_peer = ratios.get(f"{name}_vs_simplejwt", {}).get("median")
            lines.append(
                f"| {label} | {_num(stats['median'])} | {_num(stats['min'])}-"
                f"{_num(stats['max'])} | {_num(p50)} | {_num(vs_floor)}x "
                f"| {_num(vs_peer) + 'x' if vs_peer else '-'} |"
            )
        spread_ = summary.get("propagation")
        if spread_:
            delay = spread_["delay_ms"]
            lines += [
                "",
                f"A logout on one app server (gunicorn master A) against the next requests "
                f"to another (master B), {spread_['trials']} sessions, each first accepted "
                f"by B, then asked of B again and again from A's 204 on: B accepted "
                f"{spread_['accepted_after_204']} request(s) in all after a 204; the first "
                f"request B refused was sent {_num(delay['median'])} ms after the 204 "
                f"(median; {_num(delay['min'])}-{_num(delay['max'])} ms; 0 when B refused the "
                "very next request).",
            ]
    return lines


AUTH_LABELS = {
    "redeem": "django-jwt-email redemption (auth/token/)",
    "refresh": "django-jwt-email refresh (auth/token/refresh/)",
    "simplejwt_refresh": "simplejwt refresh, rotation + blacklist",
}


def _auth_md(result: dict[str, Any], engines: list[str], config: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## (b) Redemption and refresh, per call",
        "",
        f"In-process (django.test.Client, full middleware and DRF stack, this app's rate "
        f"limits counted in Redis), {config['small_rows']:,} rows of each app; the three "
        f"operations interleaved call by call, {config['auth_calls']} calls each (and with "
        "the large database's, for (c)). Queries, writes and commits counted on one more "
        "call each.",
    ]
    for engine in engines:
        auth = result["summary"][engine]["auth"]
        peer = auth["simplejwt_refresh"]["small"]["median_ms"]
        lines += [
            "",
            f"**{ENGINE_LABELS[engine]}**",
            "",
            "| operation | median ms | p10-p90 ms | queries | writes | commits | vs simplejwt |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, label in AUTH_LABELS.items():
            row = auth[name]["small"]
            lines.append(
                f"| {label} | {_num(row['median_ms'])} | {_num(row['p10_ms'])}-"
                f"{_num(row['p90_ms'])} | {row.get('queries', '-')} | {row.get('writes', '-')} "
                f"| {row.get('commits', '-')} | {_num(row['median_ms'] / peer)}x |"
            )
        bare = result["summary"][engine].get("auth_no_limits")
        if bare:
            lines += [
                "",
                "The same calls without this app's rate-limit middleware (a diagnostic: what "
                "counting the per-IP limits and the failed-verification reservation in Redis "
                "costs): redemption "
                f"{_num(bare['redeem'])} ms, refresh {_num(bare['refresh'])} ms, simplejwt's "
                f"refresh {_num(bare['simplejwt_refresh'])} ms "
                f"({_num(bare['redeem'] / bare['simplejwt_refresh'])}x and "
                f"{_num(bare['refresh'] / bare['simplejwt_refresh'])}x).",
            ]
    with_large = [e for e in engines if "large" in result["summary"][e]["auth"]["redeem"]]
    if with_large:
        lines += [
            "",
            f"## (c) The same with {config['large_rows']:,} rows of each app (half expired)",
            "",
            "| operation | "
            + " | ".join(
                f"{ENGINE_LABELS[e]}: {config['small_rows']:,} rows, ms | "
                f"{config['large_rows']:,} rows, ms | ratio"
                for e in with_large
            )
            + " |",
            "|---|" + "---|---|---|" * len(with_large),
        ]
        for name, label in AUTH_LABELS.items():
            cells = []
            for engine in with_large:
                rows = result["summary"][engine]["auth"][name]
                small, large = rows["small"]["median_ms"], rows["large"]["median_ms"]
                cells += [_num(small), _num(large), f"{_num(large / small)}x"]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _cleanup_md(result: dict[str, Any], engines: list[str], config: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"## (d) Cleanup of expired rows: {config['large_rows']:,} rows of each app, half expired",
        "",
        f"{config['cleanup_repeats']} run(s) each, alternating, on fresh copies of the same "
        "database (this app: login links and sign-in sessions, half each; simplejwt: "
        "outstanding tokens). A probe writes a row to the table being cleaned every 100 ms "
        "meanwhile, as a sign-in would; its longest wait is how long a sign-in was held up.",
        "",
        "| engine | command | seconds, median | min-max | rows before → after "
        "| longest write wait ms |",
        "|---|---|---|---|---|---|",
    ]
    for engine in engines:
        runs = result["engines"][engine]["cleanup"]["runs"]
        stats = result["summary"][engine]["cleanup"]
        for key, label in (
            ("jwt_email", "jwt_email_cleanup"),
            ("simplejwt", "flushexpiredtokens"),
        ):
            if not runs[key]:
                errors = result["engines"][engine]["cleanup"].get("errors", {})
                error = errors.get(key.replace("_", "-"), "not run")
                lines.append(
                    f"| {ENGINE_LABELS[engine]} | {label} | - | - | - | not measured: "
                    f"{error.strip().splitlines()[-1][:120]} |"
                )
                continue
            first = runs[key][0]
            lines.append(
                f"| {ENGINE_LABELS[engine]} | {label} | {_num(stats[key]['median'])} "
                f"| {_num(stats[key]['min'])}-{_num(stats[key]['max'])} "
                f"| {first['before']['rows']:,} → {first['after']['rows']:,} "
                f"| {_num(stats[f'{key}_longest_wait_ms'])} |"
            )
    return lines


def _reload_md(result: dict[str, Any], engines: list[str], config: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## (g) Reloading the revocation marks",
        "",
        "`revocation.reload_marks()` with this many live revoked sessions in the database "
        "and none in Redis (a flush, a restart): the database read in chunks, the marks "
        "written a batch per round trip.",
        "",
        "| engine | revoked sessions | seconds | batches | Redis round trips |",
        "|---|---|---|---|---|",
    ]
    for engine in engines:
        reload = result["engines"][engine]["reload"]
        lines.append(
            f"| {ENGINE_LABELS[engine]} | {reload['marks']:,} | {_num(reload['seconds'])} "
            f"| {reload['batches']} | {reload['round_trips']} |"
        )
    return lines


def _request_md(result: dict[str, Any], engines: list[str], config: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## (e) The request endpoint: an address with an account vs one without",
        "",
        "POST auth/request/, in-process; the email backend takes 50 ms per message.",
        "",
        "| engine | sender | known address, median ms | unknown address, median ms | gap |",
        "|---|---|---|---|---|",
    ]
    for engine in engines:
        summary = result["summary"][engine]["request"]
        for sender, label in (
            ("inline", "inline (default)"),
            ("celery", "Celery (deliver_later)"),
        ):
            row = summary.get(sender)
            if row is None:
                error = result["engines"][engine]["request"].get(sender, {}).get("error", "-")
                lines.append(
                    f"| {ENGINE_LABELS[engine]} | {label} | - | - | not measured: "
                    f"{error.splitlines()[-1][:120]} |"
                )
                continue
            lines.append(
                f"| {ENGINE_LABELS[engine]} | {label} | {_num(row['known_ms'])} "
                f"| {_num(row['unknown_ms'])} | {_num(row['gap_ms'])} ms ({row['gap']:.0%}) |"
            )
    return lines


def _sizes_md(sizes: dict[str, int]) -> list[str]:
    labels = {
        "jwt_email_login_token": "django-jwt-email login token",
        "jwt_email_link": "django-jwt-email link (https://app.example.com/auth/verify/?token=…)",
        "jwt_email_access": "django-jwt-email access token",
        "jwt_email_refresh": "django-jwt-email refresh token",
        "simplejwt_access": "simplejwt access token (ES256)",
        "simplejwt_refresh": "simplejwt refresh token (ES256)",
        "sesame_token": "django-sesame token",
        "sesame_link": "django-sesame link (same base URL)",
    }
    lines = ["", "## (f) Sizes", "", "| what | bytes |", "|---|---|"]
    lines += [f"| {label} | {sizes[key]} |" for key, label in labels.items() if key in sizes]
    return lines
