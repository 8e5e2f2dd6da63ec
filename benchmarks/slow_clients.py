"""Slow clients against the production server: p95 of normal requests with and without attackers.

A "slowloris" opens many connections and sends each request's headers a byte at a time, never
finishing them. The server is started for real (`explorer serve --workers 2`, waitress in each
gunicorn worker), and for comparison gunicorn's own ``gthread`` workers (the engine before issue
13) with the same settings file, each on a free 127.0.0.1 port:

* **quiet**: ``--requests`` normal requests, one after another, each on a new connection
  (the search API, the home page, a catalogue page);
* **attacked**: the same while ``--attackers`` connections dribble their headers (one byte every
  ``--dribble`` seconds), opened before the first request and kept going to the last.

A request not answered within ``--timeout`` seconds counts as failed (and at that time in p95).

    .venv/bin/python -m benchmarks.slow_clients [--attackers 50] [--requests 60] [--engines ours,gthread]

Writes benchmarks/results/slow_clients.json and .md.
"""

from __future__ import annotations

import argparse
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

from .processes import stop_group

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATA_DIR = (ROOT / ".." / "shared" / "data").resolve()
PATHS = ("/api/datasets?q=air&limit=3", "/", "/catalogue?theme=air-quality")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(engine: str, home: Path, port: int, workers: int = 2, log_path: Path | None = None):
    """``ours`` is `explorer serve --workers`; ``gthread`` the same settings with gunicorn's own
    threaded workers (the engine before)."""
    env = {**os.environ, "EXPLORER_HOME": str(home), "EXPLORER_DATA_DIR": str(DATA_DIR),
           "EXPLORER_CACHE_URL": "", "PYTHONPATH": str(ROOT)}
    if engine == "ours":
        cmd = [sys.executable, "-m", "explorer.cli", "serve", "--workers", str(workers), "--port", str(port)]
    elif engine == "gthread":
        cmd = [sys.executable, "-m", "gunicorn", "-c", "python:explorer.web.production", "--worker-class",
               "gthread", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
               "explorer.web.production:create_server()"]
    else:
        raise ValueError(engine)
    log = open(log_path or os.devnull, "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    proc.log_file = log  # type: ignore[attr-defined]
    return proc


def wait_ready(proc, port: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        status, _ = get(port, "/api/datasets?limit=1", timeout=5)
        if status == 200:
            return
        time.sleep(0.3)
    raise RuntimeError("server did not answer")


def stop_server(proc) -> None:
    stop_group(proc)
    proc.log_file.close()


def get(port: int, path: str, timeout: float) -> tuple[int | None, float]:
    """One GET on a new connection: (status or None, seconds)."""
    start = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
                      "Accept-Encoding: gzip\r\n\r\n".encode("ascii"))
            data = b""
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None
    except (OSError, ValueError, IndexError):
        status = None
    return status, time.perf_counter() - start


class SlowClients:
    """``count`` connections sending a request's headers one byte every ``dribble`` seconds."""

    def __init__(self, port: int, count: int, dribble: float = 1.0):
        self.port, self.count, self.dribble = port, count, dribble
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "SlowClients":
        for _ in range(self.count):
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                s.sendall(b"GET /catalogue HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                self.sockets.append(s)
            except OSError:
                pass
        self.thread.start()
        time.sleep(min(3.0, 2 * self.dribble))   # let every connection be taken by the server
        return self

    def _run(self) -> None:
        header = b"X-Slow-Header-" + b"a" * 10_000
        i = 0
        while not self.stop.wait(self.dribble):
            byte = header[i % len(header):i % len(header) + 1]
            i += 1
            for s in list(self.sockets):
                try:
                    s.send(byte)
                except OSError:
                    self.sockets.remove(s)
                    s.close()

    @property
    def open(self) -> int:
        return len(self.sockets)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)
        for s in self.sockets:
            s.close()


def measure(port: int, requests: int, timeout: float) -> dict:
    times, failed = [], 0
    for i in range(requests):
        status, seconds = get(port, PATHS[i % len(PATHS)], timeout)
        if status != 200:
            failed += 1
            seconds = max(seconds, timeout)
        times.append(seconds * 1000)
    times.sort()
    return {"requests": requests, "failed": failed, "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(round(0.95 * len(times))) - 1)], 1),
            "max_ms": round(times[-1], 1)}


def run_engine(engine: str, args) -> dict:
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix=f"slow-{engine}-"))
    proc = start_server(engine, home, port, workers=args.workers, log_path=home / "server.log")
    try:
        wait_ready(proc, port)
        for path in PATHS:             # warm: every worker has drawn these pages once
            for _ in range(2 * args.workers):
                get(port, path, 30)
        quiet = measure(port, args.requests, args.timeout)
        with SlowClients(port, args.attackers, args.dribble) as attackers:
            attacked = measure(port, args.requests, args.timeout)
            still_open = attackers.open
        attacked["attackers_still_connected"] = still_open
    finally:
        stop_server(proc)
    ratio = round(attacked["p95_ms"] / quiet["p95_ms"], 2) if quiet["p95_ms"] else None
    return {"engine": engine, "quiet": quiet, "attacked": attacked, "p95_ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attackers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dribble", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--engines", default="ours,gthread")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    load = os.getloadavg()[0]
    rows = [run_engine(engine, args) for engine in args.engines.split(",")]
    out = {"commit": commit, "machine": platform.machine(), "cpus": os.cpu_count(),
           "load_average_at_start": round(load, 2), "attackers": args.attackers,
           "requests": args.requests, "workers": args.workers, "dribble_s": args.dribble,
           "timeout_s": args.timeout, "paths": PATHS, "results": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "slow_clients.json").write_text(json.dumps(out, indent=1) + "\n")
    names = {"ours": "waitress in gunicorn workers (`explorer serve --workers`)",
             "gthread": "gunicorn `gthread` workers (before)"}
    lines = [
        "# Slow clients (`benchmarks/slow_clients.py`)", "",
        f"{args.workers} workers, {args.requests} normal requests one after another "
        f"({', '.join(PATHS)}), quiet and then while {args.attackers} connections send their "
        f"headers one byte every {args.dribble:g} s; a request unanswered after {args.timeout:g} s "
        f"counts as failed at that time. Commit {commit}, {os.cpu_count()} CPUs, load average "
        f"{load:.2f} at the start.", "",
        "| engine | quiet p50 / p95 ms | attacked p50 / p95 ms | failed (attacked) | p95 attacked ÷ quiet |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        q, a = row["quiet"], row["attacked"]
        lines.append(f"| {names.get(row['engine'], row['engine'])} | {q['p50_ms']:,} / {q['p95_ms']:,} | "
                     f"{a['p50_ms']:,} / {a['p95_ms']:,} | {a['failed']} of {a['requests']} | "
                     f"{row['p95_ratio']}× |")
    (RESULTS / "slow_clients.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
