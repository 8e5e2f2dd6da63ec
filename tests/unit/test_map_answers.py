"""The map's answers that every visitor is sent alike (callbacks/map_explorer.py): the page of an
address, the layer search and adding a layer to a map are worked out for the first visitor and
sent to the next as the JSON text Dash would have written, and never where that would be wrong:
a layer that is not open, a new registry version, a file that appears. Real app, real callbacks
over HTTP (the Flask test client), real data from ``../shared/data`` and small files built in
``tmp_path``."""

from __future__ import annotations

import json

import orjson
import pytest

import callbacks.map_explorer as map_module
from callbacks._dataset_answers import entries_version
from explorer.catalogue.models import Entry
from explorer.settings import Settings
from explorer.web.app import create_app

from .test_dataset_answers import Counter, text_of    # the same counting and reading of answers

SEARCH = "layer-search-results.children"


def _app(home, data_dir, **settings):
    app = create_app(Settings(home=home, data_dir=data_dir, cache_url="simple", offline=True, **settings))
    return app, app.server.test_client()


@pytest.fixture(scope="module")
def real(tmp_path_factory, data_dir):
    return _app(tmp_path_factory.mktemp("map-answers-home"), data_dir)


def _post(client, output: str, outputs, inputs: list, state: list, changed: list[str]) -> dict:
    """One callback as the browser sends it; its answer as {id: {property: value}}."""
    body = {"output": output, "outputs": outputs, "inputs": inputs, "state": state, "changedPropIds": changed}
    response = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.data[:300]
    return response.json["response"]


def search(client, words: str) -> list:
    answer = _post(client, SEARCH, {"id": "layer-search-results", "property": "children"},
                   [{"id": "layer-search", "property": "value", "value": words}], [], ["layer-search.value"])
    return answer["layer-search-results"]["children"]


def add_layer(app, client, dataset_id: str, state: dict) -> dict:
    """The add button of ``dataset_id``'s search result clicked on a map holding ``state``."""
    output = next(k for k in app.callback_map if k.startswith("..map-state.data@") and "layer-cards" in k)
    parts = [p.split("@", 1)[0].rsplit(".", 1) for p in output[2:-2].split("...")]
    button = {"type": "add-layer", "index": dataset_id}
    inputs = [[{"id": button, "property": "n_clicks", "value": 1}], [], [], []]
    states = [{"id": "map-state", "property": "data", "value": state},
              {"id": "compare-state", "property": "data", "value": {"on": False, "uid": None}}]
    changed = [json.dumps(button, sort_keys=True, separators=(",", ":")) + ".n_clicks"]
    return _post(client, output, [{"id": i, "property": p} for i, p in parts], inputs, states, changed)


def as_data(page) -> dict:
    """A page as the plain JSON data Dash sends (a kept page is an orjson.Fragment)."""
    if isinstance(page, orjson.Fragment):
        return orjson.loads(orjson.dumps(page))
    from plotly.io.json import to_json_plotly
    return json.loads(to_json_plotly(page))


