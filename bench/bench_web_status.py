"""Benchmark: `/api/status` under 20 concurrent clients against waitress on loopback.

Provisions a temporary runtime home through the real first-run path, seeds status files, starts the
production server (`tbot_web.server.serve`) in its own process on a free port, logs in five
sessions and lets 20 keep-alive clients hammer `/api/status`. Reports p50/p95/max latency and
requests per second (target: p95 < 50 ms) and writes `bench/results/web.json` with the date, commit
and machine; the previous result, if any, is printed for comparison.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "web.json"
TARGET_P95_MS = 50.0


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, fixed args
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _prepare(home: Path) -> None:
    from tbot_bot.clock import utc_now
    from tbot_bot.config.path_resolver import RuntimePaths
    from tbot_bot.test.web.webkit import provision, seed_runtime_files

    provision(home)
    seed_runtime_files(RuntimePaths.for_home(home), now=utc_now())


# Five accounts exist in the provisioned home; the login rate limit (5/min per IP) allows exactly
# five logins, so the 20 clients share these five sessions round-robin.
USERS = ("viewer", "analyst", "operator", "admin", "spare")


def _session_cookies(base: str) -> list[str]:
    from tbot_bot.test.web.webkit import PASSWORD, csrf_of

    cookies = []
    for username in USERS:
        with httpx.Client(base_url=base, timeout=10.0) as client:
            token = csrf_of(client.get("/login").text)
            response = client.post(
                "/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
            )
            if response.status_code != 302:
                raise SystemExit(f"login of {username} failed: {response.status_code}")
            cookies.append(str(client.cookies["tbot_session"]))
    return cookies


def _worker(port: int, cookie: str, count: int, latencies: list[float], errors: list[int]) -> None:
    """One keep-alive connection; the stdlib client keeps the load generator's own CPU cost low
    (it shares the machine with the server)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Cookie": f"tbot_session={cookie}", "Accept": "application/json"}
    try:
        for _ in range(count):
            start = time.perf_counter()
            connection.request("GET", "/api/status", headers=headers)
            response = connection.getresponse()
            response.read()
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                errors.append(response.status)
    finally:
        connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    """The production server in its own process, so the load generator does not share its GIL."""
    code = f"from tbot_web.server import serve; serve({str(home)!r}, '127.0.0.1', {port})"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "TBOT_HOME": str(home)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("server did not come up within 30 s")


def run(clients: int, requests_per_client: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        _prepare(home)
        port = _free_port()
        process = _start_server(home, port)
        base = f"http://127.0.0.1:{port}"
        try:
            cookies = _session_cookies(base)
            latencies: list[float] = []
            errors: list[int] = []
            for cookie in cookies:  # warm-up
                _worker(port, cookie, 5, [], errors)
            workers = [
                threading.Thread(
                    target=_worker,
                    args=(port, cookies[i % len(cookies)], requests_per_client, latencies, errors),
                )
                for i in range(clients)
            ]
            started = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(10)
    ordered = sorted(latencies)
    return {
        "benchmark": "web_api_status",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _commit(),
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        },
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
        "max_ms": round(ordered[-1], 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "target_p95_ms": TARGET_P95_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=100, help="requests per client")
    args = parser.parse_args()
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else None
    result = run(args.clients, args.requests)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if previous:
        for key in ("p50_ms", "p95_ms", "requests_per_s"):
            print(f"{key}: {previous.get(key)} -> {result[key]}")
    verdict = "meets" if float(result["p95_ms"]) < TARGET_P95_MS else "MISSES"  # type: ignore[arg-type]
    print(f"p95 {result['p95_ms']} ms {verdict} the {TARGET_P95_MS} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
