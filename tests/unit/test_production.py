"""Production serving: `explorer serve --workers N` runs gunicorn; a killed worker is replaced while
the other keeps serving. The server runs in a subprocess on a free port with a bounded lifetime."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from benchmarks.processes import stop_group
from explorer.web import production
from explorer.cli import main

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


def test_gunicorn_options():
    options = production.gunicorn_options("0.0.0.0", 9000, workers=3, threads=2)
    assert options["bind"] == "0.0.0.0:9000" and options["workers"] == 3 and options["threads"] == 2
    # waitress in each worker: requests are read whole before a thread runs them (slow clients)
    assert options["worker_class"] == "explorer.web.production.BufferingWorker" and options["preload_app"] is False
    assert production.gunicorn_options("::1", 9000)["bind"] == "[::1]:9000"
    assert production.gunicorn_options()["workers"] == production.default_workers() >= 1
    with pytest.raises(ValueError, match="--workers"):
        production.gunicorn_options(workers=0)


def test_serve_options_that_only_make_sense_with_workers(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["--home", str(tmp_path), "serve", "--threads", "4"])
    assert result.exit_code == 2 and "--threads and --access-log only apply with --workers" in result.output
    result = runner.invoke(main, ["--home", str(tmp_path), "serve", "--workers", "2", "--debug"])
    assert result.exit_code == 2 and "--debug is for the development server" in result.output
    result = runner.invoke(main, ["--home", str(tmp_path), "serve", "--workers", "0"])
    assert result.exit_code == 2 and "--workers" in result.output


@pytest.fixture
def gunicorn(tmp_path, data_dir):
    port = _free_port()
    env = {**os.environ, "EXPLORER_HOME": str(tmp_path / "home"), "EXPLORER_DATA_DIR": str(data_dir),
           "EXPLORER_CACHE_URL": "", "PYTHONPATH": str(REPO)}
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "explorer.cli", "serve", "--workers", "2", "--threads", "2",
         "--port", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        # as a load balancer would: the server is used once /healthz says every worker is warm
        # (explorer/web/warmup.py; minutes on a busy machine)
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited: {(tmp_path / 'gunicorn.log').read_text()[-3000:]}")
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not say it was ready within 300 s")
            time.sleep(0.2)
        yield proc, base, tmp_path / "gunicorn.log"
    finally:
        stop_group(proc)
        log.close()


def test_a_killed_worker_is_replaced_and_the_other_keeps_serving(gunicorn):
    proc, base, log_path = gunicorn
    deadline = time.monotonic() + 30
    while len(workers := _children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) == 2, workers

    # Production settings: compressed, hardened, long-lived static files, no debug.
    index = requests.get(base + "/", timeout=10)
    assert index.status_code == 200 and index.headers["Content-Encoding"] == "br"   # requests offers br
    assert index.headers["Server"] == "waitress"   # gunicorn's master, waitress in each worker
    assert "script-src 'self' 'sha256-" in index.headers["Content-Security-Policy"]
    assert "Traceback" not in requests.get(base + "/api/datasets?limit=x", timeout=10).text
    raw = requests.get(base + "/", headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True)
    assert gzip.decompress(raw.raw.read()).startswith(b"<!DOCTYPE html>")

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    statuses = []
    end = time.monotonic() + 3
    while time.monotonic() < end:
        with requests.Session() as session:  # a new connection each time: any worker may take it
            statuses.append(session.get(base + "/api/datasets?q=air&limit=3", timeout=10).status_code)
    assert statuses and set(statuses) == {200}, statuses

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = _children(proc.pid)
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.1)
    assert victim not in now and len(now) == 2 and len(now - workers) == 1, (workers, now)
    replacement = (now - workers).pop()
    assert requests.get(base + "/api/datasets/london-boroughs", timeout=10).status_code == 200
    assert proc.poll() is None  # the master never went down
    log = log_path.read_text()
    assert f"Booting worker with pid: {replacement}" in log


def _still_open(sock: socket.socket) -> bool:
    """True while the server has not closed the connection (nothing to read, or not EOF)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False


def test_clients_sending_headers_slowly_do_not_stop_the_others(gunicorn):
    """Issue 13 item 5: 50 connections dribble a request's headers a byte at a time (more than the
    2 workers x 2 threads); other clients are still answered, while every slow one is still
    connected. Figures (p95 with and without them): benchmarks/slow_clients.py."""
    proc, base, _ = gunicorn
    port = int(base.rsplit(":", 1)[1])
    slow = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /catalogue HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append(sock)
    stop = threading.Event()

    def dribble():
        header = b"X-Slow: " + b"a" * 1000
        i = 0
        while not stop.wait(0.5):
            for sock in slow:
                try:
                    sock.send(header[i % len(header):i % len(header) + 1])
                except OSError:
                    pass
            i += 1

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        time.sleep(2)   # every slow connection has been accepted and is mid-headers
        answered = []
        for path in ("/api/datasets?q=air&limit=3", "/", "/catalogue?theme=air-quality") * 4:
            with requests.Session() as session:   # a new connection each time
                response = session.get(base + path, timeout=60)
            answered.append((path, response.status_code))
        assert all(status == 200 for _, status in answered), answered
        assert sum(_still_open(sock) for sock in slow) == 50  # the attack went on throughout
        assert proc.poll() is None
    finally:
        stop.set()
        thread.join(5)
        for sock in slow:
            sock.close()
