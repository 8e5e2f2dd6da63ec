"""The registry: upserts, full-text search with stemming and weights, facets, transactions."""

from __future__ import annotations

import pytest

from explorer.catalogue.models import Entry
from explorer.catalogue.registry import Registry, fts_query


def make(entry_id: str, title: str, description: str = "", **extra) -> Entry:
    data = {"id": entry_id, "title": title, "description": description,
            "resources": extra.pop("resources", [{"url": f"https://example.org/{entry_id}.csv"}])}
    data.update(extra)
    return Entry.from_dict(data)


@pytest.fixture()
def new_registry(tmp_path, database_url, request):
    """Opens a registry by name on each backend: a SQLite file, or a PostgreSQL database (one per
    name, so opening the same name again is a restart) read through a replica under tmp_path."""
    from explorer.catalogue.pg_registry import PgRegistry

    urls: dict[str, str] = {}

    def open_one(name: str):
        if not database_url:
            return Registry(tmp_path / name)
        if name not in urls:
            urls[name] = database_url if not urls else request.getfixturevalue("postgres_server").new_database()
        return PgRegistry(urls[name], tmp_path / f"{name}.replica")

    return open_one


@pytest.fixture()
def registry(new_registry):
    reg = new_registry("registry.sqlite3")
    with reg.transaction():
        reg.upsert(make("no2-lsoa", "Nitrogen dioxide by LSOA", "Modelled annual mean concentrations.",
                        publisher="GLA", themes=["air-quality"], smallest_geography="lsoa",
                        licence="OGL v3"))
        reg.upsert(make("parks", "Public parks and gardens", "Park polygons from OS Open Greenspace.",
                        publisher="Ordnance Survey", themes=["green-infrastructure"],
                        resources=[{"url": "https://example.org/parks.gpkg"}], licence="OGL v3"))
        reg.upsert(make("trees", "Street trees in Camden", "Trees near parks and streets.",
                        publisher="LB Camden", themes=["green-infrastructure"],
                        resources=[{"url": "https://example.org/trees.geojson"}], licence="OGL v3"))
        reg.upsert(make("monitoring", "Air quality monitoring sites", "Where nitrogen dioxide is measured.",
                        publisher="KCL", themes=["air-quality"], licence="Not stated",
                        access_level="shared", access_note="Email the network."))
    yield reg
    reg.close()


def test_upsert_reports_added_unchanged_updated(new_registry):
    reg = new_registry("r.sqlite3")
    entry = make("a", "Title one")
    assert reg.upsert(entry) == "added"
    assert reg.upsert(make("a", "Title one")) == "unchanged"
    assert reg.upsert(make("a", "Title two")) == "updated"
    assert reg.count() == 1
    assert reg.get("a").title == "Title two"
    # The old title is gone from the index, the new one is found.
    assert reg.search("one").total == 0
    assert [h.entry.id for h in reg.search("two").hits] == ["a"]


def test_stemming_and_prefix(registry):
    assert {h.entry.id for h in registry.search("parks").hits} >= {"parks", "trees"}
    assert "parks" in {h.entry.id for h in registry.search("park").hits}
    assert [h.entry.id for h in registry.search("nitro").hits]  # prefix of the last word


def test_a_word_ending_in_y_finds_its_derived_forms(new_registry):
    # Porter stems "employ" to "emploi" but "employment" to "employ".
    reg = new_registry("y.sqlite3")
    reg.upsert(make("jobs", "Employment rate by borough"))
    reg.upsert(make("other", "Emissions by sector"))
    for query in ("employ", "employ rate", "employ borough", "EMPLOY"):
        assert [h.entry.id for h in reg.search(query).hits] == ["jobs"], query
    assert fts_query("employ") == '("employ"* OR "emplo"*)'
    assert fts_query("employ rate") == '("employ" OR "emplo"*) AND "rate"*'
    reg.close()


def test_title_outranks_description(registry):
    ids = [h.entry.id for h in registry.search("parks").hits]
    # "parks" is in the title of one and only in the description of the other.
    assert ids.index("parks") < ids.index("trees")
    scores = [h.score for h in registry.search("parks").hits]
    assert scores == sorted(scores, reverse=True)


