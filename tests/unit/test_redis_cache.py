"""The shared cache on a real redis-server (Debian's package; `./dev test` installs it).

Each test starts its own redis-server on 127.0.0.1 on a free port with a temporary folder and stops
it after. Two app processes share loaded layers and geometry payloads through it; when Redis stops
mid-run requests go on with the local cache and one warning, and when it is back it is shared again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from explorer.data.cache import ResilientRedisCache, cache_config, cached, make_cache, redact_url
from explorer.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of our own: no persistence, loopback only, stopped and started at will."""

    def __init__(self, binary: str, folder: Path):
        self.binary = binary
        self.folder = folder
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "yes",
             "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"redis-server exited with {self.proc.returncode}: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"redis-server did not answer on 127.0.0.1:{self.port} within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2)


@pytest.fixture
def redis_server(tmp_path):
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server"
                                              if Path("/usr/bin/redis-server").is_file() else None)
    if binary is None:
        pytest.fail("redis-server is not installed: the shared-cache tests need Debian's "
                    "redis-server package (`./dev test` installs it when run as root; or "
                    "apt-get install redis-server)")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(binary, folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fast_retry(monkeypatch):
    monkeypatch.setattr(ResilientRedisCache, "retry_after", 0.2)
    monkeypatch.setattr(ResilientRedisCache, "max_retry_after", 0.8)


# In one process ----------------------------------------------------------------------------------
def test_redis_url_selects_the_shared_backend_and_stores_there(tmp_path, redis_server):
    settings = Settings(home=tmp_path, cache_url=redis_server.url)
    config = cache_config(settings)
    assert config["CACHE_TYPE"] == "explorer.data.cache.ResilientRedisCache"
    cache = make_cache(settings)
    assert cached(cache, "layer-1", lambda: {"rows": 4994}) == {"rows": 4994}
    keys = [k.decode() for k in redis_server.client().keys("*")]
    assert keys == ["explorer:layer-1"]
    assert cached(cache, "layer-1", lambda: pytest.fail("computed again")) == {"rows": 4994}
    assert redact_url("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"


def test_redis_stopping_and_coming_back_in_one_process(tmp_path, redis_server, fast_retry, caplog):
    cache = make_cache(Settings(home=tmp_path, cache_url=redis_server.url))
    backend = cache.cache
    cached(cache, "a", lambda: "from-redis")
    redis_server.stop()
    calls = []
    with caplog.at_level(logging.WARNING, logger="explorer.data.cache"):
        started = time.monotonic()
        for _ in range(20):
            assert cached(cache, "b", lambda: calls.append(1) or "local") == "local"
        elapsed = time.monotonic() - started
    assert len(calls) == 1  # computed once, then served by the local fallback cache
    assert elapsed < 1.5, f"20 requests with Redis down took {elapsed:.2f} s"
    warnings = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(warnings) == 1 and redis_server.url in warnings[0].getMessage()
    assert backend.using_redis is False

    redis_server.start()
    time.sleep(1.0)  # longer than the (doubled) back-off
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="explorer.data.cache"):
        cached(cache, "c", lambda: "shared-again")
    assert backend.using_redis is True
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert redis_server.client().get("explorer:c") is not None


def test_no_redis_at_all_never_blocks_and_backs_off(tmp_path, fast_retry, caplog):
    cache = make_cache(Settings(home=tmp_path, cache_url=f"redis://127.0.0.1:{_free_port()}/0"))
    backend = cache.cache
    attempts = []
    real_get = backend.redis.get

    def counting_get(key):
        attempts.append(key)
        return real_get(key)

    backend.redis.get = counting_get
    with caplog.at_level(logging.WARNING, logger="explorer.data.cache"):
        for _ in range(10):
            assert cached(cache, "k", lambda: 7) == 7
    assert len(attempts) == 1  # one try, then the back-off: no connection per request
    time.sleep(0.25)
    cached(cache, "k", lambda: 7)
    assert len(attempts) == 2  # tried again after the back-off, failed, waits longer now
    cached(cache, "k", lambda: 7)
    assert len(attempts) == 2
    assert sum("cannot be reached" in r.getMessage() for r in caplog.records) == 1


# Two app processes -------------------------------------------------------------------------------
WORKER = textwrap.dedent("""
    import json, logging, sys
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    import explorer.data.cache, explorer.geo.joins, explorer.geo.geometry_payload
    explorer.data.cache.ResilientRedisCache.retry_after = 0.2
    explorer.data.cache.ResilientRedisCache.max_retry_after = 0.4
    counts = {"loads": 0, "previews": 0}
    real_load = explorer.geo.joins.DataService._load
    def counting_load(self, *a, **k):
        counts["loads"] += 1
        return real_load(self, *a, **k)
    explorer.geo.joins.DataService._load = counting_load
    real_preview = explorer.geo.geometry_payload.preview_geojson
    def counting_preview(*a, **k):
        counts["previews"] += 1
        return real_preview(*a, **k)
    explorer.geo.geometry_payload.preview_geojson = counting_preview
    from explorer.web.app import create_app
    from explorer.settings import Settings
    home, data_dir, url = sys.argv[1:4]
    client = create_app(Settings(home=home, data_dir=data_dir, cache_url=url)).server.test_client()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        path = line.strip()
        if not path:
            break
        response = client.get(path)
        print(json.dumps({"status": response.status_code, "bytes": len(response.data), **counts}),
              flush=True)
""")


class AppProcess:
    def __init__(self, home: Path, data_dir: Path, url: str):
        self.stderr_path = home.parent / f"{home.name}.stderr"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(home), str(data_dir), url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)})

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            pytest.fail(f"app process ended: {self.stderr_path.read_text()[-3000:]}")
        return json.loads(line)

    def get(self, path: str) -> dict:
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        return self.read()

    @property
    def log(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        self._stderr.close()


def test_two_app_processes_share_the_cache_and_survive_redis_going_away(tmp_path, data_dir, redis_server):
    a = AppProcess(tmp_path / "home-a", data_dir, redis_server.url)
    b = AppProcess(tmp_path / "home-b", data_dir, redis_server.url)
    try:
        assert a.read()["ready"] and b.read()["ready"]
        first = a.get("/geo/london-boroughs.geojson")
        assert first["status"] == 200 and first["loads"] >= 1 and first["previews"] == 1
        assert any(k.startswith(b"explorer:") for k in redis_server.client().keys("*"))

        # B has its own home (registry, store, filesystem) but the same Redis: it loads nothing.
        shared = b.get("/geo/london-boroughs.geojson")
        assert shared == {**first, "loads": 0, "previews": 0}

        # Redis stops mid-run: A and B go on with their local caches, one warning each.
        redis_server.stop()
        for _ in range(3):
            assert a.get("/geo/thames.geojson")["status"] == 200
        down = a.get("/geo/thames.geojson")
        assert down["status"] == 200 and down["previews"] == 2  # computed once, then local cache
        assert b.get("/api/datasets/thames")["status"] == 200
        assert b.get("/geo/london-boroughs.geojson")["status"] == 200
        assert a.log.count("cannot be reached") == 1, a.log
        assert a.log.count("WARNING explorer.data.cache") == 1, a.log

        # Redis is back: what A stores now, B reads.
        redis_server.start()
        time.sleep(1.0)
        before_b = b.get("/api/datasets/london-inner-outer")
        stored = a.get("/geo/london-inner-outer.geojson")
        assert stored["status"] == 200 and stored["previews"] == 3
        assert "is back" in a.log
        read = b.get("/geo/london-inner-outer.geojson")
        assert read["status"] == 200 and read["bytes"] == stored["bytes"]
        assert read["loads"] == before_b["loads"] and read["previews"] == before_b["previews"]
        assert "Traceback" not in a.log + b.log
    finally:
        a.close()
        b.close()
