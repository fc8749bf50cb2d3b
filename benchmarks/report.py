"""Turn the raw samples of a run into medians, spreads, ratios, goals and Markdown.

Ratios are what the goals are about: each is taken between numbers measured in
the same run, interleaved, so the machine's own drift cancels out. Where a goal
is missed, the table says by how much.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

# What the issue asks for; each is (key, description, target, direction).
GOALS = [
    (
        "bearer_vs_simplejwt",
        "Bearer ES256 req/s vs simplejwt (marks shared on this host)",
        2.5,
        "min",
    ),
    ("bearer_vs_floor", "Bearer ES256 req/s vs unauthenticated floor (same)", 0.75, "min"),
    (
        "bearer_redis_vs_simplejwt",
        "the same, marks in Redis (several hosts), vs simplejwt",
        2.5,
        "min",
    ),
    ("bearer_redis_vs_floor", "the same, marks in Redis (several hosts), vs floor", 0.75, "min"),
    ("redeem_vs_simplejwt", "redemption (auth/token/) time vs simplejwt refresh", 0.5, "max"),
    ("refresh_vs_simplejwt", "refresh time vs simplejwt refresh", 0.5, "max"),
    ("redeem_commits", "redemption: commits (transactions with writes)", 1, "max"),
    ("refresh_commits", "refresh: commits (transactions with writes)", 1, "max"),
    ("redeem_large_vs_small", "redemption, large table vs 10k rows", 1.2, "max"),
    ("refresh_large_vs_small", "refresh, large table vs 10k rows", 1.2, "max"),
    ("cleanup_vs_flush", "cleanup time vs flushexpiredtokens", 0.3, "max"),
    ("cleanup_longest_wait_ms", "longest wait of a write during cleanup (ms)", 1000, "max"),
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
    """Medians, spreads, ratios and the goals' verdicts of one run."""
    measured: dict[str, float] = {}
    summary: dict[str, Any] = {"measured": measured}
    if "bearer" in result:
        runs = result["bearer"]["runs"]
        rps = {name: [run["rps"] for run in samples] for name, samples in runs.items()}
        summary["bearer"] = {name: spread(values) for name, values in rps.items()}
        ratios = {
            "jwt_email_vs_simplejwt": ("jwt_email", "simplejwt"),
            "jwt_email_vs_floor": ("jwt_email", "floor"),
            "jwt_email_cold_vs_floor": ("jwt_email_cold", "floor"),
            "jwt_email_cold_vs_simplejwt": ("jwt_email_cold", "simplejwt"),
            "jwt_email_redis_vs_floor": ("jwt_email_redis", "floor"),
            "jwt_email_redis_vs_simplejwt": ("jwt_email_redis", "simplejwt"),
            "jwt_email_locmem_vs_floor": ("jwt_email_locmem", "floor"),
            "jwt_email_locmem_vs_simplejwt": ("jwt_email_locmem", "simplejwt"),
            "simplejwt_vs_floor": ("simplejwt", "floor"),
            "simplejwt_stateless_vs_floor": ("simplejwt_stateless", "floor"),
        }
        # One ratio per repeat (the two runs were seconds apart), then their median.
        summary["bearer_ratios"] = {
            key: spread([a / b for a, b in zip(rps[top], rps[bottom], strict=True)])
            for key, (top, bottom) in ratios.items()
        }
        measured["bearer_vs_simplejwt"] = summary["bearer_ratios"]["jwt_email_vs_simplejwt"][
            "median"
        ]
        measured["bearer_vs_floor"] = summary["bearer_ratios"]["jwt_email_vs_floor"]["median"]
        for key in ("simplejwt", "floor"):
            measured[f"bearer_redis_vs_{key}"] = summary["bearer_ratios"][
                f"jwt_email_redis_vs_{key}"
            ]["median"]
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


def _summarize_auth(
    auth: dict[str, Any], summary: dict[str, Any], measured: dict[str, float]
) -> None:
    table: dict[str, Any] = {}
    for db, answer in auth.items():
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


