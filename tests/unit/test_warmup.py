"""Ready means warm (explorer/web/warmup.py): ``/healthz`` says "starting" until a real app has done
its first expensive work and "ready" after; gunicorn workers say ready only when every live worker
is; ``explorer warm`` fills a real Redis with the pages a new version's workers then read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from callbacks import theme_page_cache as page_cache
from explorer.data import cache as app_cache
from callbacks import themes as theme_pages
from explorer.themes import page_data
from explorer.web.app import create_app
from explorer.settings import Settings
from explorer.web.warmup import Readiness, start_warmup

from .test_redis_cache import redis_server  # noqa: F401 - the fixture: a real redis-server

REPO = Path(__file__).resolve().parents[2]


def test_healthz_says_starting_until_the_app_is_warm_then_ready(tmp_path, data_dir):
    app = create_app(Settings(home=tmp_path / "home", data_dir=data_dir, offline=True, cache_url="simple"))
    client = app.server.test_client()
    starting = client.get("/healthz")
    assert starting.status_code == 503
    assert starting.get_json()["status"] == "starting"
    assert starting.headers["Cache-Control"] == "no-store" and starting.headers["Retry-After"]

    thread = start_warmup(app, renderer=False)
    # meanwhile the app answers (the warm-up is in a thread), and says it is still starting
    assert client.get("/api/datasets?limit=1").status_code == 200
    early = client.get("/healthz")
    thread.join(600)
    assert not thread.is_alive()
    if early.status_code == 503:
        assert early.get_json()["status"] == "starting"

    ready = client.get("/healthz")
    assert ready.status_code == 200
    body = ready.get_json()
    assert body["status"] == "ready" and body["warmed_in_s"] > 0
    themes = page_data.themes_of(app.explorer)
    assert body["steps"]["theme pages"]["detail"] == f"{len(themes)} of {len(themes)} complete"
    assert "index pages and map" in body["steps"]
    # and the search indexes of this registry version are built: the first search builds nothing
    registry = app.explorer.registry
    assert "entries found" in body["steps"]["search"]["detail"]
    assert registry._lex is not None and registry._lex.version == registry.version
    assert registry._vectors is None or registry._vectors[0] == registry.version
    # warm means the pages are made: opening a theme builds nothing
    services = app.explorer
    theme = next(iter(themes.values()))
    assert services.cache.get(page_cache.page_key(services, theme, None)) is not None
    # and the home page's small maps are drawn: its first visitor draws none
    from explorer.themes import thumbnails

    drawn = []
    original = thumbnails._kept
    thumbnails._kept = lambda *args: drawn.append(args) or original(*args)
    try:
        assert client.get("/").status_code == 200
    finally:
        thumbnails._kept = original
    assert drawn == []
    assert any(thumbnails.theme_thumbnail(services, t) for t in themes.values())


def test_a_worker_says_ready_only_when_every_live_worker_of_its_master_is(tmp_path):
    folder = tmp_path / "master"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (folder).mkdir()
        (folder / f"{other.pid}.starting").write_text("")   # another worker, still warming
        (folder / "999999999.starting").write_text("")       # a worker that has gone: not counted
        state = Readiness(folder)
        assert state.status()[0] == 503
        state.mark_ready()
        code, body = state.status()
        assert code == 503 and body["status"] == "starting"
        assert body["workers_ready"] == 1 and body["workers_starting"] == 1
        (folder / f"{other.pid}.starting").unlink()
        (folder / f"{other.pid}.ready").write_text("7.5")
        code, body = state.status()
        assert code == 200 and body["status"] == "ready"
        assert body["workers"] == 2 and body["slowest_worker_s"] >= 7.5
    finally:
        other.kill()
        other.wait()
    # the other worker gone: this one alone is ready
    assert state.status()[0] == 200


def test_explorer_warm_fills_a_real_redis_with_the_pages_workers_read(tmp_path, data_dir, redis_server,  # noqa: F811
                                                                      monkeypatch):
    home = tmp_path / "home"
    env = {**os.environ, "EXPLORER_HOME": str(home), "EXPLORER_DATA_DIR": str(data_dir),
           "EXPLORER_CACHE_URL": redis_server.url, "EXPLORER_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "explorer.cli", "warm", "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["failed"] == [] and report["seconds"] <= time.monotonic() - started
    assert report["cache"].startswith("redis://127.0.0.1:")
    client = redis_server.client()
    assert client.dbsize() > 10

    # a worker of the same version, started later, finds every theme page made: none is built.
    # (Pages are keyed by the code's digest; should the working tree have changed while the command
    # ran - other people editing it - this process is told the command's version.)
    if report["code_digest"] != app_cache.code_digest():
        monkeypatch.setattr(app_cache, "code_digest", lambda: report["code_digest"])
    app = create_app(Settings(home=home, data_dir=data_dir, offline=True, cache_url=redis_server.url))
    services = app.explorer

    def no_build(*args, **kwargs):
        raise AssertionError("a theme page was built although explorer warm had made it")

    monkeypatch.setattr(theme_pages, "build_theme_page", no_build)
    for slug in page_data.themes_of(services):
        page, title = page_cache.served_theme_page(services, slug)
        assert title.startswith(page_data.themes_of(services)[slug].title)
    # a new version of the code reads none of them (its key holds the code's digest)
    theme = next(iter(page_data.themes_of(services).values()))
    key = page_cache.page_key(services, theme, None)
    assert services.cache.get(key) is not None
    monkeypatch.setattr(app_cache, "code_digest", lambda: "another version")
    assert page_cache.page_key(services, theme, None) != key
    assert services.cache.get(page_cache.page_key(services, theme, None)) is None


@pytest.mark.parametrize("status", ["starting", "ready"])
def test_healthz_is_in_the_readme_routes(status):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "`/healthz`" in readme and f'"status": "{status}"' in readme


def test_a_worker_finding_the_pages_made_answers_a_click_without_drawing_a_chart(tmp_path, data_dir, monkeypatch):
    """The place panel reads the charts' tables another worker kept in the shared cache."""
    import explorer.themes.charts

    app = create_app(Settings(home=tmp_path / "home", data_dir=data_dir, offline=True, cache_url="simple"))
    services = app.explorer
    theme = page_data.themes_of(services)["net-zero"]
    assert page_cache.warm(services) and services.cache.get(page_cache.page_key(services, theme, None))
    drawn = page_data.place_figures(services, theme, ["E09000007"])
    assert drawn and all(item["rows"] for item in drawn)

    services.data.memos.clear()       # another worker: nothing drawn in this process

    def no_drawing(*args, **kwargs):
        raise AssertionError("a chart was drawn although its table was in the cache")

    monkeypatch.setattr(explorer.themes.charts, "build_chart", no_drawing)
    assert page_data.place_figures(services, theme, ["E09000007"]) == drawn
    # the theme's page is read from the cache too
    page, title = page_cache.served_theme_page(services, "net-zero")
    assert title.startswith(theme.title)
