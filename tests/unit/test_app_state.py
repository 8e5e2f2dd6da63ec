"""State lives on the app: every memo of an app is a table of its DataService's ``memos``, so a
second ``create_app`` in the same process (another data folder, another registry) neither sees nor
disturbs the first's, and no module keeps state keyed by an app's identity."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from explorer.geo.joins import DatasetError
from explorer.maps.layer_geometry import geometry_payload
from explorer.maps.layer_info import layer_info
from explorer.maps.layer_memo import memo_table
from explorer.maps.values import values_payload
from explorer.settings import Settings
from explorer.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
LAYER = ("laei-borough", "no2-2019")


def _kept(services, kind: str) -> list:
    """What an app keeps of one kind of layer data (its memo table, explorer/maps/layer_memo.py)."""
    return memo_table(services.data, kind).values()


def test_an_app_without_the_data_does_not_see_anothers_layers(real_services, tmp_path):
    info = layer_info(real_services.data, *LAYER)
    values = values_payload(real_services.data, *LAYER, "NO2-2019-mean")
    assert info.n_features == 33 and len(values) == 33
    assert info in _kept(real_services, "info")

    # the same catalogue, but a data folder without the file, and no downloads
    bare = create_app(Settings(home=tmp_path / "home", data_dir=tmp_path / "no-data", offline=True,
                               cache_url="null")).explorer
    assert bare.data.memos is not real_services.data.memos
    assert bare.registry.get(LAYER[0]) is not None          # the entry is there; its file is not
    assert _kept(bare, "info") == [] and _kept(bare, "values") == []
    with pytest.raises(DatasetError):
        layer_info(bare.data, *LAYER)
    with pytest.raises(DatasetError):
        geometry_payload(bare.data, *LAYER)
    with pytest.raises(DatasetError):
        values_payload(bare.data, *LAYER, "NO2-2019-mean")
    assert _kept(bare, "info") == []

    # and the first app is untouched by the second: same objects, still served from its memos
    assert layer_info(real_services.data, *LAYER) is info
    assert values_payload(real_services.data, *LAYER, "NO2-2019-mean") is values


def test_a_second_app_on_the_same_data_works_its_layers_out_itself(real_services, tmp_path, data_dir):
    first = layer_info(real_services.data, *LAYER)
    second_app = create_app(Settings(home=tmp_path / "home", data_dir=data_dir, cache_url="null"))
    second = second_app.explorer
    assert second.data.memos is not real_services.data.memos
    assert _kept(second, "info") == []                 # nothing carried over from the first app
    again = layer_info(second.data, *LAYER)
    assert again is not first and again.to_dict() == first.to_dict()
    assert _kept(second, "info") == [again]
    # clearing one app's memos leaves the other's
    second.data.memos.clear()
    assert _kept(second, "info") == [] and first in _kept(real_services, "info")


# ------------------------------------------------------------------------------------------------
# No module keeps state keyed by an app, or a memo of its own
_PROCESS_STATE = {
    # process-wide by nature: not derived from one app's data
    ("explorer/data/loaders/_safety.py", "_keep_alive"): "GDAL's error-handler callback, one per process",
    ("explorer/db/__init__.py", "_databases"): "connection pools, one per database URL and process (reset after fork)",
    ("explorer/export/tiles.py", "_failures"): "tile servers that failed lately, by URL",
    ("explorer/maps/shortlinks.py", "_stores"): "link stores, one per database URL or file",
    ("explorer/themes/chart_data.py", "TRANSFORMS"): "the transform registry, filled by decorators at import",
    ("explorer/themes/chart_data.py", "COMPUTATIONS"): "the computation registry, filled by decorators at import",
}
_CONTAINERS = {"OrderedDict", "dict", "set", "list", "defaultdict", "WeakKeyDictionary", "WeakValueDictionary"}


def _sources():
    for root in ("explorer", "layouts", "callbacks"):
        for path in sorted((ROOT / root).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def _module_state(tree) -> list[tuple[str, int]]:
    """Names bound at module level to an empty container or a memo object (state that outlives a call)."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value = node.target.id, node.value
        else:
            continue
        empty = (isinstance(value, ast.Dict) and not value.keys) or \
            (isinstance(value, (ast.List, ast.Set)) and not value.elts)
        if isinstance(value, ast.Call):
            func = value.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            empty = (called in _CONTAINERS and not value.args) or called in ("LRU", "Memos") \
                or called.endswith("Memo")
        if empty:
            found.append((name, node.lineno))
    return found


def _keyed_by_identity(tree) -> list[int]:
    """Lines calling ``id()`` on a service, services, data service, registry or app."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "id" and node.args:
            text = ast.unparse(node.args[0]).lower()
            if any(word in text for word in ("service", "data", "registry", "app", "explorer")):
                lines.append(node.lineno)
    return lines


def test_no_module_keeps_state_of_its_own():
    wrong = [f"{path}:{line} {name}" for path, tree in _sources() for name, line in _module_state(tree)
             if (path, name) not in _PROCESS_STATE]
    assert not wrong, ("module-level state: keep memos on the app (services.data.memos.table(name, size), "
                       "explorer/data/memo.py), or add it to _PROCESS_STATE with why it is process-wide: "
                       + ", ".join(wrong))
    keyed = [f"{path}:{line}" for path, tree in _sources() for line in _keyed_by_identity(tree)]
    assert not keyed, "state keyed by an object's id(): keep it on the app instead: " + ", ".join(keyed)


def test_the_checks_can_fail():
    tree = ast.parse("import collections\n_MEMO = collections.OrderedDict()\n_CHARTS = _Memo(8)\n"
                     "_OK = {'a': 1}\nNAMES = set('abc')\ndef f(service):\n    return cache[id(service.data)]\n")
    assert [name for name, _ in _module_state(tree)] == ["_MEMO", "_CHARTS"]
    assert _keyed_by_identity(tree) == [7]
    assert _keyed_by_identity(ast.parse("seen = {id(node)}")) == []
