"""Two hosts behind one load balancer: two real `explorer serve` processes on different ports, each
with its own EXPLORER_HOME, sharing one PostgreSQL database, one Redis and one file store.

What one host publishes, the other finds and maps at once; a short link made on one opens on the
other; the first-start harvest both are asked to do runs once."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests

from explorer.accounts.store import open_accounts
from explorer.settings import Settings

from ..publishing_fixtures import PUBLISHER_A, lsoa_2011_csv
from .test_redis_cache import redis_server  # noqa: F401  (fixture: a real redis-server)

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Host:
    """`explorer serve` on 127.0.0.1:<free port>, its output in a file beside its home."""

    def __init__(self, name: str, tmp: Path, env: dict[str, str]):
        self.port = _free_port()
        self.home = tmp / name
        self.log_path = tmp / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from explorer.cli import main; main()", "serve", "--port", str(self.port)],
            cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO), "EXPLORER_HOME": str(self.home), **env})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"host on {self.port} ended: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/api/datasets?limit=1", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        pytest.fail(f"host on {self.port} did not answer within {timeout} s: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def test_two_hosts_share_entries_links_files_and_run_the_first_harvest_once(
        tmp_path, data_dir, postgres_url, redis_server):  # noqa: F811
    store = tmp_path / "shared-store"
    env = {"EXPLORER_DATA_DIR": str(data_dir), "EXPLORER_DATABASE_URL": postgres_url,
           "EXPLORER_CACHE_URL": redis_server.url, "EXPLORER_STORE_DIR": str(store)}
    admin_side = Settings(home=tmp_path / "admin", database_url=postgres_url)
    accounts = open_accounts(admin_side)
    editor = accounts.add_user("editor@example.org", "correct horse battery staple", publisher="camden",
                               publisher_name=PUBLISHER_A, role="editor")
    _, token = accounts.create_token(editor.id, "two hosts")
    auth = {"Authorization": f"Bearer {token}"}

    a, b = Host("host-a", tmp_path, env), Host("host-b", tmp_path, env)
    try:
        a.wait_ready()
        b.wait_ready()
        # the first-start harvest ran once: every entry inserted once, not written again
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            entries = conn.execute("SELECT COUNT(*) FROM registry_entries").fetchone()[0]
            assert entries > 1200
            deadline = time.monotonic() + 20
            while True:       # table statistics reach pg_stat a moment after the writes
                inserted, updated = conn.execute(
                    "SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'registry_entries'").fetchone()
                if inserted >= entries or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            # a second harvest would write every entry again (its harvested_at); one harvest only
            # updates the few entries two sources describe (the curated one merged with its record)
            assert inserted == entries and updated < entries // 10, (inserted, updated)
        assert requests.get(b.url + "/api/datasets?q=house+prices&limit=1").json()["total"] > 0

        # published through A ...
        created = requests.post(a.url + "/api/datasets", headers=auth, timeout=60, json={
            "title": "Quillwort survey of riverside flood defences", "publisher": PUBLISHER_A,
            "licence": "OGL-UK-3.0"})
        assert created.status_code == 201, created.text
        entry_id = created.json()["id"]
        csv_text, _codes = lsoa_2011_csv(data_dir)
        uploaded = requests.post(a.url + f"/api/datasets/{entry_id}/resources", headers=auth, timeout=120,
                                 files={"file": ("defences.csv", io.BytesIO(csv_text.encode()))},
                                 data={"format": "csv"})
        assert uploaded.status_code == 201, uploaded.text
        published = requests.post(a.url + f"/api/datasets/{entry_id}/publish", headers=auth, timeout=60)
        assert published.status_code == 200, published.text
        resource_id = [r["id"] for r in published.json()["resources"]][-1]
        assert list(store.rglob("defences.csv"))            # the upload is in the shared store ...
        assert not list((tmp_path / "host-a").rglob("defences.csv"))   # ... not in A's own home

        # ... is found and mapped through B at once
        found = requests.get(b.url + "/api/datasets", params={"q": "quillwort flood defences"}, timeout=30).json()
        assert found["results"] and found["results"][0]["id"] == entry_id
        layer = requests.get(b.url + f"/geo/{entry_id}/{resource_id}.pbf", timeout=120)
        assert layer.status_code == 200 and len(layer.content) > 1000, layer.text[:300]

        # a short link made on A opens on B
        made = requests.post(a.url + "/api/shorten", json={"target": f"/dataset/{entry_id}"}, timeout=30)
        assert made.status_code == 200, made.text
        opened = requests.get(b.url + made.json()["path"], allow_redirects=False, timeout=30)
        assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/dataset/{entry_id}")
        assert not (tmp_path / "host-a" / "links.sqlite3").exists()
    finally:
        a.stop()
        b.stop()
