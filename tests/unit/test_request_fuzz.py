"""Property-based fuzz (Hypothesis) of what a stranger can send the web side: every Dash callback
of the real app with generated, malformed and valid-shaped bodies, map permalinks, and
``/_dash-layout`` with generated Referers. No response may be a 5xx (issue 13, items 4, 8, 10).

One app is built for the module (create_app on the real data folder, as the server builds it);
example counts are bounded so the module runs in well under a minute.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.web.app import create_app
from explorer.settings import Settings

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def app(tmp_path_factory, data_dir):
    home = tmp_path_factory.mktemp("fuzz-home")
    return create_app(Settings(home=home, data_dir=data_dir, cache_url="simple", offline=True))


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="module")
def server_callbacks(app):
    """(output key, entry) of every callback that runs on the server."""
    return sorted((k, v) for k, v in app.callback_map.items() if "callback" in v)


@pytest.fixture(scope="module")
def dataset_ids(app):
    return sorted(e.id for e in app.explorer.registry.all())[:40]


# Values --------------------------------------------------------------------------------------------
PATHS = ["/", "/catalogue", "/map", "/themes", "/themes/air-quality", "/themes/nope",
         "/dataset/london-boroughs", "/dataset/x/y", "/dataset/", "//", "/%2e%2e/", "/l/abc"]
text = st.text(max_size=40)
json_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | text
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(text, inner, max_size=4), max_leaves=12)


def query_strings(dataset_ids: list[str]):
    """Map permalinks, catalogue queries and noise, as the address bar or a hand-edited link has them."""
    dataset = st.sampled_from(dataset_ids) | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,12}", fullmatch=True)
    setting = st.sampled_from(["v:", "m:", "k:", "p:", "o:", "h:", "t:", "f:", "zz:", ""]).flatmap(
        lambda key: (st.sampled_from(["quantile", "jenks", "3", "9", "12", "-1", "blues", "1", "x=y", "nan"])
                     | text).map(lambda value: key + quote(value, safe="")))
    layer = st.tuples(dataset, st.sampled_from(["", ":gpkg", ":no2-2019", ":x"]),
                      st.lists(setting, max_size=4)).map(lambda t: ",".join([t[0] + t[1], *t[2]]))
    view = (st.tuples(st.floats(-100, 100), st.floats(-200, 200), st.floats(-5, 25)).map(
        lambda t: f"{t[0]:.4f},{t[1]:.4f},{t[2]:g}") | text)
    pair = (st.tuples(st.just("layer"), layer) | st.tuples(st.just("view"), view)
            | st.tuples(st.sampled_from(["basemap", "embed", "theme", "format", "q", "page", "chart",
                                         "highlight", "publisher"]),
                        st.sampled_from(["light", "grey", "none", "1", "air-quality", "csv", "0", "-3"]) | text)
            | st.tuples(text, text))
    pairs = st.lists(pair, max_size=12).flatmap(
        lambda ps: st.integers(1, 40).map(lambda n: ps * n if ps and n > 20 else ps))  # sometimes repeated
    encoded = pairs.map(lambda ps: urlencode(ps, safe=",:~"))
    return encoded | text.map(lambda t: quote(t, safe="=&,:")) | st.sampled_from(["", "?", "&&&", "=", "a=%zz"])


def _item(dep: dict, value_strategy, pattern_index):
    """A valid-shaped input/state/output item for a dependency (an ALL pattern: a list of them)."""
    dep_id = dep["id"]
    if not dep_id.startswith("{"):
        return value_strategy.map(lambda v: {"id": dep_id, "property": dep["property"], "value": v})
    pattern = json.loads(dep_id)

    def one(index, value):
        ident = {k: (index if isinstance(v, list) else v) for k, v in pattern.items()}
        return {"id": ident, "property": dep["property"], "value": value}

    single = st.builds(one, pattern_index, value_strategy)
    if any(v in (["ALL"], ["ALLSMALLER"]) for v in pattern.values()):
        return st.lists(single, max_size=3)
    return single


def _valid_body(output: str, entry: dict, values):
    from explorer.web.callback_guard import _output_deps

    index = st.integers(0, 20) | st.from_regex(r"[a-z0-9-]{1,10}", fullmatch=True)
    deps, several = _output_deps(output)
    outs = [_item(d, st.none(), index).map(lambda x: _strip_value(x)) for d in deps]
    inputs = [_item(d, values, index) for d in entry["inputs"]]
    state = [_item(d, values, index) for d in entry["state"]]

    def prop_id(i):
        if isinstance(i, list):
            return prop_id(i[0]) if i else None
        ident = i["id"] if isinstance(i["id"], str) else json.dumps(i["id"], sort_keys=True, separators=(",", ":"))
        return f"{ident}.{i['property']}"

    def assemble(outputs, ins, sts, changed_from, noise):
        changed = [p for p in map(prop_id, ins) if p][:changed_from] + noise
        return {"output": output, "outputs": outputs if several else outputs[0],
                "inputs": ins, "state": sts, "changedPropIds": changed}

    # what a renderer or a stranger may add: wildcard forms Dash cannot parse, other components
    noise = st.lists(st.sampled_from(['{"index":ALL,"type":"layer-style"}.data', "{bad.value", "url.search",
                                      '{"index":1}.value', ".", ""]) | text, max_size=2)
    return st.builds(assemble, st.tuples(*outs).map(list), st.tuples(*inputs).map(list),
                     st.tuples(*state).map(list) if state else st.just([]), st.integers(0, 2), noise)


def _strip_value(item):
    if isinstance(item, list):
        return [{k: v for k, v in i.items() if k != "value"} for i in item]
    return {k: v for k, v in item.items() if k != "value"}


def _post(client, body) -> int:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/_dash-update-component", data=data,
                       headers={"Content-Type": "application/json"}).status_code


# Callbacks -----------------------------------------------------------------------------------------
def test_every_registered_callback_survives_valid_shaped_payloads(client, server_callbacks, dataset_ids):
    """Each server-side callback, with its real inputs' shape and generated values: never a 5xx."""
    assert len(server_callbacks) >= 15
    values = (json_values | st.sampled_from(PATHS) | query_strings(dataset_ids).map(lambda q: "?" + q)
              | st.sampled_from(dataset_ids))
    statuses: dict[int, int] = {}
    for output, entry in server_callbacks:
        @settings(FUZZ, max_examples=25)
        @given(body=_valid_body(output, entry, values))
        def one_callback(body):
            status = _post(client, body)
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, (output, body)

        one_callback()
    assert statuses.get(200, 0) > 0, statuses  # the generated bodies do reach the callbacks


