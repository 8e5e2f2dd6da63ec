"""Two hosts behind one load balancer: two production servers (gunicorn with the project's
configuration, `gunicorn -c python:explorer.web.production 'explorer.web.production:create_server()'`
as the README runs it, two workers each) on different ports, each with its own EXPLORER_HOME,
sharing one PostgreSQL database, one Redis and one file store.

What one host publishes, the other finds and maps at once; a short link made on one opens on the
other; the first-start harvest both are asked to do runs once; and a catalogue refresh that falls
due while both run is harvested once, by the schedulers inside the serving processes (four of
them look every two seconds), seen from outside: the catalogue's address, served here, is read
once."""

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
    """gunicorn with the project's configuration on 127.0.0.1:<free port>, two workers, its output
    in a file beside its home."""

    def __init__(self, name: str, tmp: Path, env: dict[str, str]):
        self.port = _free_port()
        self.home = tmp / name
        self.log_path = tmp / f"{name}.log"
        self._log = open(self.log_path, "w")
        address = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:explorer.web.production", "--workers", "2",
             "--bind", address, "explorer.web.production:create_server()"],
            cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO), "EXPLORER_HOME": str(self.home), "EXPLORER_BIND": address,
                 **env})

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
            self.proc.terminate()            # gunicorn's master: stops its workers, then itself
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


REFRESH_SECONDS = 45          # the London Datastore source falls due this long after its last harvest
CHECK_SECONDS = 2             # each serving process looks for due sources this often


class Catalogue:
    """The London Datastore's export, served by the one local server from the real snapshot: every
    read is recorded with the database's row counters at that moment (before the refresh writes)."""

    def __init__(self, server, snapshot: Path, database_url: str):
        self.body, self.database_url = snapshot.read_bytes(), database_url
        self.reads: list[dict] = []
        self.url = server.add("/api/v3/datasets/export.json", self._answer)

    def _answer(self, handler) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            counters = conn.execute(
                "SELECT n_tup_ins, n_tup_upd, (SELECT COUNT(*) FROM registry_entries)"
                " FROM pg_stat_user_tables WHERE relname = 'registry_entries'").fetchone()
        self.reads.append({"at": time.time(), "path": handler.path, "counters": counters})
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        handler.wfile.write(self.body)


def _sources_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - name: bundled\n    title: Bundled\n    kind: bundled\n    url: bundled\n    refresh_hours: 0\n"
        "  - name: london-datastore\n    title: London Datastore\n    kind: lds\n"
        f"    url: {url}\n    local_copy: catalogue/lds_export_snapshot.json\n"
        f"    refresh_hours: {REFRESH_SECONDS / 3600}\n", encoding="utf-8")
    return path


def _source_state(postgres_url: str, name: str) -> dict:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute("SELECT value FROM registry_meta WHERE key = %s", (f"source:{name}",)).fetchone()
    return json.loads(row[0]) if row else {}


def test_two_hosts_share_entries_links_files_and_run_the_first_harvest_and_a_refresh_once(
        tmp_path, data_dir, postgres_url, redis_server, local_server):  # noqa: F811
    store = tmp_path / "shared-store"
    catalogue = Catalogue(local_server, data_dir / "catalogue" / "lds_export_snapshot.json", postgres_url)
    env = {"EXPLORER_DATA_DIR": str(data_dir), "EXPLORER_DATABASE_URL": postgres_url,
           "EXPLORER_CACHE_URL": redis_server.url, "EXPLORER_STORE_DIR": str(store),
           "EXPLORER_SOURCES": str(_sources_file(tmp_path, catalogue.url)),
           "EXPLORER_ALLOW_PRIVATE_URLS": "1",                    # the catalogue is on 127.0.0.1 here
           "EXPLORER_REFRESH_CHECK_SECONDS": str(CHECK_SECONDS)}
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
        first = _source_state(postgres_url, "london-datastore")
        if not catalogue.reads:                      # (unless the refresh was quicker than the hosts' start)
            assert first["origin"] == "local copy" and first["counts"]["added"] > 1200   # the first start: the copy
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

        # the refresh falls due while both hosts serve: their schedulers (two workers each) look every
        # CHECK_SECONDS, and the catalogue's address is read once
        deadline = time.monotonic() + REFRESH_SECONDS + 240
        while not catalogue.reads and time.monotonic() < deadline:
            time.sleep(0.5)
        assert catalogue.reads, f"no scheduled refresh read the catalogue: {a.log_path.read_text()[-2000:]}"
        while _source_state(postgres_url, "london-datastore")["origin"] != "url" and time.monotonic() < deadline:
            time.sleep(0.5)
        refreshed = _source_state(postgres_url, "london-datastore")
        assert refreshed["origin"] == "url" and refreshed["ok"] and refreshed["counts"]["unchanged"] > 1200
        time.sleep(4 * CHECK_SECONDS)              # every process has looked again since: not due any more
        assert len(catalogue.reads) == 1, catalogue.reads
        # the first-start harvest, as the rows stood when the refresh began: each entry inserted once
        # and not written again (a second harvest writes every entry's harvested_at)
        inserted, updated, entries = catalogue.reads[0]["counters"]
        assert entries > 1200 and inserted == entries and updated < entries // 10, (inserted, updated, entries)
    finally:
        a.stop()
        b.stop()
