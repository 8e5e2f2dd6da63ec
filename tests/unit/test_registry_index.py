"""The registry's in-memory facet index, its invalidation by writes, the schema upgrade, snippets
for the page only, and the one-pass synonym matcher."""

from __future__ import annotations

import re
import sqlite3

import pytest

from explorer.catalogue.registry import SCHEMA_VERSION, Registry
from explorer.catalogue.synonyms import GROUPS, expansions

from .test_registry import make


@pytest.fixture()
def registry(tmp_path):
    reg = Registry(tmp_path / "registry.sqlite3")
    with reg.transaction():
        reg.upsert(make("a", "Air quality by borough", "Nitrogen dioxide means.", publisher="GLA",
                        themes=["Air-Quality"], smallest_geography="borough"))
        reg.upsert(make("b", "Air quality by ward", "Particulate matter.", publisher="GLA",
                        themes=["air-quality"], smallest_geography="ward"))
        reg.upsert(make("c", "Street trees", "Trees in streets.", publisher="LB Camden",
                        themes=["environment"], resources=[{"url": "https://example.org/t.geojson"}]))
    yield reg
    reg.close()


def test_facet_counts_follow_every_write(registry):
    assert dict(registry.search("").facets["publisher"]) == {"GLA": 2, "LB Camden": 1}
    assert dict(registry.search("air").facets["geography"]) == {"borough": 1, "ward": 1}
    before = registry.version
    registry.upsert(make("d", "Air quality at sites", "Hourly readings.", publisher="KCL",
                         smallest_geography="point", themes=["air-quality"]))
    assert registry.version > before
    assert dict(registry.search("").facets["publisher"]) == {"GLA": 2, "KCL": 1, "LB Camden": 1}
    assert dict(registry.search("air").facets["geography"]) == {"borough": 1, "point": 1, "ward": 1}
    assert registry.facet_totals()["theme"] == [("air-quality", 3), ("environment", 1)]
    # An update moves the entry's values; a delete takes them away.
    registry.upsert(make("d", "Air quality at sites", "Hourly readings.", publisher="GLA",
                         smallest_geography="point", themes=["air-quality"]))
    assert dict(registry.search("").facets["publisher"]) == {"GLA": 3, "LB Camden": 1}
    assert registry.delete("a")
    assert dict(registry.search("air").facets["geography"]) == {"point": 1, "ward": 1}
    assert registry.search("", {"geography": ["borough"]}).total == 0


def test_a_rolled_back_write_leaves_no_stale_counts(registry):
    with pytest.raises(RuntimeError):
        with registry.transaction():
            registry.upsert(make("e", "Noise map", "Road noise.", publisher="Defra"))
            # Searching inside the transaction sees the uncommitted entry …
            assert dict(registry.search("").facets["publisher"])["Defra"] == 1
            raise RuntimeError("harvest failed")
    # … but after the rollback neither the entry nor its count remain, even when the next
    # committed write gets the version number the rolled-back one had.
    registry.upsert(make("f", "Flood zones", "Rivers.", publisher="Environment Agency"))
    publishers = dict(registry.search("").facets["publisher"])
    assert publishers.get("Environment Agency") == 1 and "Defra" not in publishers
    assert registry.search("noise").total == 0


def test_a_write_through_another_connection_is_seen(tmp_path):
    path = tmp_path / "shared.sqlite3"
    reader, writer = Registry(path), Registry(path)
    writer.upsert(make("a", "Parks", "Green space.", publisher="GLA"))
    assert dict(reader.search("").facets["publisher"]) == {"GLA": 1}
    writer.upsert(make("b", "Parks and gardens", "More green space.", publisher="OS"))
    assert dict(reader.search("park").facets["publisher"]) == {"GLA": 1, "OS": 1}
    assert reader.search("park").total == 2
    reader.close()
    writer.close()


def test_filters_totals_and_counts_agree(registry):
    # OR within a facet, AND across facets; an unknown value matches nothing.
    assert registry.search("", {"theme": ["air-quality", "environment"]}).total == 3
    assert registry.search("", {"theme": ["Air-Quality"]}).total == 0  # values are stored lower-case
    narrowed = registry.search("air", {"geography": ["ward", "nowhere"], "publisher": ["GLA"]})
    assert [h.entry.id for h in narrowed.hits] == ["b"]
    assert narrowed.facets["geography"] == [("ward", 1)]
    assert registry.search("trees", {"publisher": ["GLA"]}).total == 0
    assert registry.search("trees", {"publisher": ["GLA"]}).facets == {}


