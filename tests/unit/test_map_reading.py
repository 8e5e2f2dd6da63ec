"""A map link naming a variable its layer does not have is not silently dropped: the page says so
(README: "Unknown datasets or settings in a link are ignored with a notice") and shows the layer's
own variable, under its human label."""

from __future__ import annotations

from explorer.app import create_app
from explorer.settings import Settings

from ..conftest import DATA_DIR


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


def test_an_unknown_variable_in_a_link_gives_a_notice(tmp_path):
    from callbacks.map_explorer import explorer_page

    app = create_app(Settings(home=tmp_path, data_dir=DATA_DIR, cache_url="simple"))
    page = explorer_page(app.explorer, "?basemap=none&layer=laei-borough:no2-2019,v:NO2-9999-mean")
    notices = next(c for c in page.children if getattr(c, "id", None) == "map-notices")
    text = _text(notices)
    assert "NO2-9999-mean" in text and "Modelled air pollution by borough" in text
    # the layer is still there, on its own variable under a human label
    assert "NO₂ annual mean, 2019" in _text(page)
    good = explorer_page(app.explorer, "?basemap=none&layer=laei-borough:no2-2019,v:NO2-2019-mean")
    assert not _text(next(c for c in good.children if getattr(c, "id", None) == "map-notices")).strip()