def markdown(result: dict[str, Any]) -> str:
    summary = result["summary"]
    machine = result["machine"]
    config = result["config"]
    lines = [
        "# django-jwt-email benchmark results",
        "",
        f"Command: `{result['command']}`, started {result['started']}, took "
        f"{result['seconds']:.0f} s, commit `{machine['commit']}`.",
        "",
        f"Machine: {machine['cpu'] or 'unknown CPU'}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB, Python {machine['python']}; load average "
        f"{machine['load_average'][0]:.2f} at start, {machine['load_average_end'][0]:.2f} at end. "
        + ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
        + ".",
        "",
        "Every ratio compares numbers measured side by side in this run (interleaved, "
        "repeated); absolute numbers on this shared machine vary by ±30 %.",
        "",
        "## Goals",
        "",
        "| goal | target | measured | met |",
        "|---|---|---|---|",
    ]
    for goal in summary["goals"]:
        sign = "≥" if goal["direction"] == "min" else "≤"
        if goal["met"] is None:
            verdict = "not measured"
        elif goal["met"]:
            verdict = "yes"
        else:
            verdict = f"**no**, missed by {goal['missed_by']:.0%}"
        lines.append(
            f"| {goal['goal']} | {sign} {_num(goal['target'])} "
            f"| {_num(goal['value'])} | {verdict} |"
        )
    if "bearer" in summary:
        lines += _bearer_md(result, summary, config)
    if "auth" in summary:
        lines += _auth_md(summary, config)
    if "cleanup" in summary:
        lines += _cleanup_md(result, summary, config)
    if "request" in summary:
        lines += _request_md(result, summary)
    if "sizes" in result:
        lines += _sizes_md(result["sizes"])
    return "\n".join(lines) + "\n"


