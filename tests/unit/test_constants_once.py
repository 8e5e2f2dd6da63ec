"""Reference values are defined once: British National Grid's EPSG code, the GSS code pattern and
the default map view live in one module each, and every other module imports them (a copy that
drifts is how the theme map and the map explorer came to open on different centres)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from explorer.data.geo_reference import BNG, BNG_EPSG, GSS_PATTERN, GSS_RE
from explorer.maps.classify import CLASS_COUNTS, MAX_CLASSES, MIN_CLASSES
from explorer.maps.layers import DEFAULT_VIEW, LayerParamError, parse_layer

ROOT = Path(__file__).resolve().parents[2]
HOMES = {  # value -> the one module that may write it
    27700: "explorer/data/geo_reference.py",
    GSS_PATTERN: "explorer/data/geo_reference.py",
    DEFAULT_VIEW[0]: "explorer/maps/layers.py",
    DEFAULT_VIEW[1]: "explorer/maps/layers.py",
}


def _copies() -> list[str]:
    found = []
    for package in ("explorer", "layouts", "callbacks", "benchmarks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {id(node.value) for node in ast.walk(tree)
                          if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
            for node in ast.walk(tree):
                if not isinstance(node, ast.Constant) or id(node) in docstrings:
                    continue
                for value, home in HOMES.items():
                    same = (GSS_PATTERN in node.value if isinstance(node.value, str) and isinstance(value, str)
                            else type(node.value) is type(value) and node.value == value)
                    if same and rel != home:
                        found.append(f"{rel}:{node.lineno} writes {value!r} (defined in {home})")
    return found


def test_reference_values_are_written_in_one_module_each():
    assert _copies() == []


def test_the_reference_values_themselves():
    assert BNG == "EPSG:27700" and BNG_EPSG == 27700
    assert GSS_RE.match("E09000001") and not GSS_RE.match("E0900001") and not GSS_RE.match("X09000001")
    assert 51.2 < DEFAULT_VIEW[0] < 51.7 and -0.5 < DEFAULT_VIEW[1] < 0.3


@pytest.mark.parametrize("classes", [MIN_CLASSES - 1, *CLASS_COUNTS, MAX_CLASSES + 1])
def test_a_link_may_ask_for_exactly_the_class_counts_the_menu_offers(classes):
    text = f"laei-borough:no2-2016,k:{classes}"
    if classes in CLASS_COUNTS:
        assert parse_layer(text).classes == classes
    else:
        with pytest.raises(LayerParamError, match=f"classes must be {MIN_CLASSES}–{MAX_CLASSES}"):
            parse_layer(text)