def test_all_words_then_any_word(registry):
    both = registry.search("nitrogen dioxide")
    assert both.mode == "all" and both.total == 2
    fallback = registry.search("nitrogen gardens")
    assert fallback.mode == "any"
    assert {h.entry.id for h in fallback.hits} == {"no2-lsoa", "monitoring", "parks"}


def test_facets_count_and_filter(registry):
    everything = registry.search("")
    assert everything.total == 4
    themes = dict(everything.facets["theme"])
    assert themes == {"air-quality": 2, "green-infrastructure": 2}
    assert dict(everything.facets["access"]) == {"open": 3, "shared": 1}
    # OR within a facet, AND across facets.
    either = registry.search("", {"format": ["gpkg", "geojson"]})
    assert {h.entry.id for h in either.hits} == {"parks", "trees"}
    narrowed = registry.search("", {"format": ["gpkg", "geojson"], "publisher": ["LB Camden"]})
    assert [h.entry.id for h in narrowed.hits] == ["trees"]
    # Counts follow the filtered results.
    assert dict(narrowed.facets["publisher"]) == {"LB Camden": 1}
    # Unknown facet keys are ignored rather than failing.
    assert registry.search("", {"colour": ["red"]}).total == 4


def test_hostile_queries_do_not_break_search(registry):
    for text in ['"', "NEAR(a b", "title:parks", "a AND OR", "*", "') DROP TABLE entries; --", "ü ñ"]:
        registry.search(text)  # must not raise
    assert registry.count() == 4
    assert fts_query('say "hi"') == '"say" AND "hi"*'


def test_paging_is_stable(registry):
    first = registry.search("", limit=2, offset=0)
    second = registry.search("", limit=2, offset=2)
    assert first.total == second.total == 4
    ids = [h.entry.id for h in first.hits + second.hits]
    assert len(set(ids)) == 4


def test_failed_transaction_keeps_what_was_stored(registry):
    with pytest.raises(RuntimeError):
        with registry.transaction():
            registry.upsert(make("parks", "Overwritten title"))
            registry.upsert(make("new-one", "Never stored"))
            raise RuntimeError("harvest crashed half-way")
    assert registry.get("parks").title == "Public parks and gardens"
    assert registry.get("new-one") is None
    assert registry.count() == 4


def test_persists_across_reopen(new_registry):
    reg = new_registry("r.sqlite3")
    reg.upsert(make("x", "Green belt land"))
    reg.close()
    again = new_registry("r.sqlite3")
    assert again.get("x").title == "Green belt land"
    assert again.search("green").total == 1


def test_json_shape_is_stable(registry):
    data = registry.search("air", limit=1).to_dict()
    assert set(data) >= {"total", "results", "facets"}
    assert set(data["results"][0]) >= {"id", "title", "publisher", "score"}
    assert all({"value", "count"} == set(item) for items in data["facets"].values() for item in items)


def test_acronyms_and_their_words_find_each_other(new_registry):
    reg = new_registry("r.sqlite3")
    reg.upsert(make("a", "Modelled NO₂ by LSOA", "Annual mean concentrations."))
    reg.upsert(make("b", "Index of Multiple Deprivation 2019", "Ranks of small areas."))
    assert [h.entry.id for h in reg.search("nitrogen dioxide").hits] == ["a"]
    assert [h.entry.id for h in reg.search("no2").hits] == ["a"]
    # Every word of the acronym's name is in "a"; "b" holds only "areas" (any word counts, lower).
    assert [h.entry.id for h in reg.search("lower layer super output area").hits][0] == "a"
    assert [h.entry.id for h in reg.search("IMD").hits] == ["b"]
    # A word that only looks like an acronym inside another word does not expand.
    reg.upsert(make("c", "Monoxide", "Carbon monoxide readings."))
    assert "c" not in {h.entry.id for h in reg.search("nitrogen").hits}


def test_versions_change_with_an_entry_and_name_missing_ones(new_registry):
    reg = new_registry("v.sqlite3")
    reg.upsert(make("a", "Title one"))
    before = reg.versions(["a", "gone", "a"])
    assert [v[0] for v in before] == ["a", "gone"] and before[1][1] is None and before[0][1]
    reg.upsert(make("a", "Title two"))
    assert reg.versions(["a"])[0][1] != before[0][1]
    reg.close()