def _bearer_md(
    result: dict[str, Any], summary: dict[str, Any], config: dict[str, Any]
) -> list[str]:
    labels = {
        "floor": "unauthenticated DRF view (floor)",
        "jwt_email": "django-jwt-email, ES256, revocation marks shared by this host's workers",
        "jwt_email_cold": "django-jwt-email, the same, every request a new token",
        "jwt_email_redis": "django-jwt-email, ES256, revocation marks in Redis (several hosts)",
        "jwt_email_locmem": "django-jwt-email, marks in each worker's memory (diagnostic only)",
        "simplejwt": "simplejwt JWTAuthentication, ES256",
        "simplejwt_stateless": "simplejwt JWTStatelessUserAuthentication, ES256",
    }
    runs = result["bearer"]["runs"]
    lines = [
        "",
        "## (a) Bearer-authenticated requests through gunicorn",
        "",
        f"gunicorn, 2 sync workers, DEBUG off, SQLite; {result['bearer']['generator']} "
        f"-t{config['threads']} -c{config['connections']}, {config['seconds']:g} s per run, "
        f'{config["repeats"]} interleaved repeats; the view returns {{"id": request.user.pk}}.',
        "",
        "| server | req/s median | min-max | p50 latency ms | vs floor | vs simplejwt |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in labels.items():
        stats = summary["bearer"][name]
        p50 = median([run["p50_ms"] for run in runs[name] if run["p50_ms"] is not None])
        vs_floor = summary["bearer_ratios"].get(f"{name}_vs_floor", {}).get("median")
        vs_peer = summary["bearer_ratios"].get(f"{name}_vs_simplejwt", {}).get("median")
        if name == "floor":
            vs_floor = 1.0
        lines.append(
            f"| {label} | {_num(stats['median'])} | {_num(stats['min'])}-{_num(stats['max'])} "
            f"| {_num(p50)} | {_num(vs_floor)}x | {_num(vs_peer) + 'x' if vs_peer else '-'} |"
        )
    return lines


def _auth_md(summary: dict[str, Any], config: dict[str, Any]) -> list[str]:
    auth = summary["auth"]
    labels = {
        "redeem": "django-jwt-email redemption (auth/token/)",
        "refresh": "django-jwt-email refresh (auth/token/refresh/)",
        "simplejwt_refresh": "simplejwt refresh, rotation + blacklist",
    }
    peer = auth["simplejwt_refresh"]["small"]["median_ms"]
    lines = [
        "",
        "## (b) Redemption and refresh, per call",
        "",
        f"In-process (django.test.Client, full middleware and DRF stack), SQLite with "
        f"{config['small_rows']:,} token rows; the three operations interleaved call by call, "
        f"{config['auth_rounds'] * config['auth_calls']} calls each.",
        "",
        "| operation | median ms | p10-p90 ms | queries | writes | commits | vs simplejwt |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label in labels.items():
        row = auth[name]["small"]
        lines.append(
            f"| {label} | {_num(row['median_ms'])} | {_num(row['p10_ms'])}-{_num(row['p90_ms'])} "
            f"| {row.get('queries', '-')} | {row.get('writes', '-')} | {row.get('commits', '-')} "
            f"| {_num(row['median_ms'] / peer)}x |"
        )
    if all("large" in rows for rows in auth.values()):
        lines += [
            "",
            f"## (c) The same with {config['large_rows']:,} token rows (half expired)",
            "",
            f"| operation | {config['small_rows']:,} rows, median ms | "
            f"{config['large_rows']:,} rows, median ms | ratio |",
            "|---|---|---|---|",
        ]
        for name, label in labels.items():
            small, large = auth[name]["small"]["median_ms"], auth[name]["large"]["median_ms"]
            lines.append(f"| {label} | {_num(small)} | {_num(large)} | {_num(large / small)}x |")
    return lines


def _cleanup_md(
    result: dict[str, Any], summary: dict[str, Any], config: dict[str, Any]
) -> list[str]:
    runs = result["cleanup"]["runs"]
    stats = summary["cleanup"]
    lines = [
        "",
        f"## (d) Cleanup of expired rows: {config['large_rows']:,} rows, half expired",
        "",
        f"{config['cleanup_repeats']} run(s) each, alternating, each on a fresh copy of the "
        "same file. A probe writes a row every 100 ms meanwhile; its longest wait is how long "
        "a sign-in would have been blocked.",
        "",
        "| command | seconds, median | min-max | rows before → after | longest write wait ms |",
        "|---|---|---|---|---|",
    ]
    for key, label in (("jwt_email", "jwt_email_cleanup"), ("simplejwt", "flushexpiredtokens")):
        if not runs[key]:
            error = result["cleanup"].get("errors", {}).get(key.replace("_", "-"), "not run")
            lines.append(
                f"| {label} | - | - | - | not measured: {error.strip().splitlines()[-1][:120]} |"
            )
            continue
        first = runs[key][0]
        lines.append(
            f"| {label} | {_num(stats[key]['median'])} | {_num(stats[key]['min'])}-"
            f"{_num(stats[key]['max'])} "
            f"| {first['before']['rows']:,} → {first['after']['rows']:,} "
            f"| {_num(stats[f'{key}_longest_wait_ms'])} |"
        )
    return lines


def _request_md(result: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## (e) The request endpoint: an address with an account vs one without",
        "",
        "POST auth/request/, in-process; the email backend takes 50 ms per message.",
        "",
        "| sender | known address, median ms | unknown address, median ms | gap |",
        "|---|---|---|---|",
    ]
    for sender, label in (("inline", "inline (default)"), ("celery", "Celery (deliver_later)")):
        row = summary["request"].get(sender)
        if row is None:
            error = result["request"].get(sender, {}).get("error", "not run")
            lines.append(f"| {label} | - | - | not measured: {error.splitlines()[-1][:120]} |")
            continue
        lines.append(
            f"| {label} | {_num(row['known_ms'])} | {_num(row['unknown_ms'])} "
            f"| {_num(row['gap_ms'])} ms ({row['gap']:.0%}) |"
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
