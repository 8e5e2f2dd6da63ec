"""The bundled catalogue (geodata/catalogue.yaml) and bundled-shaped files."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from explorer.catalogue.harvest import HarvestError, harvest
from explorer.catalogue.registry import Registry
from explorer.settings import Settings


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture()
def registry():
    reg = Registry(":memory:")
    yield reg
    reg.close()


def test_bundled_catalogue_harvests_cleanly(registry, settings):
    doc = yaml.safe_load((resources.files("geodata") / "catalogue.yaml").read_text("utf-8"))
    datasets = doc["datasets"]
    report = harvest("bundled", registry, settings)
    assert report.kind == "bundled" and report.source == "bundled"
    assert report.rejected == [], report.summary()
    assert len(report.added) == len(datasets) == registry.count()
    assert report.summary().startswith(f"bundled: {len(datasets)} added, 0 updated, 0 unchanged, 0 rejected")
    for raw in datasets:
        entry = registry.get(raw["id"])
        assert entry.source == "bundled"
        assert entry.title == " ".join(raw["title"].split())
        assert [r.id for r in entry.resources] == [r["id"] for r in raw.get("resources", [])]
        assert [r.local_path for r in entry.resources] == [r.get("local_path") for r in raw.get("resources", [])]
    again = harvest("bundled", registry, settings)
    assert len(again.unchanged) == len(datasets) and not again.added and not again.updated


def test_bundled_shaped_file_with_defaults_and_rejections(tmp_path, registry, settings):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({
        "catalogue": {"title": "Mine", "defaults": {"publisher": "Camden Council", "licence": "OGL v3"}},
        "datasets": [
            {"id": "good", "title": "Good", "description": "Has [a link](javascript:alert(1)) <b>raw</b>",
             "resources": [{"id": "r", "url": "https://example.org/a.csv"}]},
            {"id": "own-publisher", "title": "Own", "publisher": "TfL"},
            {"id": "no-title"},
            {"id": "bad-local", "title": "Bad", "resources": [{"local_path": "../../etc/passwd"}]},
            {"id": "loopback", "title": "Loop", "resources": [{"url": "http://localhost:6379/"}]},
        ],
    }), "utf-8")
    report = harvest(str(path), registry, settings, kind="bundled")
    assert report.added == ["good", "own-publisher"]
    assert [(r.entry, r.field) for r in report.rejected] == [
        ("no-title", "title"), ("bad-local", "resources[0].local_path"), ("loopback", "resources[0].url")]
    good = registry.get("good")
    assert good.publisher == "Camden Council" and good.licence == "OGL v3"
    assert good.description == "Has a link &lt;b>raw&lt;/b>"
    assert registry.get("own-publisher").publisher == "TfL"
    assert good.source == "bundled:mine.yaml"


def test_bundled_file_wrong_shape(tmp_path, registry, settings):
    path = tmp_path / "bad.yaml"
    path.write_text("catalogue: {}\ndatasets: {not: a list}\n", "utf-8")
    with pytest.raises(HarvestError, match="bad.yaml.*'datasets' must be a list"):
        harvest(str(path), registry, settings, kind="bundled")
