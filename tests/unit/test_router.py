"""The route table (callbacks/router.py): one list of (pattern, page) read in one place; every
product path draws its page, an unknown path or an unknown thing on a known path draws the 404."""

from __future__ import annotations

import orjson
import pytest

from callbacks import router
from explorer.settings import Settings
from explorer.web.app import create_app


@pytest.fixture(scope="module")
def services(tmp_path_factory, data_dir):
    app = create_app(Settings(home=tmp_path_factory.mktemp("router-home"), data_dir=data_dir,
                              cache_url="simple", offline=True))
    return app.explorer


def _text(component) -> str:
    """Every string a component tree shows, joined."""
    if component is None:
        return ""
    if isinstance(component, orjson.Fragment):   # a page kept as the JSON text Dash sends (the map's)
        component = orjson.loads(orjson.dumps(component))
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(_text(c) for c in component)
    if isinstance(component, dict):          # a page cached as plain JSON (theme pages)
        return _text(component.get("props", {}).get("children"))
    return _text(getattr(component, "children", None))


def test_patterns_name_their_parts_and_match_whole_paths():
    dataset = router.Route("/dataset/<dataset_id>", lambda *a, **k: None)
    assert dataset.regex.match("/dataset/laei-borough").groupdict() == {"dataset_id": "laei-borough"}
    assert dataset.regex.match("/dataset/") is None
    assert dataset.regex.match("/datasets/x") is None
    assert router.Route("/map", lambda *a: None).regex.match("/map/extra") is None
    # every row of the table is a distinct pattern: the first match draws, none is shadowed
    patterns = [r.pattern for r in router.ROUTES]
    assert len(patterns) == len(set(patterns))


@pytest.mark.parametrize("path, search, title, words", [
    ("/", "", "London Data Explorer", "Themes"),
    ("/catalogue", "?q=nitrogen", "nitrogen – Catalogue – London Data Explorer", "nitrogen"),
    ("/catalogue/", "", "Catalogue – London Data Explorer", "Catalogue"),
    ("/sources", "", "Sources – London Data Explorer", "Sources"),
    ("/dataset/laei-borough", "", None, "Modelled"),
    ("/themes", "", "Themes – London Data Explorer", "Air quality"),
    ("/map", "?layer=london-boroughs", router.MAP_TITLE, "layer"),
])
def test_each_product_path_draws_its_page(services, path, search, title, words):
    page, drawn_title = router.render_page(services, path, search)
    if title is not None:
        assert drawn_title == title
    assert not drawn_title.startswith("Not found")
    assert words.lower() in _text(page).lower()


@pytest.mark.parametrize("path, said", [
    ("/nowhere", "Nothing lives at /nowhere."),
    ("/dataset", "Nothing lives at /dataset."),
    ("/dataset/no-such-dataset", "There is no dataset “no-such-dataset” in the registry."),
    ("/dataset/a/b", "There is no dataset “a/b” in the registry."),
    ("/themes/no-such-theme", "Nothing lives at /themes/no-such-theme."),   # its page function found none
    ("/map/extra", "Nothing lives at /map/extra."),
])
def test_unknown_routes_give_the_404_page(services, path, said):
    page, title = router.render_page(services, path, "")
    assert title.startswith("Not found")
    assert said in _text(page)


def test_a_table_of_ones_own_is_read_the_same_way(services):
    """render_page reads whatever table it is given, in order: the first match wins."""
    seen = []
    table = (router.Route("/a/<rest>", lambda s, visit, rest: seen.append(("first", rest)) or ("A", "t")),
             router.Route("/a/b", lambda s, visit: seen.append(("second",)) or ("B", "t")))
    assert router.render_page(services, "/a/b", "?x=1", routes=table) == ("A", "t")
    assert seen == [("first", "b")]
    assert router.render_page(services, "/b", "", routes=table)[1].startswith("Not found")
