"""The home page's small maps (explorer/maps/thumbnail.py, explorer/themes/thumbnails.py) on the
real data: areas coloured by the layer's own classes, small areas averaged by borough, a text
alternative naming the variable and period, and path data small enough for the home page."""

from __future__ import annotations

import re

import numpy as np
import pytest
import shapely

from explorer.maps.thumbnail import build_thumbnail, class_of, path_data
from explorer.settings import Settings
from explorer.themes.page_data import map_layers, themes_of
from explorer.themes.thumbnails import theme_thumbnail
from explorer.web.app import create_app


@pytest.fixture(scope="module")
def services(tmp_path_factory, data_dir):
    return create_app(Settings(home=tmp_path_factory.mktemp("home"), data_dir=data_dir, offline=True)).explorer


def first_layer(services, slug):
    return map_layers(services, themes_of(services)[slug])[0]


def test_class_of_follows_the_legend_rule():
    # "≤ 10", "10 – 20", …, "> 40": a value on a break belongs to the class below it
    assert class_of([5, 10, 10.01, 40, 41, None], [10, 20, 30, 40]).tolist() == [0, 0, 1, 3, 4, -1]


def test_path_data_is_one_closed_ring_in_relative_moves():
    square = shapely.box(0, 0, 100, 100)
    assert path_data(square, (0, 100), 1.0) == "M100 100l0-100-100 0 0 100z"   # a minus sign separates


def test_borough_layer_is_coloured_by_its_own_classes(services):
    layer = first_layer(services, "housing")
    style = layer["style"]
    thumb = build_thumbnail(services.data, layer["dataset"], layer["resource"], style["values"], style,
                            layer["label"])
    assert thumb is not None and not thumb.averaged
    assert len(thumb.areas) == len(style["values"]) == 33
    expected = [style["colours"][c] for c in class_of(style["values"], style["breaks"])]
    assert [fill for _, fill in thumb.areas] == expected
    assert len(set(expected)) == 5            # quantile classes: every colour used
    assert all(re.fullmatch(r"(M-?\d+(?: |-)\d+l(?:(?: |-)?\d+)+z)+", d) for d, _ in thumb.areas)
    # the text alternative names the variable and period, which way the colours go, and the range
    assert thumb.label.startswith("Map: Mean price paid, year to December 2017.")
    assert "Darker is higher" in thumb.label and "£452,000" in thumb.label
    # the key under it: the two ends of the classes, money written as money
    assert thumb.ends == ("≤ £452,000", "> £818,000") and thumb.caption == "Mean price paid, year to December 2017"
    assert [c for c, _ in thumb.legend] == style["colours"]


def test_small_area_layer_is_drawn_as_borough_means(services):
    layer = first_layer(services, "air-quality")
    style = layer["style"]
    thumb = build_thumbnail(services.data, layer["dataset"], layer["resource"], style["values"], style,
                            layer["label"])
    assert thumb.averaged and len(thumb.areas) == 33
    assert "NO₂ annual mean, 2019" in thumb.label and "small areas averaged by borough" in thumb.label
    assert "µg/m³" in thumb.label and thumb.ends == ("≤ 10", "> 40 µg/m³")
    # the mean the map draws for a borough is the mean of its LSOAs (named "<Borough> 001A")
    from explorer.maps.values import layer_table
    lsoas = layer_table(services.data, layer["dataset"], layer["resource"], style["values"])
    ours = lsoas[lsoas["name"].str.startswith("Westminster ")]["value"].astype(float).mean()
    names = layer_table(services.data, "london-boroughs", None)["name"].tolist()
    assert "Westminster" in names                   # the regions are London's boroughs
    fills = {fill for _, fill in thumb.areas}
    westminster_class = int(class_of([ours], style["breaks"])[0])
    assert style["colours"][westminster_class] in fills
    assert fills <= set(style["colours"]) | {style["nodata"]}


def test_every_theme_has_its_map_and_the_home_page_stays_small(services):
    thumbs = {slug: theme_thumbnail(services, theme) for slug, theme in themes_of(services).items()}
    drawn = {slug: t for slug, t in thumbs.items() if t is not None}
    # every theme's first layer here is an area layer with classes
    assert set(drawn) == set(thumbs)
    assert all(len(t.areas) > 30 and t.label.startswith("Map: ") for t in drawn.values())
    # a second call is the app's memo, not a recomputation
    theme = themes_of(services)["net-zero"]
    assert theme_thumbnail(services, theme) is thumbs["net-zero"]
    # 33 boroughs simplified to 400 m a map: about 4 kB of path data each (the page carries seven)
    assert max(t.size for t in drawn.values()) < 6_000, {s: t.size for s, t in drawn.items()}


def test_a_layer_not_drawn_by_classes_has_no_thumbnail(services):
    layer = first_layer(services, "housing")
    assert build_thumbnail(services.data, layer["dataset"], layer["resource"], layer["style"]["values"],
                           {"mode": "single", "colour": "#2b8538"}, layer["label"]) is None


def test_a_theme_without_a_map_layer_has_no_map_and_no_empty_box(services, tmp_path):
    from dash._utils import to_json

    from explorer.themes.theme_files import load_theme
    from layouts.home import home

    housing = themes_of(services)["housing"]
    source = housing.path.read_text(encoding="utf-8")
    # the same theme file with no map section
    lines, skipping = [], False
    for line in source.splitlines():
        if line.startswith("map:"):
            skipping = True
            continue
        if skipping and line and not line.startswith((" ", "-", "#")):
            skipping = False
        if not skipping:
            lines.append(line)
    path = tmp_path / "housing.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapless = load_theme(path)
    assert not mapless.map_layers
    assert theme_thumbnail(services, mapless) is None

    drawn = to_json(home(1, {}, [(housing, [])], [], {"housing": theme_thumbnail(services, housing)}))
    bare = to_json(home(1, {}, [(mapless, [])], [], {"housing": None}))
    assert "map-thumbnail" in drawn and '"role": "img"' in drawn.replace('":"', '": "')
    assert "map-thumbnail" not in bare and "theme-card__map" not in bare