def test_malformed_callback_bodies_are_refused_with_a_short_error(client, server_callbacks, caplog):
    outputs = [k for k, _ in server_callbacks]
    keys = st.sampled_from(["output", "outputs", "inputs", "state", "changedPropIds", "x"])
    malformed = (
        json_values
        | st.dictionaries(keys, json_values | st.sampled_from(outputs), max_size=5)
        | st.builds(lambda out, ins: {"output": out, "inputs": ins, "state": ins, "outputs": ins,
                                      "changedPropIds": ins},
                    st.sampled_from(outputs), st.lists(json_values, max_size=3))
        | st.binary(max_size=200)
    )
    seen = []

    @settings(FUZZ, max_examples=150)
    @given(body=malformed)
    def check(body):
        response = client.post("/_dash-update-component",
                               data=body if isinstance(body, bytes) else json.dumps(body),
                               headers={"Content-Type": "application/json"})
        assert response.status_code < 500, body
        seen.append(response.status_code)
        if response.status_code >= 400:
            assert response.is_json and set(response.get_json()) == {"error", "status"}
            assert len(response.get_json()["error"]) < 200

    check()
    assert 400 in seen

    # one line in the log per refusal, and no traceback
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = client.post("/_dash-update-component", json={"output": outputs[0], "inputs": 5})
    assert response.status_code == 400
    assert len(caplog.records) == 1 and "Traceback" not in caplog.text and not caplog.records[0].exc_info


def test_a_callback_failing_on_a_value_answers_400_with_one_log_line(client, caplog):
    # a dataset id sent as a list (the page's store holds a string): the registry cannot look it up
    out = "..dataset-preview.children...dataset-source-card.children...dataset-provenance.children.."
    body = {"output": out, "outputs": [{"id": "dataset-preview", "property": "children"},
                                       {"id": "dataset-source-card", "property": "children"},
                                       {"id": "dataset-provenance", "property": "children"}],
            "inputs": [{"id": "dataset-id", "property": "data", "value": ["london-boroughs"]},
                       {"id": "dataset-resource", "property": "value", "value": None}],
            "state": [], "changedPropIds": ["dataset-id.data"]}
    with caplog.at_level(logging.INFO):
        response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "this callback could not use the values sent"
    assert len(caplog.records) == 1 and not caplog.records[0].exc_info
    assert "could not use the values sent" in caplog.text and ".py:" in caplog.text  # where: to find a bug
    # the same callback with the values a page sends works
    body["inputs"][0]["value"] = "london-boroughs"
    assert client.post("/_dash-update-component", json=body).status_code == 200


