"""Federated sources: the sources file, first-start harvest (local copy, no network), refresh with a
source down, one entry for a dataset two sources describe, and the catalogue CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from explorer.catalogue.sources import SourcesError, describe, load_sources, refresh, status
from explorer.cli import main
from explorer.services import open_registry
from explorer.settings import Settings


def _export(*records):
    return json.dumps(list(records)).encode("utf-8")


# A London Datastore record of the dataset the bundled "london-monthly-air-quality" entry describes
# (its upstream_url names the slug london-average-air-quality-levels), and one of its own.
AIR = {"id": "london-average-air-quality-levels", "title": "London Average Air Quality Levels",
       "description": "<p>Monthly averages from the LDS.</p>", "sharing": "public",
       "webpage": "https://data.london.gov.uk/dataset/london-average-air-quality-levels",
       "tags": ["air quality", "monthly"], "updatedAt": "2024-05-01T00:00:00Z", "resources": {}}
ROUGH = {"id": "rough-sleeping-chain", "title": "Rough sleeping in London (CHAIN reports)",
         "description": "<p>People seen sleeping rough by outreach teams.</p>", "sharing": "public",
         "tags": ["homelessness"], "resources": {}}


class Portal:
    """A London Datastore export served by the one local server; ``down`` makes it answer 503."""

    def __init__(self, server, body: bytes):
        self.body, self.down = body, False
        self.url = server.add("/api/v3/datasets/export.json", self._answer)

    def _answer(self, handler) -> None:
        body = b"" if self.down else self.body
        handler.send_response(503 if self.down else 200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def portal(local_server):
    return Portal(local_server, _export(AIR, ROUGH))


def _sources_file(tmp_path: Path, url: str, local_copy: str | None = None) -> Path:
    lines = ["sources:", "  - {name: bundled, kind: bundled, url: bundled}",
             f"  - name: lds\n    kind: lds\n    title: London Datastore\n    url: {url}\n    refresh_hours: 24"]
    if local_copy:
        lines.append(f"    local_copy: {local_copy}")
    path = tmp_path / "sources.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _settings(tmp_path, sources, **kw):
    return Settings(home=tmp_path / "home", sources=str(sources), allow_private_urls=True,
                    http_retries=1, http_timeout=5.0, cache_url="null", **kw)


def test_first_start_harvests_every_source_and_merges_the_same_dataset(tmp_path, portal):
    settings = _settings(tmp_path, _sources_file(tmp_path, portal.url))
    registry = open_registry(settings)
    assert registry.get("rough-sleeping-chain") is not None           # the LDS's own record
    merged = registry.get("london-monthly-air-quality")                 # bundled + its LDS record
    assert registry.get("london-average-air-quality-levels") is None    # not a second entry
    assert merged.extras["sources"][0] == "bundled" and merged.extras["sources"][1].startswith("lds:")
    assert merged.title != AIR["title"]                      # the curated title wins …
    assert "2024-05-01" in (merged.updated or "")            # … a field it left out comes from the LDS
    state = status(registry, "lds")
    assert state["counts"]["added"] == 1 and state["counts"]["updated"] == 1 and not state["last_error"]
    # Harvesting both again changes nothing: curated fields stay curated, the others harvested.
    again = refresh(registry, settings)
    assert again["lds"]["counts"]["unchanged"] == 2 and again["lds"]["counts"]["updated"] == 0
    assert again["bundled"]["counts"]["updated"] == 0
    assert registry.get("london-monthly-air-quality").extras["sources"] == merged.extras["sources"]


def test_refresh_with_a_source_down_keeps_its_entries_and_records_the_error(tmp_path, portal):
    settings = _settings(tmp_path, _sources_file(tmp_path, portal.url))
    registry = open_registry(settings)
    before = registry.count()
    portal.down = True
    states = refresh(registry, settings, only="lds")
    assert "503" in states["lds"]["last_error"]
    assert registry.count() == before and registry.get("rough-sleeping-chain") is not None
    rows = {row["name"]: row for row in describe(registry, settings)}
    assert "503" in rows["lds"]["last_error"] and rows["lds"]["last_success"]
    # The CLI says the same, and a refresh that failed exits non-zero.
    runner = CliRunner()
    env = {"EXPLORER_SOURCES": str(settings.sources), "EXPLORER_ALLOW_PRIVATE_URLS": "1",
           "EXPLORER_HTTP_RETRIES": "1"}
    out = runner.invoke(main, ["--home", str(settings.home), "catalogue", "sources", "--json"], env=env)
    assert out.exit_code == 0, out.output
    listed = {row["name"]: row for row in json.loads(out.output)["sources"]}
    assert "503" in listed["lds"]["last_error"] and listed["lds"]["entries"] >= 2
    failed = runner.invoke(main, ["--home", str(settings.home), "catalogue", "refresh", "--source", "lds"], env=env)
    assert failed.exit_code == 1 and "503" in failed.output
    portal.down = False
    ok = runner.invoke(main, ["--home", str(settings.home), "catalogue", "refresh", "--source", "lds", "--json"], env=env)
    assert ok.exit_code == 0 and json.loads(ok.output)["lds"]["last_error"] is None


def test_without_network_the_local_copy_is_harvested(tmp_path):
    data = tmp_path / "data"
    (data / "catalogue").mkdir(parents=True)
    (data / "catalogue" / "export.json").write_bytes(_export(ROUGH))
    settings = _settings(tmp_path, _sources_file(tmp_path, "https://data.london.gov.uk/api/v3/datasets/export.json",
                                                  "catalogue/export.json"), data_dir=data, offline=True)
    registry = open_registry(settings)
    assert registry.get("rough-sleeping-chain") is not None
    assert status(registry, "lds")["origin"] == "local copy"


def test_the_packaged_sources_file_names_the_london_datastore():
    sources = {s.name: s for s in load_sources(Settings())}
    assert sources["bundled"].kind == "bundled"
    lds = sources["london-datastore"]
    assert lds.kind == "lds" and lds.url.startswith("https://data.london.gov.uk/")
    assert lds.local_copy == "catalogue/lds_export_snapshot.json" and lds.refresh_hours > 0


@pytest.mark.parametrize("text, field", [
    ("sources:\n  - {name: x, kind: ftp, url: a}\n", "kind"),
    ("sources:\n  - {name: x, kind: lds}\n", "url"),
    ("sources:\n  - {name: x, kind: lds, url: a, local_copy: ../../etc/passwd}\n", "local_copy"),
    ("sources:\n  - {name: x, kind: lds, url: a}\n  - {name: x, kind: lds, url: b}\n", "name"),
    ("sources: 3\n", "sources"),
])
def test_a_bad_sources_file_is_refused_naming_the_field(tmp_path, text, field):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourcesError, match=field):
        load_sources(Settings(sources=str(path)))


def test_the_real_snapshot_fills_the_registry(tmp_path, data_dir):
    settings = Settings(home=tmp_path / "home", data_dir=data_dir, offline=True, cache_url="null")
    registry = open_registry(settings)
    assert registry.count() > 1250          # 1,249 London Datastore datasets and the bundled ones
    rows = {row["name"]: row for row in describe(registry, settings)}
    assert rows["london-datastore"]["counts"]["rejected"] == 0
    assert rows["london-datastore"]["origin"] == "local copy"


def test_a_running_server_refreshes_due_sources_and_one_process_harvests_at_a_time(tmp_path, portal):
    import time

    from explorer.catalogue.sources import Scheduler, harvest_lock

    path = _sources_file(tmp_path, portal.url)
    path.write_text(path.read_text(encoding="utf-8").replace("refresh_hours: 24", "refresh_hours: 0.0002"),
                    encoding="utf-8")
    settings = _settings(tmp_path, path)
    registry = open_registry(settings)
    first = status(registry, "lds")["last_harvest"]
    # Another process holds the harvest lock: this one skips rather than waits.
    with harvest_lock(settings) as got:
        assert got
        assert refresh(registry, settings, due_only=True, wait=False) == {}
    portal.body = _export(ROUGH, {**AIR, "id": "new-one", "title": "A new dataset", "webpage": None})
    scheduler = Scheduler(registry, settings, every_seconds=0.3).start()
    try:
        for _ in range(200):
            if registry.get("new-one") is not None:
                break
            time.sleep(0.1)
    finally:
        scheduler.stop()
    assert registry.get("new-one") is not None
    assert status(registry, "lds")["last_harvest"] >= first
    assert status(registry, "bundled")["counts"]["added"] > 0   # refresh_hours 0: not harvested again
