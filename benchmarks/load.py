"""Real servers and a load generator, all on 127.0.0.1, bounded in time.

``Server`` runs gunicorn (sync workers, as the peers were measured) on a free
loopback port; ``RedisServer`` a Redis of the run's own (no persistence), so
that no other user of the machine's Redis flushes or loads it meanwhile.
``measure`` drives a server with wrk when it is installed, or with a small
Python generator (processes of blocking clients, stopped by a deadline and a
request cap) when it is not. Every run reports its non-2xx responses and socket
errors, so that a failing token can never pass for a fast one.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
# wrk's request() for the cold runs: thread k walks tokens k, k+T, k+2T, ... so
# that no token is sent twice within a run (none is ever a verified-cache hit).
COLD_SCRIPT = """
local tokens = {}
for line in io.lines("%(file)s") do tokens[#tokens + 1] = line end
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  step = %(threads)d
  index = id
end
function request()
  local token = tokens[index]
  index = index + step
  if index > #tokens then index = id end
  return wrk.format("GET", "%(path)s", {["Authorization"] = "Bearer " .. token})
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """gunicorn with ``workers`` sync workers on a free loopback port."""

    def __init__(self, env: dict[str, str], workers: int = 2, log: Path | None = None) -> None:
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        return self.start()

    def start(self) -> Server:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [
            str(gunicorn),
            "--workers", str(self.workers),
            "--worker-class", "sync",
            "--bind", f"{HOST}:{self.port}",
            "--log-level", "warning",
            "benchmarks.benchsite.wsgi:application",
        ]  # fmt: skip
        output = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(command, env=self.env, stdout=output, stderr=output)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if get(self.url("/floor/"))[0] == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within 30 s")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    return _call("GET", url, headers)


def post(url: str, headers: dict[str, str] | None = None, body: bytes = b"") -> tuple[int, bytes]:
    return _call("POST", url, {"Content-Type": "application/json", **(headers or {})}, body)


def _call(
    method: str, url: str, headers: dict[str, str] | None, body: bytes | None = None
) -> tuple[int, bytes]:
    host_port, path = url.split("://", 1)[1].split("/", 1)
    host, port = host_port.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, "/" + path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class RedisServer:
    """``redis-server`` on a free loopback port, without persistence, for one run."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis)")
        command = [binary, "--port", str(self.port), "--bind", HOST, "--save", ""]
        command += ["--appendonly", "no", "--databases", "4"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def server_versions(postgres: str) -> dict[str, str]:
    """The versions of the PostgreSQL and Redis servers, for the report."""
    versions = {}
    for name, command in (
        ("postgresql", ["psql", "-h", postgres.partition(":")[0], "-p",
                        postgres.partition(":")[2] or "5432", "-U", "postgres", "-tAc",
                        "SHOW server_version"]),
        ("redis", ["redis-server", "--version"]),
    ):  # fmt: skip
        try:
            output = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
        except OSError:
            continue
        if name == "redis":
            output = output.split("v=", 1)[-1].split()[0] if "v=" in output else ""
        versions[name] = output.strip().split(" ")[0]
    return versions


@dataclass(frozen=True)
class Load:
    """One load run: how many requests per second, latency, and what went wrong."""

    rps: float
    requests: int
    p50_ms: float | None
    p99_ms: float | None
    non_2xx: int
    socket_errors: int
    generator: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def measure(
    url: str,
    *,
    seconds: float,
    connections: int,
    threads: int,
    token: str | None = None,
    cold_file: Path | None = None,
) -> Load:
    """Drive ``url`` for ``seconds``: a fixed Bearer ``token``, one token per request
    from ``cold_file``, or none."""
    if have_wrk():
        return _wrk(url, seconds, connections, threads, token, cold_file)
    return _python_load(url, seconds, connections, token, cold_file)


def _wrk(
    url: str,
    seconds: float,
    connections: int,
    threads: int,
    token: str | None,
    cold_file: Path | None,
) -> Load:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    script = None
    if cold_file is not None:
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(COLD_SCRIPT % {"file": cold_file, "threads": threads, "path": path})
        script.close()
        command += ["-s", script.name]
    elif token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    try:
        output = subprocess.run(
            [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
    finally:
        if script is not None:
            os.unlink(script.name)
    return parse_wrk(output)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unknown wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Load:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Load(
        rps=rps,
        requests=requests,
        p50_ms=_duration_ms(percentiles["50"]) if "50" in percentiles else None,
        p99_ms=_duration_ms(percentiles["99"]) if "99" in percentiles else None,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        # Read errors are the server closing each connection (sync workers do not
        # keep connections alive), not failures; the other three are.
        socket_errors=(sum(int(errors.group(i)) for i in (1, 3, 4)) if errors else 0),
        generator="wrk",
    )


# --- the fallback: a bounded Python load generator ---------------------------------------

MAX_REQUESTS_PER_CLIENT = 200_000


def _client(
    args: tuple[str, float, str | None, list[str], int, int],
) -> tuple[int, int, list[float]]:
    url, deadline, token, cold, start, step = args
    host_port, path = url.split("://", 1)[1].split("/", 1)
    host, port = host_port.split(":")
    ok = failed = 0
    latencies: list[float] = []
    index = start
    while time.time() < deadline and ok + failed < MAX_REQUESTS_PER_CLIENT:
        headers = {}
        if cold:
            headers["Authorization"] = f"Bearer {cold[index % len(cold)]}"
            index += step
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        began = time.perf_counter()
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", "/" + path, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = 0
        finally:
            connection.close()
        latencies.append((time.perf_counter() - began) * 1000)
        if 200 <= status < 300:
            ok += 1
        else:
            failed += 1
    return ok, failed, latencies


def _python_load(
    url: str, seconds: float, connections: int, token: str | None, cold_file: Path | None
) -> Load:
    cold = cold_file.read_text().split() if cold_file else []
    began = time.time()
    deadline = began + seconds
    jobs = [(url, deadline, token, cold, k, connections) for k in range(connections)]
    with multiprocessing.get_context("fork").Pool(connections) as pool:
        results = pool.map(_client, jobs)
    elapsed = max(time.time() - began, 1e-9)
    ok = sum(result[0] for result in results)
    failed = sum(result[1] for result in results)
    latencies = sorted(latency for result in results for latency in result[2])

    def percentile(share: float) -> float | None:
        return latencies[int(share * (len(latencies) - 1))] if latencies else None

    return Load(
        rps=ok / elapsed,
        requests=ok + failed,
        p50_ms=percentile(0.50),
        p99_ms=percentile(0.99),
        non_2xx=failed,
        socket_errors=0,
        generator="python",
    )


if __name__ == "__main__":  # a quick manual check: python -m benchmarks.load URL
    print(json.dumps(measure(sys.argv[1], seconds=2, connections=4, threads=2).as_dict()))