def test_equal_scores_are_ordered_by_title_across_pages(tmp_path):
    reg = Registry(tmp_path / "r.sqlite3")
    for i, letter in enumerate("dbeac"):
        reg.upsert(make(f"x{i}", f"Rainfall {letter}", "Monthly rainfall totals."))
    reg.upsert(make("best", "Rainfall rainfall", "Rainfall totals, rainfall maps."))
    titles = [h.entry.title for h in reg.search("rainfall", limit=10).hits]
    assert titles[0] == "Rainfall rainfall"
    assert titles[1:] == [f"Rainfall {c}" for c in "abcde"]
    paged = [reg.search("rainfall", limit=2, offset=k).hits for k in (0, 2, 4)]
    assert [h.entry.title for page in paged for h in page] == titles
    assert reg.search("rainfall", limit=0).total == 6
    reg.close()


def test_snippets_mark_matches_on_the_page(tmp_path):
    reg = Registry(tmp_path / "r.sqlite3")
    reg.upsert(make("p1", "Population projections", "Borough population projections for London."))
    reg.upsert(make("p2", "Employment by borough", "Employment and employees in each borough."))
    # One word with an indexed prefix, a long prefix, and several words take different paths.
    # The snippet is of the description.
    for query, word in (("pop", "population"), ("employment", "Employment"),
                        ("population projections borough", "projections")):
        hits = reg.search(query).hits
        assert hits, query
        assert "\x02" + word in hits[0].snippet, (query, hits[0].snippet)
    reg.close()


def test_a_version_1_registry_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite3"
    reg = Registry(path)
    reg.upsert(make("a", "Household income estimates", "Median household income by ward."))
    reg.close()
    # Make it look like a registry written before prefix indexes existed.
    conn = sqlite3.connect(path)
    conn.executescript("""
        DROP TABLE entries_fts;
        CREATE VIRTUAL TABLE entries_fts USING fts5(title, description, tags, publisher,
            tokenize = 'porter unicode61 remove_diacritics 2');
        UPDATE meta SET value = '1' WHERE key = 'schema_version';
    """)
    conn.commit()
    conn.close()
    again = Registry(path)
    assert again.get_meta("schema_version") == str(SCHEMA_VERSION)
    sql = again._conn().execute("SELECT sql FROM sqlite_master WHERE name = 'entries_fts'").fetchone()[0]
    assert "prefix" in sql
    # The rebuilt index holds the entry again, with its synonyms.
    assert [h.entry.id for h in again.search("household inc").hits] == ["a"]
    assert [h.entry.id for h in again.search("hhi").hits] == ["a"]
    again.close()


def test_no_synonym_term_is_a_whole_word_prefix_of_another():
    # The one-pass matcher finds at most one term per position; that is only complete when no
    # term is a whole-word prefix of another.
    terms = [t for group in GROUPS for t in group]
    for a in terms:
        for b in terms:
            assert a == b or not re.match(re.escape(a) + r"(?![\w])", b, re.I), (a, b)


def test_overlapping_terms_all_expand():
    found = expansions("Fine particulate matter (PM2.5) and the London Energy and Greenhouse Gas Inventory")
    assert "pm10" in found            # "particulate matter" inside "fine particulate matter"
    assert "pm25" in found and "pm2.5" not in found
    assert "ghg" in found and "leggi" in found
    assert expansions("no2x mono2 lsoa.") == ["lower layer super output area"]


def test_counts_from_the_matching_entries_equal_counts_from_a_mask(tmp_path):
    """The search counts facets from the matched entries' own (entry, value) pairs; over any set
    of entries that must equal counting every pair under a mask, including entries with several
    values of one facet, with none, and deleted ones."""
    import numpy as np

    reg = Registry(tmp_path / "r.sqlite3")
    with reg.transaction():
        for i in range(60):
            reg.upsert(make(f"e{i}", f"Entry {i}", publisher=["GLA", "ONS", "TfL"][i % 3],
                            themes=[["a"], ["a", "b"], [], ["c", "b", "a"]][i % 4],
                            smallest_geography=["lsoa", "ward", None][i % 3] or "",
                            tags=[f"t{i % 5}", f"t{i % 7}"]))
    reg.delete("e7")
    reg.search("")  # read the index
    index = reg._index
    rng = np.random.default_rng(3)
    live = index.by_title
    for _ in range(20):
        picked = rng.choice(live, size=int(rng.integers(1, live.size)), replace=False)
        mask = np.zeros(index.title_pos.size, dtype=bool)
        mask[picked] = True
        assert index.counts(None, 100, rowids=picked) == index.counts(mask, 100)
    reg.close()
