"""Theme pages kept in the app's cache (callbacks/theme_page_cache.py): the second open of a page
is read, not built; a registry change, an edited theme file or another permalinked chart makes a
new page; a page with a part that failed is not kept; the served page is what Dash would send for
the component tree, source cards included."""

from __future__ import annotations

import dataclasses
import json

import pytest
from plotly.io.json import to_json_plotly

from benchmarks.dash_client import walk as _components   # every component of a JSON page
from callbacks import theme_page_cache as page_cache
from callbacks import themes as theme_pages
from explorer.data.memo import Memos
from explorer.web.app import create_app
from explorer.services import Services
from explorer.settings import Settings

SLUG = "net-zero"           # the theme with the fewest charts: quick to build
DATASET = "leggi-co2-borough"


@pytest.fixture(scope="module")
def app(tmp_path_factory, data_dir):
    home = tmp_path_factory.mktemp("home")
    return create_app(Settings(home=home, data_dir=data_dir, offline=True, cache_url="simple"))


@pytest.fixture()
def services(app):
    """The app's services with an empty cache of their own (the data stays loaded)."""
    from explorer.data.cache import make_cache

    fresh = Services(app.explorer.settings, app.explorer.registry, app.explorer.data,
                     make_cache(app.explorer.settings.with_(cache_url="simple")))
    fresh.themes = app.explorer.themes
    return fresh


@pytest.fixture()
def builds(monkeypatch):
    """Counts the pages built (the real build runs)."""
    calls: list[tuple] = []
    real = theme_pages.build_theme_page

    def counting(services, slug, chart=None):
        calls.append((slug, chart))
        return real(services, slug, chart)

    monkeypatch.setattr(theme_pages, "build_theme_page", counting)
    return calls


def _texts(tree) -> str:
    return json.dumps(tree, ensure_ascii=False)


def test_a_second_open_reads_the_page_and_does_not_build_it(services, builds):
    page, title = page_cache.served_theme_page(services, SLUG)
    assert builds == [(SLUG, None)]
    again, again_title = page_cache.served_theme_page(services, SLUG)
    assert builds == [(SLUG, None)]                       # not built a second time
    assert again == page and again_title == title == f"{services.themes[SLUG].title} – Themes – London Data Explorer"
    # exactly what Dash sends for the component tree the page module builds
    tree, _ = theme_pages.theme_page(services, SLUG)
    assert page == json.loads(to_json_plotly(tree))
    assert page_cache.served_theme_page(services, "no-such-theme") is None



def test_the_router_is_given_the_stored_text_and_dash_sends_it_unchanged(services, builds, monkeypatch):
    """The router's page is the stored JSON text (an orjson.Fragment): not parsed, and Dash's own
    serialiser copies it into the answer, which reads as the component tree would."""
    import orjson
    from dash._utils import to_json      # what Dash serialises a callback's answer with

    text, title = page_cache.served_theme_page_json(services, SLUG)
    parsed = []
    real_loads = json.loads
    monkeypatch.setattr(page_cache.json, "loads", lambda *a, **k: parsed.append(1) or real_loads(*a, **k))
    fragment, again_title = page_cache.served_theme_fragment(services, SLUG)
    assert isinstance(fragment, orjson.Fragment) and again_title == title and parsed == []
    sent = to_json({"page-content": {"children": fragment}})
    assert json.loads(sent)["page-content"]["children"] == json.loads(text)
    assert page_cache.served_theme_fragment(services, "no-such-theme") is None

def test_the_served_page_keeps_its_source_cards_and_charts(services, builds):
    page, _ = page_cache.served_theme_page(services, SLUG)
    text = _texts(page)
    entry = services.registry.get(DATASET)
    assert entry.publisher in text and entry.licence in text and f"/dataset/{DATASET}" in text
    assert "Where these numbers come from" in text and "Retrieved" in text
    graphs = [c for c in _components(page) if c["type"] == "Graph"]
    assert len(graphs) == len(services.themes[SLUG].charts)
    assert all(g["props"]["figure"]["data"] for g in graphs)


def test_a_registry_change_makes_a_new_page(services, builds):
    registry = services.registry
    original = registry.get(DATASET)
    page_cache.served_theme_page(services, SLUG)
    try:
        changed = dataclasses.replace(original, publisher="A Renamed Publisher for the Test")
        assert registry.upsert(changed) == "updated"
        page, _ = page_cache.served_theme_page(services, SLUG)
        assert len(builds) == 2                            # the entry changed: drawn again
        assert "A Renamed Publisher for the Test" in _texts(page)
        page_cache.served_theme_page(services, SLUG)
        assert len(builds) == 2                            # and then kept again
    finally:
        registry.upsert(original)
    page, _ = page_cache.served_theme_page(services, SLUG)
    assert "A Renamed Publisher for the Test" not in _texts(page)


