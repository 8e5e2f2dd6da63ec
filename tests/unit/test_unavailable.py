"""With no data folder and no downloads the registry still works and each dataset says why it
cannot load; a DCAT export harvests back into an equal registry."""

from __future__ import annotations

import json

from callbacks._preview import build_preview
from explorer.geo.joins import DataService
from explorer.catalogue.dcat import catalogue_jsonld
from explorer.catalogue.harvest import harvest
from explorer.catalogue.registry import Registry
from explorer.services import Services, open_registry
from explorer.settings import Settings


def flatten(component) -> str:
    """All text in a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(flatten(c) for c in component)
    return flatten(getattr(component, "children", None))


def test_offline_without_data_each_dataset_says_why(tmp_path):
    settings = Settings(home=tmp_path / "home", data_dir=tmp_path / "no-data-here", offline=True,
                        cache_url="null")
    registry = open_registry(settings)
    assert registry.count() >= 40                       # the bundled catalogue is there
    assert registry.search("parks").total >= 1          # and searchable
    services = Services(settings, registry, DataService(settings, registry), None)
    children, card, provenance = build_preview(services, "london-lsoa-2021", None, "m")
    text = flatten(children)
    assert "could not be found" in text
    assert "offline" in text.lower() and "london-lsoa-2021" in text
    assert card is None and provenance is None


def test_dcat_export_harvests_back(tmp_path, data_dir):
    settings = Settings(home=tmp_path / "a", data_dir=data_dir, cache_url="null")
    source = open_registry(settings)
    entries = list(source.all())
    path = tmp_path / "catalogue.jsonld"
    path.write_text(catalogue_jsonld(entries, "https://explorer.example"), encoding="utf-8")
    target = Registry(tmp_path / "b.sqlite3")
    report = harvest(str(path), target, settings, kind="dcat")
    assert not report.rejected, report.summary()
    assert target.count() == len(entries)
    for original in entries[:10]:
        copy = target.get(original.id)
        assert copy is not None, original.id
        assert copy.title == original.title
        assert copy.publisher == original.publisher
        assert [r.url for r in copy.resources] == [r.url for r in original.resources]
    assert json.loads(path.read_text())["@type"] == "dcat:Catalog"
