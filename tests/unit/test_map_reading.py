"""Reading the map: a link naming a variable its layer does not have is not silently dropped (the
page says so, as the README promises, and shows the layer's own variable under its human label);
the class breaks of a layer stay the same through its years."""

from __future__ import annotations


def _text(component) -> str:
    out = []

    def walk(node):
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
        elif node is not None and hasattr(node, "children"):
            walk(node.children)
    walk(component)
    return " ".join(out)


import pytest


@pytest.fixture(scope="module")
def app(real_app):
    return real_app


def test_an_unknown_variable_in_a_link_gives_a_notice(app):
    from callbacks.map_explorer import explorer_page

    page = explorer_page(app.explorer, "?basemap=none&layer=laei-borough:no2-2019,v:NO2-9999-mean")
    notices = next(c for c in page.children if getattr(c, "id", None) == "map-notices")
    text = _text(notices)
    assert "NO2-9999-mean" in text and "Modelled air pollution by borough" in text
    # the layer is still there, on its own variable under a human label
    assert "NO₂ annual mean, 2019" in _text(page)
    good = explorer_page(app.explorer, "?basemap=none&layer=laei-borough:no2-2019,v:NO2-2019-mean")
    assert not _text(next(c for c in good.children if getattr(c, "id", None) == "map-notices")).strip()


def test_class_breaks_stay_the_same_through_the_years(app):
    from callbacks.map_explorer import layer_look
    from explorer.maps.layers import LayerSpec
    from explorer.maps.layer_info import layer_info
    from layouts import map_explorer as view

    info = layer_info(app.explorer.data, "laei-borough", "no2-2019")
    assert len(info.time_steps) == 3                     # 2013, 2016, 2019
    meta = view.layer_meta(LayerSpec(dataset="laei-borough", resource="no2-2019"), info)
    looks = [layer_look(app.explorer, meta, "NO2-2019-mean", i, None, "quantile", 5, "auto") for i in range(3)]
    breaks = [style["breaks"] for _values, style, _legend in looks]
    assert breaks[0] == breaks[1] == breaks[2]
    # the values differ from year to year (NO₂ fell in every borough), the scale does not
    first, last = looks[0][0]["values"], looks[2][0]["values"]
    assert sum(a > b for a, b in zip(first, last) if a is not None and b is not None) >= 30
    # and the scale spans the years: 2013's highest borough is above 2019's top break
    assert max(v for v in first if v is not None) > breaks[0][-1]