def test_a_permalinked_chart_is_its_own_page_and_unknown_charts_are_ignored(services, builds):
    chart = services.themes[SLUG].charts[-1].id
    page, _ = page_cache.served_theme_page(services, SLUG, chart)
    focus = [c for c in _components(page) if c["props"].get("id") == "theme-focus"]
    assert focus[0]["props"]["data"] == chart
    page_cache.served_theme_page(services, SLUG, "<script>")   # not a chart: the plain page
    page_cache.served_theme_page(services, SLUG)
    assert builds == [(SLUG, chart), (SLUG, None)]


def test_an_edited_theme_makes_a_new_key_but_only_once_it_is_parsed(services, tmp_path):
    theme = services.themes[SLUG]
    before = page_cache.page_key(services, theme, None)
    assert page_cache.page_key(services, theme, None) == before
    edited = dataclasses.replace(theme, narrative=theme.narrative + " Edited.")
    assert page_cache.page_key(services, edited, None) != before
    # the file changing on disk under a running worker does not change the key of the theme that
    # worker parsed (it would store its old page under the new file's key)
    copy = tmp_path / "net-zero.yaml"
    copy.write_text(theme.path.read_text(encoding="utf-8"), encoding="utf-8")
    moved = dataclasses.replace(theme, path=copy)
    key = page_cache.page_key(services, moved, None)
    copy.write_text(theme.path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert page_cache.page_key(services, moved, None) == key


def test_a_page_with_a_failed_part_is_served_but_not_kept(services, monkeypatch):
    calls = []
    real = theme_pages.build_theme_page

    def failing(services_, slug, chart=None):
        calls.append(slug)
        page, title, _ = real(services_, slug, chart)
        return page, title, False                         # as when a chart could not be drawn

    monkeypatch.setattr(theme_pages, "build_theme_page", failing)
    incomplete = services.data.memos.table(*page_cache.INCOMPLETE)    # kept on the app, briefly
    incomplete.clear()
    try:
        page_cache.served_theme_page(services, SLUG)
        page_cache.served_theme_page(services, SLUG)       # given the same build, not drawn again
        assert calls == [SLUG]
        assert page_cache._read(services.cache, page_cache.page_key(services, services.themes[SLUG], None)) is None
        monkeypatch.setattr(page_cache, "INCOMPLETE_SECONDS", 0)
        page_cache.served_theme_page(services, SLUG)       # after that, the next visitor tries again
        assert calls == [SLUG, SLUG]
    finally:
        incomplete.clear()                                 # this test's incomplete page goes


def test_build_theme_page_says_whether_every_part_was_drawn(app, services):
    from explorer.geo.joins import DatasetError

    assert theme_pages.build_theme_page(services, SLUG)[2] is True

    class Broken:
        def __init__(self, data):
            self._data = data
            self.memos = Memos()     # another data service: its own memos (nothing drawn yet)

        def load(self, dataset_id, resource_id=None, join=True):
            raise DatasetError(dataset_id, "resolve", "the file is gone")

        def __getattr__(self, name):
            return getattr(self._data, name)

    broken = Services(services.settings, services.registry, Broken(services.data), services.cache)
    broken.themes = services.themes
    assert theme_pages.build_theme_page(broken, SLUG)[2] is False
    assert theme_pages.build_theme_page(broken, "no-such-theme") is None


def test_warming_keeps_every_page_so_that_opening_one_builds_nothing(services, builds):
    services.themes = {SLUG: services.themes[SLUG]}
    assert page_cache.warm(services) == [SLUG]
    assert builds == [(SLUG, None)]
    page_cache.served_theme_page(services, SLUG)
    assert builds == [(SLUG, None)]



def test_a_request_for_a_page_being_built_waits_for_it_instead_of_building_it_again(services, monkeypatch):
    import threading

    real = theme_pages.build_theme_page
    started, release, calls = threading.Event(), threading.Event(), []

    def slow(services_, slug, chart=None):
        calls.append(slug)
        started.set()
        release.wait(30)
        return real(services_, slug, chart)

    monkeypatch.setattr(theme_pages, "build_theme_page", slow)
    results = []
    first = threading.Thread(target=lambda: results.append(page_cache.served_theme_page(services, SLUG)))
    second = threading.Thread(target=lambda: results.append(page_cache.served_theme_page(services, SLUG)))
    first.start()
    assert started.wait(30)
    second.start()
    second.join(0.5)
    assert second.is_alive()                 # waiting for the first build, not drawing its own
    release.set()
    first.join(60)
    second.join(60)
    assert calls == [SLUG] and len(results) == 2 and results[0] == results[1]
