"""The in-memory BM25F index (explorer.catalogue.lexical) and the registry's use of it."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.catalogue import lexical
from explorer.catalogue.models import Entry
from explorer.catalogue.registry import Registry

ROWS = [
    (1, "Street trees", "Every street tree the boroughs hold, with species.", "trees environment", "GLA"),
    (2, "Air quality monitoring", "Hourly readings; trees are mentioned once in the method notes of this"
        " long description about nitrogen dioxide and particles at roadside sites.", "air", "King's College"),
    (3, "House prices by ward", "Median house prices, sales and housing stock.", "housing prices", "Land Registry"),
    (4, "Café licences", "Pavement licences for cafés.", "licensing", "Westminster"),
    (6, "Rough sleeping counts", "People seen sleeping rough by outreach teams.", "homelessness", "CHAIN"),
]


@pytest.fixture(scope="module")
def index():
    return lexical.LexicalIndex.build(ROWS, version=7)


def top(index, *clauses):
    rids, scores, _ = index.score([c for c in clauses if c is not None])
    return rids[np.argsort(-scores, kind="stable")].tolist()


def test_a_title_word_outranks_the_same_word_in_a_long_description(index):
    assert top(index, index.clause("trees")) == [1, 2]


def test_stemming_finds_other_forms_and_accents_are_folded(index):
    assert top(index, index.clause("tree")) == [1, 2]
    assert top(index, index.clause("housing")) == [3]
    assert top(index, index.clause("cafe")) == [4]
    assert top(index, index.clause("sleeps")) == [6]


def test_a_prefix_as_typed_finds_its_completions(index):
    assert top(index, index.clause("hous", prefix=True)) == [3]
    assert top(index, index.clause("nitro", prefix=True)) == [2]
    assert not index.holds(index.clause("nitro"))         # whole words only, unless typed last
    assert index.holds(index.clause("nitro", prefix=True))


def test_a_phrase_counts_only_where_all_its_words_are(index):
    phrase = index.clause("rough sleeping", is_word=False)
    assert phrase.terms == ("rough", "sleep")
    assert top(index, phrase) == [6]
    # "house prices" needs both words: entry 3 only, though "prices" alone is nowhere else either
    assert top(index, index.clause("street prices", is_word=False)) == []


def test_each_term_counts_once_and_coverage_says_all_or_any(index):
    words = [index.clause("house"), index.clause("prices")]
    synonym = index.clause("house prices", is_word=False)
    rids, scores, held = index.score(words)
    rids2, scores2, held2 = index.score(words + [synonym])
    assert held == held2 == 2
    assert rids.tolist() == rids2.tolist() == [3]
    assert scores2[0] == pytest.approx(scores[0])     # the other name adds no second count
    _, _, held = index.score([index.clause("house"), index.clause("trees")])
    assert held == 1                                  # no entry holds both: "any"


def test_unknown_words_and_empty_input_score_nothing(index):
    assert index.clause("!!!") is None
    rids, scores, held = index.score([index.clause("zzzz")])
    assert rids.size == 0 and held == 0
    empty = lexical.LexicalIndex.build([], version=0)
    assert empty.score([empty.clause("trees")])[0].size == 0


def test_memory_is_reported_and_bounded_by_the_postings(index):
    pairs = index.rids.size
    assert pairs == sum(len(set(index.analyser.terms(" ".join(r[1:])))) for r in ROWS) or pairs > 0
    assert index.nbytes >= pairs * 8
    assert index.df.sum() == pairs


def test_fusion_adds_close_meanings_and_ranks_every_result_by_both():
    lex = (np.array([1, 2, 3]), np.array([3.0, 2.0, 1.0]), 1.0)
    sem = (np.array([1, 2, 3, 4, 5]), np.array([0.2, 0.9, 0.1, 0.8, 0.3]))
    fused = lexical.fuse(6, [lex], sem, pool=2, floor=0.35)
    order = fused.rids[np.argsort(-fused.scores, kind="stable")].tolist()
    assert set(order) == {1, 2, 3, 4}          # 5 is neither matched nor similar enough
    assert fused.similar == {2, 4}
    assert order[0] == 2                       # second by words, first by meaning
    alone = lexical.fuse(6, [(np.zeros(0, int), np.zeros(0), 1.0)], sem, pool=5, alone_floor=0.85)
    assert alone.rids.tolist() == [2]          # nothing matched: only a close meaning counts


def _entry(i: int, title: str, description: str = "") -> Entry:
    return Entry(id=f"e{i}", title=title, description=description)


def test_the_registry_searches_the_index_of_its_current_version(tmp_path):
    registry = Registry(tmp_path / "r.sqlite3")
    registry.upsert(_entry(1, "Street trees"))
    assert [h.entry.id for h in registry.search("trees").hits] == ["e1"]
    first = registry._lex
    assert first is not None and first.version == registry.version
    registry.upsert(_entry(2, "Tree canopy cover"))
    assert {h.entry.id for h in registry.search("trees").hits} == {"e1", "e2"}
    assert registry._lex is not first and registry._lex.version == registry.version
    registry.delete("e1")
    assert [h.entry.id for h in registry.search("trees").hits] == ["e2"]


def test_a_large_registry_builds_in_the_background_and_fts5_answers_meanwhile(tmp_path):
    registry = Registry(tmp_path / "r.sqlite3")
    registry.SYNC_BUILD_MAX = 1          # every registry of two entries and more is "large"
    with registry.transaction():
        registry.upsert(_entry(1, "Street trees"))
        registry.upsert(_entry(2, "Air quality", "trees filter the air"))
    before = registry.search("trees")
    assert registry.lexical_ready(timeout=30)
    after = registry.search("trees")
    assert [h.entry.id for h in before.hits] == [h.entry.id for h in after.hits] == ["e1", "e2"]
    assert before.total == after.total == 2 and before.mode == after.mode == "all"
    registry.upsert(_entry(3, "Trees planted"))
    assert registry._lex.version < registry.version      # the old index is not used for the new version
    assert {h.entry.id for h in registry.search("trees").hits} == {"e1", "e2", "e3"}
    assert registry.lexical_ready(timeout=30)


def test_both_backends_find_the_same_entries(tmp_path):
    registry = Registry(tmp_path / "r.sqlite3")
    with registry.transaction():
        for i, (_, title, description, tags, publisher) in enumerate(ROWS):
            registry.upsert(Entry(id=f"e{i}", title=title, description=description,
                                  tags=tags.split(), publisher=publisher))
    # (not prefixes: FTS5 stems "hous" as typed to "hou" and also finds "Hourly")
    for query in ["trees", "house prices", "where can I find data on rough sleepers", "zzzz"]:
        registry.lexical_backend = "memory"
        memory = registry.search(query)
        registry.lexical_backend = "fts5"
        fts5 = registry.search(query)
        assert {h.entry.id for h in memory.hits} == {h.entry.id for h in fts5.hits}, query
        assert memory.mode == fts5.mode, query


def test_a_snippet_marks_the_request_words_where_most_of_them_are(index):
    text = ("Background. " + "filler " * 60 + "Street trees planted by boroughs; trees counted yearly. "
            + "more " * 40 + "The end.")
    clauses = [index.clause("trees"), index.clause("borou", prefix=True)]
    snippet = index.snippet(text, clauses)
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "\x02trees\x03" in snippet and "\x02boroughs\x03" in snippet
    assert "Background" not in snippet
    assert len(snippet.replace("\x02", "").replace("\x03", "").split()) <= lexical.SNIPPET_TOKENS
    assert index.snippet("Short: no match here.", clauses) == "Short: no match here."
    assert index.snippet("Cafés and trees.", [index.clause("cafe")]) == "\x02Cafés\x03 and trees."
    assert index.snippet("", clauses) == ""


def test_approximate_similarities_are_rescored_exactly_at_the_top():
    lex = (np.array([1, 2]), np.array([1.0, 1.0]), 1.0)
    approximate = (np.array([1, 2, 3]), np.array([0.9, 0.5, 0.1]))
    exact = {1: 0.2, 2: 0.9, 3: 0.1}
    plain = lexical.fuse(4, [lex], approximate, pool=0)
    refined = lexical.fuse(4, [lex], approximate, pool=0,
                           refine=lambda rids: np.array([exact[int(r)] for r in rids]), refine_top=2)
    order = lambda f: f.rids[np.argsort(-f.scores, kind="stable")].tolist()
    assert order(plain) == [1, 2] and order(refined) == [2, 1]


def test_the_coarse_scan_of_a_large_registry_finds_what_the_exact_one_does(tmp_path, monkeypatch):
    import explorer.catalogue.registry as registry_module

    registry = Registry(tmp_path / "r.sqlite3")
    titles = ["Street trees", "Tree canopy cover", "Air quality monitoring", "House prices by ward",
              "Rough sleeping counts", "Bus passenger journeys", "Cycle hire usage", "School pupils",
              "Crime by ward", "Population estimates", "Noise pollution map", "Flood risk zones"]
    with registry.transaction():
        for i, title in enumerate(titles):
            registry.upsert(_entry(i, title, f"{title} in London, by borough."))
    assert registry._embedder.available()    # wordllama is a dependency: the vectors exist
    queries = ["green cover of the city", "how much do homes cost", "homeless people", "trees"]
    exact = {q: [h.entry.id for h in registry.search(q, limit=5).hits] for q in queries}
    monkeypatch.setattr(registry_module, "COARSE_FROM", 0)
    coarse = {q: [h.entry.id for h in registry.search(q, limit=5).hits] for q in queries}
    assert registry._coarse is not None       # the coarse path ran
    assert coarse == exact


def test_building_in_chunks_gives_the_same_index(index, monkeypatch):
    monkeypatch.setattr(lexical, "BUILD_CHUNK", 2)
    chunked = lexical.LexicalIndex.build(ROWS, version=7)
    assert chunked.vocabulary == index.vocabulary
    assert np.array_equal(chunked.ptr, index.ptr) and np.array_equal(chunked.rids, index.rids)
    assert np.allclose(chunked.tf, index.tf)
    # rows in any order: the postings of each term are still sorted by rowid
    shuffled = lexical.LexicalIndex.build(list(reversed(ROWS)), version=7)
    assert np.array_equal(shuffled.rids, index.rids) and np.allclose(shuffled.tf, index.tf)
