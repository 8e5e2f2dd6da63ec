"""The hideout contract (explorer/maps/hideout.py) is defined once: its builders refuse keys it
does not have, the style every map uses fits it, the browser's merge writes the keys the server's
first paint writes, and the list of what each script reads (head of assets/map_styles.js) names
only keys of the contract and every key the scripts really read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.maps import hideout as hideouts
from explorer.maps.classify import layer_style

ASSETS = Path(__file__).resolve().parents[2] / "assets"
# the names a script gives a hideout it reads
READERS = {"map_styles.js": ("h", "hideout"), "canvas_layer.js": ("h", "hideout", "kept"),
           "first_view.js": ("h",), "theme_map.js": ("h",)}


def _code(name: str) -> str:
    """A script without its comments (the doc lines mention keys they do not read)."""
    text = (ASSETS / name).read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$|\s//[^\n\"']*$", "", text)


def _declared() -> tuple[dict[str, set[str]], set[str]]:
    head = (ASSETS / "map_styles.js").read_text(encoding="utf-8").split("*/", 1)[0]
    reads = {m.group(1): set(m.group(2).split()) for m in re.finditer(r"reads (\S+\.js): ([a-z_ ]+)", head)}
    carried = re.search(r"carried, read by no script[^:]*: ([a-z_ ]+)", head)
    return reads, set(carried.group(1).split()) if carried else set()


def _read_in(code: str, names) -> set[str]:
    pattern = r"\b(?:%s)\.([a-z_]+)\b(?!\s*\()" % "|".join(re.escape(n) for n in names)
    return set(re.findall(pattern, code))


def test_the_builders_refuse_keys_the_contract_does_not_have():
    with pytest.raises(hideouts.HideoutError, match="colour_scale"):
        hideouts.hideout(uid="a", colour_scale="x")
    with pytest.raises(hideouts.HideoutError, match="style key: gradient"):
        hideouts.layer("a", {"mode": "classes", "gradient": True})
    with pytest.raises(hideouts.HideoutError):
        hideouts.context("river")
    assert hideouts.pending("a", canvas=True, geometry="/geo/x/y.pbf") == {
        "uid": "a", "pending": True, "canvas": True, "geometry": "/geo/x/y.pbf"}
    assert "geometry" not in hideouts.pending("a")     # None is left out: the scripts' default


@pytest.mark.parametrize("kind, variable, themes", [
    ("polygons", "v", ()), ("polygons", None, ("boundaries",)), ("polygons", None, ("parks",)),
    ("points", None, ()), ("points", "v", ()),
])
def test_every_style_the_maps_draw_fits_the_contract(kind, variable, themes):
    style, _ = layer_style(kind, variable, "quantile", 5, "auto", [1.0, 2.0, 3.0, None, 5.0, 8.0], themes=themes)
    assert set(style) <= hideouts.STYLE_KEYS <= hideouts.KEYS
    drawn = hideouts.layer("u1", style, values=[1.0], opacity=0.5, kind=kind, selected=[])
    assert set(drawn) <= hideouts.KEYS and drawn["mode"] == style["mode"] and drawn["opacity"] == 0.5


def test_the_browser_merge_writes_what_the_first_paint_writes():
    code = _code("map_explorer.js")
    merge = code[code.index("function layerHideout"):code.index("function compareHideout")]
    written = set(re.findall(r"\bh\.([a-z_]+)\s*=(?!=)", merge))
    assert written <= hideouts.KEYS
    style, _ = layer_style("polygons", "v", "quantile", 5, "auto", [1.0, 2.0, 3.0])
    first = hideouts.layer("u1", style, values=[1.0], kind="polygons", unit="%", canvas=True)
    # the merge starts from the style (Object.assign) and adds the rest; the geometry URL is the
    # server's alone (a canvas layer reads it when it joins the map)
    assert set(first) - set(style) - {"geometry"} == written


def test_the_scripts_read_only_what_the_list_says_and_the_list_only_the_contract():
    reads, carried = _declared()
    assert set(reads) == {*READERS, "theme_selection.js"}
    named = set().union(*reads.values()) | carried
    assert named <= hideouts.KEYS, f"the list in assets/map_styles.js names keys the contract lacks: {named - hideouts.KEYS}"
    assert hideouts.KEYS <= named, f"keys of the contract no script list accounts for: {hideouts.KEYS - named}"
    for script, names in READERS.items():
        found = _read_in(_code(script), names)
        assert found <= hideouts.KEYS, f"{script} reads keys the contract does not have: {found - hideouts.KEYS}"
        assert found == reads[script], f"{script}: the list says {sorted(reads[script])}, the code reads {sorted(found)}"
    code = _code("theme_selection.js")
    map_styles = code[code.index("function mapStyles"):]
    assert {k for k in re.findall(r"\bout\.([a-z_]+)\b(?!\s*=)", map_styles)} == reads["theme_selection.js"]


def test_the_check_would_see_an_undeclared_read():
    """The extraction the test above relies on finds a read that is not in the list."""
    assert _read_in("var x = h.flavour || h.mode; h.get(1);", ("h",)) == {"flavour", "mode"}