def map_state(page) -> dict:
    """The map-state store's data in a page."""
    stack = [as_data(page)]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "map-state":
                return node["props"]["data"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError("no map-state store on the page")


def _shared(entry: Entry) -> Entry:
    return Entry.from_dict({**entry.to_dict(), "access_level": "shared", "access_note": "For partners."})


# ------------------------------------------------------------------------------------------------
def test_the_same_address_is_drawn_once_with_the_same_layer_ids(real, monkeypatch):
    app, client = real
    services = app.explorer
    counted = Counter(monkeypatch, map_module, "build_cards")
    first = map_module.served_explorer_page(services, "")
    again = map_module.served_explorer_page(services, "")
    assert counted.calls == 1
    assert isinstance(again, orjson.Fragment) and orjson.dumps(again) == orjson.dumps(first)
    layers = map_state(first)["layers"]
    assert len(layers) >= 2 and all(layer["uid"] for layer in layers)
    # the index page of /map carries that page: the same layers' ids for every visitor
    pages = [client.get("/map").get_data(as_text=True) for _ in range(2)]
    assert all(f'"uid":"{layer["uid"]}"' in html for html in pages for layer in layers)
    assert counted.calls == 1
    # another address is its own page
    other = map_module.served_explorer_page(services, "?layer=london-boroughs")
    assert counted.calls == 2 and [x["dataset"] for x in map_state(other)["layers"]] == ["london-boroughs"]


def test_a_repeat_layer_search_is_not_searched_again(real, monkeypatch):
    app, client = real
    registry = app.explorer.registry
    registry.search("river", limit=1)        # its full index built (the first search builds it)
    assert registry.lexical_ready(timeout=0)
    counted = Counter(monkeypatch, registry, "search")
    first = search(client, "deprivation")
    assert "Add " in json.dumps(first) and counted.calls == 1
    assert search(client, "deprivation") == first and counted.calls == 1
    other = search(client, "parks")
    assert counted.calls == 2 and other != first


def test_the_same_layer_added_to_the_same_map_is_answered_from_the_first(real, monkeypatch):
    app, client = real
    services = app.explorer
    state = map_state(map_module.served_explorer_page(services, ""))
    counted = Counter(monkeypatch, map_module, "build_cards")
    first = add_layer(app, client, "london-boroughs", state)
    assert counted.calls == 1
    layers = first["map-state"]["data"]["layers"]
    assert [x["dataset"] for x in layers][0] == "london-boroughs" and len(layers) == len(state["layers"]) + 1
    assert "London" in text_of(first["layer-cards"]["children"])
    assert add_layer(app, client, "london-boroughs", state) == first and counted.calls == 1
    # another layer, or the same layer on another map: worked out
    add_layer(app, client, "laei-borough", state)
    assert counted.calls == 2
    add_layer(app, client, "london-boroughs", dict(state, layers=state["layers"][:1]))
    assert counted.calls == 3


def test_a_layer_that_is_not_open_is_worked_out_for_each_request_and_never_kept(real, monkeypatch):
    app, client = real
    services = app.explorer
    registry = services.registry
    state = map_state(map_module.served_explorer_page(services, ""))
    tables = [services.data.memos.table(*t) for t in (map_module.PAGES, map_module.STRUCTURES)]
    original = registry.get("laei-borough")
    before_guard = services.data.access_guard
    allowed = {"yes": True}

    def guard(entry):
        from explorer.geo.joins import DatasetError
        if not allowed["yes"]:
            raise DatasetError(entry.id, "access", "you have not been given access")

    registry.upsert(_shared(original))
    services.data.access_guard = guard
    counted = Counter(monkeypatch, map_module, "build_cards")
    kept_before = [len(t) for t in tables]
    try:
        address = "?layer=laei-borough:no2-2019"
        pages = [map_module.served_explorer_page(services, address) for _ in range(2)]
        assert counted.calls == 2 and not any(isinstance(p, orjson.Fragment) for p in pages)
        added = [add_layer(app, client, "laei-borough", state) for _ in range(2)]
        assert counted.calls == 4
        assert added[0]["map-state"]["data"]["layers"][0]["dataset"] == "laei-borough"   # the partner sees it
        allowed["yes"] = False
        refused = add_layer(app, client, "laei-borough", state)
        assert "map-state" not in refused and "not been given access" in text_of(refused)
        assert [len(t) for t in tables] == kept_before
    finally:
        services.data.access_guard = before_guard
        registry.upsert(original)


def test_a_new_registry_version_draws_the_page_anew(real):
    app, _client = real
    services = app.explorer
    address = "?layer=laei-borough:no2-2019"
    original = services.registry.get("laei-borough")
    first = map_module.served_explorer_page(services, address)
    assert "A title renamed" not in text_of(as_data(first))
    services.registry.upsert(Entry.from_dict({**original.to_dict(), "title": "A title renamed"}))
    try:
        assert "A title renamed" in text_of(as_data(map_module.served_explorer_page(services, address)))
    finally:
        services.registry.upsert(original)
    assert "A title renamed" not in text_of(as_data(map_module.served_explorer_page(services, address)))


def _tiny_boroughs() -> Entry:
    return Entry.from_dict({
        "id": "tiny-boroughs", "title": "Tiny borough figures", "publisher": "GLA", "licence": "OGL-UK-3.0",
        "description": "Made by the test.", "themes": ["economy"], "smallest_geography": "borough",
        "resources": [{"id": "r1", "title": "Figures", "format": "csv", "local_path": "tiny/boroughs.csv"}]})


def test_a_layer_whose_file_is_missing_is_tried_again_and_drawn_when_it_appears(tmp_path, monkeypatch, data_dir):
    data = tmp_path / "data"
    data.mkdir()
    (data / "boundaries").symlink_to(data_dir / "boundaries")     # the real boundary files, not copied
    app, client = _app(tmp_path / "home", data, data_links_to=str(data_dir / "boundaries"))
    services = app.explorer
    services.registry.upsert(_tiny_boroughs())
    state = {"layers": [], "basemap": "light", "view": [51.49, -0.14, 10]}
    counted = Counter(monkeypatch, map_module, "layer_info_safe")
    for _ in range(2):
        missing = add_layer(app, client, "tiny-boroughs", state)
        assert "cannot be mapped" in text_of(missing) and "map-state" not in missing
    assert counted.calls == 2                               # a failure is not kept
    (data / "tiny").mkdir(parents=True)
    rows = "\n".join(f"E090000{n:02d},{n * 1000}" for n in range(1, 34))
    (data / "tiny" / "boroughs.csv").write_text("code,visitors\n" + rows + "\n")
    appeared = add_layer(app, client, "tiny-boroughs", state)
    assert "map-state" in appeared, text_of(appeared)
    assert appeared["map-state"]["data"]["layers"][0]["dataset"] == "tiny-boroughs"
    calls = counted.calls
    assert add_layer(app, client, "tiny-boroughs", state) == appeared and counted.calls == calls


def test_an_add_button_with_an_id_no_page_sends_is_answered_as_before(real):
    app, client = real
    state = map_state(map_module.served_explorer_page(app.explorer, ""))
    assert entries_version(app.explorer, ["london-boroughs", 7]) is None
    answer = add_layer(app, client, 7, state)          # a number where a dataset id goes
    assert "cannot be mapped" in text_of(answer) and "map-state" not in answer