def test_a_wrongly_typed_property_is_refused_before_the_callback_runs(client):
    out = "..page-content.children...page-title.data...page-rendered.data.."
    body = {"output": out, "outputs": [{"id": "page-content", "property": "children"},
                                       {"id": "page-title", "property": "data"},
                                       {"id": "page-rendered", "property": "data"}],
            "inputs": [{"id": "url", "property": "pathname", "value": {"not": "a path"}},
                       {"id": "url", "property": "search", "value": ""}],
            "state": [{"id": "page-rendered", "property": "data", "value": None}],
            "changedPropIds": ["url.pathname"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 400 and response.get_json()["error"] == "inputs[0]: pathname cannot be a dict"
    body["inputs"][0]["value"] = "/catalogue"
    body["inputs"][1]["value"] = "?" + "&".join(["theme=x"] * 3000)   # 24 KB: over the query limit
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 400 and "at most 8,192" in response.get_json()["error"]
    body["inputs"][1]["value"] = "?theme=air-quality"
    once = client.post("/_dash-update-component", json=body)
    body["inputs"][1]["value"] = "?" + "&".join(["theme=air-quality"] * 400)   # repeats: one filter
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == once.status_code == 200
    assert response.data.count(b"theme=air-quality") == once.data.count(b"theme=air-quality")
    assert len(response.data) == len(once.data)


def test_outputs_with_allow_duplicate_are_sent_as_the_renderer_sends_them(client, server_callbacks):
    """An output declared with allow_duplicate=True comes as "data@<hash>" from Dash's renderer."""
    from explorer.web.callback_guard import _pattern

    def item(dep):
        pattern = _pattern(dep["id"])
        if pattern is None:
            return {"id": dep["id"], "property": dep["property"], "value": None}
        if any(v in (["ALL"], ["ALLSMALLER"]) for v in pattern.values()):
            return []
        return {"id": {k: (0 if isinstance(v, list) else v) for k, v in pattern.items()},
                "property": dep["property"], "value": None}

    duplicated = [(k, v) for k, v in server_callbacks if "@" in k]
    assert duplicated   # the map's state store is written by more than one callback
    for output, entry in duplicated:
        outs = []
        for part in output[2:-2].split("..."):
            ident, _, prop = part.partition("@")[0].rpartition(".")
            out = item({"id": ident, "property": prop + ("@" + part.partition("@")[2] if "@" in part else "")})
            outs.append([] if isinstance(out, list) else {k: v for k, v in out.items() if k != "value"})
        body = {"output": output, "outputs": outs, "inputs": [item(d) for d in entry["inputs"]],
                "state": [item(d) for d in entry["state"]], "changedPropIds": []}
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code < 500
        assert not (response.status_code == 400 and "outputs" in response.get_json()["error"]), response.data


# Map permalinks and Referers -----------------------------------------------------------------------
def test_map_permalinks_never_give_a_server_error(client, dataset_ids):
    @FUZZ
    @given(query=query_strings(dataset_ids))
    def check(query):
        response = client.get("/map?" + query)
        assert response.status_code < 500, query
        assert response.status_code in (200, 400)

    check()


def test_layout_with_generated_referers_never_gives_a_server_error(client, dataset_ids):
    referers = (query_strings(dataset_ids).map(lambda q: "http://localhost/map?" + q)
                | st.tuples(st.sampled_from(PATHS), query_strings(dataset_ids)).map(
                    lambda t: f"http://localhost{t[0]}?{t[1]}")
                | st.sampled_from(["http://[::1", "http://[::1/x", "http://localhost:99999/", "http://[zz]/",
                                   "http://localhost/catalogue?" + "&".join(["theme=x"] * 3000), ":", "//"])
                | text.map(lambda t: "http://localhost/" + quote(t, safe="/?&=")))

    @FUZZ
    @given(referer=referers)
    def check(referer):
        response = client.get("/_dash-layout", headers={"Referer": referer})
        assert response.status_code == 200, referer  # a doubtful referrer serves the bare frame

    check()
