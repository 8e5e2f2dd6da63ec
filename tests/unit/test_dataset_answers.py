"""The dataset page's callbacks answer a repeat visitor from what was worked out for the first
(callbacks/_dataset_answers.py), and never where that answer would be wrong: a restricted entry,
a new registry version, a file that appears or is replaced. Real app, real callbacks over HTTP
(the Flask test client), real data from ``../shared/data`` and small files built in ``tmp_path``."""

from __future__ import annotations

import json

import orjson
import pytest
from dash import html, no_update
from plotly.io.json import to_json_plotly

import callbacks._preview as preview_module
import callbacks.chart_builder as chart_module
from callbacks._dataset_answers import CHARTS, PREVIEWS, as_json_text
from explorer.catalogue.models import Entry
from explorer.data.resolver import Resolver
from explorer.settings import Settings
from explorer.web.app import create_app

PREVIEW = "..dataset-preview.children...dataset-source-card.children...dataset-provenance.children.."


def _app(home, data_dir):
    app = create_app(Settings(home=home, data_dir=data_dir, cache_url="simple", offline=True))
    return app, app.server.test_client()


@pytest.fixture(scope="module")
def real(tmp_path_factory, data_dir):
    return _app(tmp_path_factory.mktemp("answers-home"), data_dir)


def _post(client, output: str, inputs: list, state: list, changed: str) -> dict:
    """One callback as the browser sends it; its answer as {id: {property: value}}."""
    def dep(text):
        ident, prop = text.rsplit(".", 1)
        return {"id": ident, "property": prop}

    outputs = [dep(p) for p in output[2:-2].split("...")] if output.startswith("..") else dep(output)
    body = {"output": output, "outputs": outputs, "inputs": inputs, "state": state, "changedPropIds": [changed]}
    response = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.data[:300]
    return response.json["response"]


def preview(client, dataset_id: str, resource_id: str | None = None) -> dict:
    return _post(client, PREVIEW, [{"id": "dataset-id", "property": "data", "value": dataset_id},
                                   {"id": "dataset-resource", "property": "value", "value": resource_id}],
                 [], "dataset-id.data")


def chart(app, client, dataset_id: str, **chosen) -> dict:
    output = next(k for k in app.callback_map if "cb-type.options" in k)
    values = {c: None for c in chart_module.CONTROLS}
    values.update({f"cb-{k}": v for k, v in chosen.items()})
    inputs = [{"id": "dataset-id", "property": "data", "value": dataset_id},
              {"id": "dataset-resource", "property": "value", "value": None},
              *[{"id": c, "property": "value", "value": v} for c, v in values.items()]]
    state = [{"id": "url", "property": "search", "value": ""},
             {"id": "cb-extra-filters", "property": "data", "value": None}]
    trigger = "cb-type.value" if chosen else "dataset-id.data"
    return _post(client, output, inputs, state, trigger)


