"""The "Export" group under a chart or a map: image links (PNG, SVG, PDF) at a size preset, the
data as a zip, and a copy-link button. Plain links: the browser downloads what the server renders.

Place ``chart_tools(theme_slug, chart_id)`` in the ``chart-tools`` div under a theme chart,
``map_tools()`` under the map explorer's map, and ``dataset_tools(dataset_id)`` on a dataset page.
The callbacks in ``callbacks/export_menu.py`` keep the links in step with the chosen preset (and,
for the map, with the map's URL).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from dash import dcc, html

from explorer.export.sizes import FORMATS, PRESETS

PRESET_OPTIONS = [{"label": p.label, "value": name} for name, p in PRESETS.items()]
DEFAULT = "a4"


def chart_image_href(theme_slug: str, chart_id: str, fmt: str, preset: str = DEFAULT) -> str:
    return f"/export/chart/{quote(theme_slug)}/{quote(chart_id)}.{fmt}?{urlencode({'preset': preset})}"


def chart_data_href(theme_slug: str, chart_id: str) -> str:
    return f"/download/chart/{quote(theme_slug)}/{quote(chart_id)}.zip"


def map_image_href(search: str | None, fmt: str, preset: str = DEFAULT) -> str:
    query = (search or "").lstrip("?")
    return f"/export/map.{fmt}?" + "&".join(p for p in (query, urlencode({"preset": preset})) if p)


def map_data_href(search: str | None) -> str:
    return "/download/layer.zip" + ("?" + search.lstrip("?") if search and search.lstrip("?") else "")


def _group(label: str, preset_id, links: list, data_link, copy, note: str | None = None) -> html.Div:
    return html.Div(className="export-menu", role="group", **{"aria-label": label}, children=[
        html.Span("Export", className="export-menu__label"),
        html.Div(className="export-menu__row", children=[
            html.Label("Size", className="export-menu__size-label"),
            dcc.Dropdown(id=preset_id, options=PRESET_OPTIONS, value=DEFAULT, clearable=False, searchable=False,
                         className="dropdown export-menu__preset"),
            *links,
            data_link,
            copy,
        ]),
        html.P(note, className="export-menu__note muted") if note else None,
    ])


def _image_link(id_, fmt: str, href: str, what: str) -> html.A:
    return html.A(fmt.upper(), id=id_, href=href, download="", className="button button--small export-menu__link",
                  title=f"Download {what} as {fmt.upper()}", **{"data-format": fmt})


def _copy(id_, what: str) -> html.Span:
    return html.Span(className="export-menu__copy", children=[
        dcc.Clipboard(id=id_, title=f"Copy a link to {what}", className="export-menu__clipboard"),
        html.Span("Copy link", className="export-menu__copy-label"),
    ])


def chart_tools(theme_slug: str, chart_id: str) -> html.Div:
    """Export controls for one theme chart (put them in its ``chart-tools`` div)."""
    key = f"{theme_slug}/{chart_id}"
    links = [_image_link({"type": "export-image", "index": key, "fmt": fmt},
                         fmt, chart_image_href(theme_slug, chart_id, fmt), "this chart") for fmt in FORMATS]
    data = html.A("Data (.zip)", href=chart_data_href(theme_slug, chart_id), download="",
                  className="button button--small export-menu__link", title="CSV and GeoJSON with provenance")
    return html.Div([
        dcc.Store(id={"type": "export-target", "index": key},
                  data={"theme": theme_slug, "chart": chart_id,
                        "permalink": f"/themes/{quote(theme_slug)}?{urlencode({'chart': chart_id})}"}),
        _group("Export this chart", {"type": "export-preset", "index": key}, links, data,
               _copy({"type": "export-copy", "index": key}, "this chart")),
    ])


def map_tools(search: str | None = None) -> html.Div:
    """Export controls for the map explorer (the links follow the map's URL)."""
    links = [_image_link({"type": "map-export-image", "fmt": fmt}, fmt, map_image_href(search, fmt), "this map")
             for fmt in FORMATS]
    data = html.A("Data (.zip)", id="map-export-data", href=map_data_href(search), download="",
                  className="button button--small export-menu__link",
                  title="The visible layers as CSV, GeoJSON and GeoPackage, with provenance")
    return _group("Export this map", "map-export-preset", links, data, _copy("map-export-copy", "this map view"),
                  note="Images draw the basemap's tiles when they can be fetched; otherwise London's outline "
                       "and the Thames give the context, and the image's footer says so.")


def dataset_tools(dataset_id: str) -> html.Div:
    """Export controls on a dataset page: the dataset on its own map, and its data as shown there."""
    search = "?" + urlencode({"layer": dataset_id})
    links = [html.A(f"Map {fmt.upper()}", href=map_image_href(search, fmt), download="",
                    className="button button--small export-menu__link", title=f"This dataset on a map, as {fmt.upper()}")
             for fmt in FORMATS]
    data = html.A("Data (.zip)", href=map_data_href(search), download="",
                  className="button button--small export-menu__link",
                  title="CSV, GeoJSON and GeoPackage of the mapped data, with provenance")
    return html.Div(className="export-menu", role="group", **{"aria-label": "Export this dataset"}, children=[
        html.Span("Export", className="export-menu__label"),
        html.Div([*links, data, html.A("Open on the map", href="/map" + search, className="export-menu__link")],
                 className="export-menu__row"),
    ])
