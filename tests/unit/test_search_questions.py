"""Search answers questions: request phrasing does not drive the ranking, misspellings are
corrected ("Did you mean"), synonyms the catalogue does not use still find, each result says why,
and an empty result offers the closest searches. On the real London Datastore snapshot."""

from __future__ import annotations

import pytest

from explorer.catalogue.harvest import harvest
from explorer.catalogue.models import Entry
from explorer.catalogue.registry import Registry
from explorer.settings import Settings


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def lds(request, tmp_path_factory, data_dir):
    """The snapshot harvested on each backend: a SQLite file, then PostgreSQL (EXPLORER_DATABASE_URL)
    searched through a host's replica."""
    home = tmp_path_factory.mktemp("lds-search")
    if request.param == "postgresql":
        from explorer.catalogue.pg_registry import PgRegistry

        registry = PgRegistry(request.getfixturevalue("postgres_server").new_database(), home / "replica.sqlite3")
    else:
        registry = Registry(home / "registry.sqlite3")
    harvest(str(data_dir / "catalogue" / "lds_export_snapshot.json"), registry,
            Settings(home=home, offline=True), kind="lds")
    yield registry
    registry.close()


def titles(results, n=5):
    return [h.entry.title for h in results.hits[:n]]


def test_request_phrasing_does_not_decide_the_ranking(lds):
    plain = lds.search("tree canopy cover", limit=5)
    asked = lds.search("Is there a publicly available dataset for tree canopy cover in London?", limit=5)
    assert "Tree Canopy Cover 2024" in titles(asked)
    assert asked.understood == ["tree", "canopy", "cover"]
    assert titles(asked) == titles(plain)
    # the phrasing words are not what the results matched
    assert not {"publicly", "available", "dataset", "london"} & set(asked.hits[0].why["words"])


def test_a_question_about_property_prices_finds_house_prices(lds):
    results = lds.search("Can you find me a dataset with the average property prices in London?", limit=5)
    top = titles(results)
    assert "Average House Prices by Borough, Ward, MSOA & LSOA" in top or \
        "Monthly Mix-Adjusted Average House Prices, London" in top, top


def test_homeless_finds_rough_sleeping(lds):
    results = lds.search("homeless people", limit=5)
    assert "Rough sleeping in London (CHAIN reports)" in titles(results)


def test_a_misspelt_word_is_corrected_and_said(lds):
    results = lds.search("can you find data about polution in london", limit=5)
    assert results.did_you_mean == "can you find data about pollution in london"
    assert results.understood == ["pollution"]
    assert results.total > 0 and any("ollution" in t for t in titles(results))
    doc = results.to_dict()
    assert doc["did_you_mean"] == results.did_you_mean and doc["match"] in ("all", "any")
    # swapped letters and a missing letter, in one request
    fixed = lds.search("employmnet by industry", limit=5)
    assert fixed.did_you_mean == "employment by industry"
    assert "Employment by Industry, Borough" in titles(fixed)


def test_words_the_registry_knows_are_not_corrected(lds):
    assert lds.search("house prices").did_you_mean is None


def test_each_result_says_why_and_the_json_shape_holds(lds):
    results = lds.search("fuel poverty", limit=3)
    doc = results.to_dict()
    assert {"query", "filters", "total", "match", "results", "facets"} <= set(doc)
    first = doc["results"][0]
    assert {"id", "title", "publisher", "score", "snippet", "why"} <= set(first)
    assert "fuel" in first["why"]["words"] and "poverty" in first["why"]["words"]
    assert "\x02" in first["snippet"]
    assert results.hits[0].why_text().startswith("Matches “fuel”, “poverty”")


def test_nothing_found_explains_itself_with_closest_searches(lds):
    results = lds.search("zqxwv")
    assert results.total == 0 and results.hits == []
    mixed = lds.search("zqxwv allotments", filters={"access": ["closed"]})
    assert mixed.total == 0
    assert mixed.suggestions == ["allotments"]


def test_sort_by_last_updated(tmp_path):
    reg = Registry(tmp_path / "r.sqlite3")
    for i, (title, updated) in enumerate([("Rainfall old", "2019-01-01"), ("Rainfall new", "2024-06-01"),
                                          ("Rainfall undated", None), ("Rainfall mid", "2021-03-01")]):
        reg.upsert(Entry(id=f"r{i}", title=title, description="Monthly rainfall.", updated=updated))
    by_date = reg.search("rainfall", sort="updated")
    assert [h.entry.title for h in by_date.hits] == ["Rainfall new", "Rainfall mid", "Rainfall old", "Rainfall undated"]
    assert by_date.sort == "updated" and by_date.to_dict()["sort"] == "updated"
    browse = reg.search("", sort="updated")
    assert [h.entry.title for h in browse.hits][0] == "Rainfall new"
    reg.close()


def test_vectors_are_kept_per_entry_version_not_per_process(tmp_path):
    path = tmp_path / "r.sqlite3"
    reg = Registry(path)
    reg.upsert(Entry(id="a", title="Street trees", description="Trees on streets."))
    reg.upsert(Entry(id="b", title="Bus stops", description="Where buses stop."))
    assert reg.index_vectors() == 2
    assert reg.index_vectors() == 0                   # nothing new: nothing embedded
    reg.close()
    again = Registry(path)                            # a new process reads them
    assert again.index_vectors() == 0
    again.upsert(Entry(id="a", title="Street trees", description="Every tree on a street."))
    assert again.index_vectors() == 1                 # only the changed entry
    again.close()


def test_a_huge_or_strange_request_costs_bounded_work(lds):
    results = lds.search(("air quality " * 2000) + "\x00 \" ' * ( ) NEAR OR AND -" + "z" * 5000)
    assert results.total > 0 and len(results.understood) <= 32
    assert lds.search('"unbalanced quote AND (').total >= 0