def text_of(value) -> str:
    """Every string in an answer's JSON, joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(text_of(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(text_of(v) for v in value)
    return ""


class Counter:
    """Counts the calls of a real function and calls it."""

    def __init__(self, monkeypatch, module, name):
        self.calls = 0
        real = getattr(module, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


# ------------------------------------------------------------------------------------------------
def test_kept_json_text_is_what_dash_would_have_sent():
    outputs = (html.Div(["a", html.Strong("b")], className="x"), {"data": [{"x": [1, 2.5]}]}, no_update, None)
    kept = as_json_text(outputs)
    assert kept[2] is no_update
    assert all(isinstance(v, orjson.Fragment) for i, v in enumerate(kept) if i != 2)
    sent = json.loads(orjson.dumps([kept[0], kept[1], kept[3]]))
    assert sent == json.loads(to_json_plotly([outputs[0], outputs[1], outputs[3]]))


def test_a_repeat_preview_is_sent_the_kept_answer_without_loading_again(real, monkeypatch):
    app, client = real
    counted = Counter(monkeypatch, preview_module, "preview_data")
    first = preview(client, "laei-borough")
    second = preview(client, "laei-borough")
    assert counted.calls == 1
    assert second == first
    assert "Where this comes from" in text_of(first["dataset-source-card"])
    assert "Provenance" in text_of(first["dataset-provenance"])
    assert len(app.explorer.data.memos.table(*PREVIEWS)) >= 1
    preview(client, "laqn-sites")                     # another dataset: its own answer
    assert counted.calls == 2


def test_a_repeat_chart_builder_event_is_not_drawn_again_but_a_new_choice_is(real, monkeypatch):
    app, client = real
    counted = Counter(monkeypatch, chart_module, "compute")
    first = chart(app, client, "laei-borough")
    assert first["cb-graph"]["figure"]["data"]           # the proposed chart is drawn
    assert chart(app, client, "laei-borough") == first
    assert counted.calls == 1
    line = chart(app, client, "laei-borough", type="line")
    assert counted.calls == 2 and line != first
    assert chart(app, client, "laei-borough", type="line") == line and counted.calls == 2
    # a table with nothing to chart: the same answer kept (it was read; nothing to retry)
    boundaries = chart(app, client, "london-boroughs")
    assert chart(app, client, "london-boroughs") == boundaries and counted.calls == 3
    assert boundaries["chart-builder"]["hidden"] is True


def test_a_restricted_entry_is_worked_out_for_each_person_and_never_kept(real, monkeypatch):
    app, client = real
    services = app.explorer
    original = services.registry.get("laei-borough")
    shared = Entry.from_dict({**original.to_dict(), "access_level": "shared", "access_note": "For partners."})
    allowed = {"yes": True}

    def guard(entry):
        from explorer.geo.joins import DatasetError
        if not allowed["yes"]:
            raise DatasetError(entry.id, "access", "you have not been given access")

    before_guard = services.data.access_guard
    services.registry.upsert(shared)
    services.data.access_guard = guard
    counted = Counter(monkeypatch, preview_module, "preview_data")
    kept_before = len(services.data.memos.table(*PREVIEWS)), len(services.data.memos.table(*CHARTS))
    try:
        partner = preview(client, "laei-borough")
        assert "Provenance" in text_of(partner["dataset-provenance"])      # the partner sees the data
        assert chart(app, client, "laei-borough")["cb-graph"]["figure"]["data"]
        allowed["yes"] = False
        stranger = preview(client, "laei-borough")
        assert counted.calls == 2
        said = text_of(stranger["dataset-preview"])
        assert "not open" in said and "you have not been given access" in said
        assert "dataset-provenance" not in stranger or not text_of(stranger["dataset-provenance"])
        refused = chart(app, client, "laei-borough")
        assert "cb-graph" not in refused or not refused["cb-graph"].get("figure", {}).get("data")
        assert (len(services.data.memos.table(*PREVIEWS)), len(services.data.memos.table(*CHARTS))) == kept_before
    finally:
        services.data.access_guard = before_guard
        services.registry.upsert(original)


def test_a_new_registry_version_gives_a_new_answer(real):
    app, client = real
    services = app.explorer
    original = services.registry.get("laqn-sites")
    first = preview(client, "laqn-sites")
    assert "A publisher renamed" not in text_of(first["dataset-source-card"])
    services.registry.upsert(Entry.from_dict({**original.to_dict(), "publisher": "A publisher renamed"}))
    try:
        assert "A publisher renamed" in text_of(preview(client, "laqn-sites")["dataset-source-card"])
    finally:
        services.registry.upsert(original)
    assert "A publisher renamed" not in text_of(preview(client, "laqn-sites")["dataset-source-card"])


def _tiny_entry() -> Entry:
    return Entry.from_dict({
        "id": "tiny-figures", "title": "Tiny figures", "publisher": "GLA", "licence": "OGL-UK-3.0",
        "description": "Made by the test.", "themes": ["economy"], "smallest_geography": "none",
        "resources": [{"id": "r1", "title": "Figures", "format": "csv", "local_path": "tiny/figures.csv"}]})


def test_a_file_that_appears_is_shown_and_a_missing_one_is_tried_again(tmp_path, monkeypatch):
    data = tmp_path / "data"
    app, client = _app(tmp_path / "home", data)
    app.explorer.registry.upsert(_tiny_entry())
    counted = Counter(monkeypatch, preview_module, "preview_data")
    missing = text_of(preview(client, "tiny-figures")["dataset-preview"])
    assert "could not be found" in missing
    assert "could not be found" in text_of(preview(client, "tiny-figures")["dataset-preview"])
    assert counted.calls == 2                               # a failure is not kept
    (data / "tiny").mkdir(parents=True)
    (data / "tiny" / "figures.csv").write_text("Place,Visitors\nAlpha,1234567\nBeta,7654321\n")
    appeared = text_of(preview(client, "tiny-figures")["dataset-preview"])
    assert "Alpha" in appeared and "could not be found" not in appeared
    assert text_of(preview(client, "tiny-figures")["dataset-preview"]) == appeared
    assert counted.calls == 3


def test_the_copies_signature_follows_the_store_and_the_local_file(tmp_path):
    settings = Settings(home=tmp_path / "home", data_dir=tmp_path / "data", offline=True)
    entry = _tiny_entry()
    resolver = Resolver(settings, progress=False)
    empty = resolver.copies_signature(entry)
    assert resolver.copies_signature(entry, "r1") == empty          # the first file is the default
    folder = settings.store_dir / "tiny-figures" / "r1"
    folder.mkdir(parents=True)
    (folder / "provenance.json").write_text("{}")
    stored = resolver.copies_signature(entry)
    assert stored != empty
    (tmp_path / "data" / "tiny").mkdir(parents=True)
    (tmp_path / "data" / "tiny" / "figures.csv").write_text("a,b\n1,2\n")
    local = resolver.copies_signature(entry)
    assert local != stored
    (tmp_path / "data" / "tiny" / "figures.csv").write_text("a,b\n1,2\n3,4\n")
    assert resolver.copies_signature(entry) != local
    with pytest.raises(Exception):
        resolver.copies_signature(entry, "no-such-file")


def test_the_dataset_page_is_drawn_once_and_again_when_a_file_appears(tmp_path, monkeypatch):
    import callbacks.dataset as dataset_module

    data = tmp_path / "data"
    app, _client = _app(tmp_path / "home", data)
    services = app.explorer
    services.registry.upsert(_tiny_entry())
    counted = Counter(monkeypatch, dataset_module.dataset_layout, "dataset_page")
    first = dataset_module.served_dataset_page(services, services.registry.get("tiny-figures"))
    again = dataset_module.served_dataset_page(services, services.registry.get("tiny-figures"))
    assert counted.calls == 1 and orjson.dumps(again) == orjson.dumps(first)
    assert "Tiny figures" in text_of(orjson.loads(orjson.dumps(first)))
    (data / "tiny").mkdir(parents=True)
    (data / "tiny" / "figures.csv").write_text("Place,Visitors\nAlpha,1\nBeta,2\n")
    appeared = dataset_module.served_dataset_page(services, services.registry.get("tiny-figures"))
    assert counted.calls == 2 and orjson.dumps(appeared) != orjson.dumps(first)   # "Available" says local
    shared = Entry.from_dict({**_tiny_entry().to_dict(), "access_level": "shared"})
    services.registry.upsert(shared)
    dataset_module.served_dataset_page(services, shared)
    page = dataset_module.served_dataset_page(services, shared)
    assert counted.calls == 4                               # not kept: drawn for each request
    assert not isinstance(page, orjson.Fragment) and "Request access" in text_of(json.loads(to_json_plotly(page)))
