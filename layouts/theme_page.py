"""Themed dashboard pages: the /themes index and one page per theme file.

Pure functions of what explorer/themes/page_data.py works out (chart results, headline figures, map
layers); callbacks/themes.py joins the two.
The page reads top to bottom on a phone: title, summary, headline figures, the story, then a
borough picker and the map, then each chart with what a reader must know under it, its source in
one line that opens the full card, its "show data" table and a text summary for screen readers. Text from theme files is shown as
text (never as HTML).
"""

from __future__ import annotations

import json
import math
from urllib.parse import urlencode

import dash_leaflet as dl
import plotly.graph_objects as go
from dash import dcc, html

from explorer.labels import caveats as caveat_kinds
from explorer.labels.sources import source_line
from explorer.catalogue.models import Entry
from explorer.themes.page_data import ChartPart
from explorer.maps import hideout as hideouts
from explorer.maps.layers import DEFAULT_VIEW

from .components import (FREQUENCY_LABELS, ORIGIN_LABELS, badge, definition_list, geography_label, notice,
                         refresh_note)
from .export_menu import chart_tools, map_image_href
from explorer.labels.themes import theme_label
from .map_explorer import CONTEXT_STYLE, leaflet_layer, legend, tile_layer

SHOW_DATA = "Show data"
HIDE_DATA = "Hide data"
LONDON_BOUNDS = [[51.28, -0.51], [51.70, 0.34]]
LONDON_CENTRE = list(DEFAULT_VIEW[:2])   # the map explorer's; LONDON_BOUNDS decide the view
BASEMAP = "none"             # our own outlines: the London region and the Thames
GRAPH_CONFIG = {
    # no zoom/pan tool bar for the public: a tap picks a place, the data table is a button away
    "displayModeBar": False,
    "displaylogo": False,
    "responsive": True,
    "scrollZoom": False,
    # images come from the export links under each chart, with title and source inside them;
    # nothing is sent to an outside service ("Share chart..." would upload the data to Plotly)
    "modeBarButtonsToRemove": ["toImage", "autoScale2d", "sendChartToCloud", "sendDataToCloud",
                               "editInChartStudio"],
}


# one chart of a page as page_data gives it: spec, result and the registry entries of its datasets
ChartView = ChartPart


def paragraphs(text: str) -> list[str]:
    """Plain-text paragraphs: blank lines separate them, single line breaks are spaces."""
    out = []
    for block in (text or "").replace("\r\n", "\n").split("\n\n"):
        words = " ".join(line.strip() for line in block.split("\n") if line.strip())
        if words:
            out.append(words)
    return out


def dom_id(kind: str, index: str) -> str:
    """The DOM id Dash gives a pattern-matching id (for aria-controls)."""
    return json.dumps({"index": index, "type": kind}, separators=(",", ":"), sort_keys=True)


# =============================================================================== index
def theme_card(theme, figures: list[dict], picture=None) -> html.Li:
    """A dashboard's tile; ``picture`` (the home page's small map, layouts/map_thumbnail.py) goes
    under its figures, at the foot of the tile (the maps of a row line up)."""
    items = []
    for h in figures:
        items.append(html.Div(className="theme-card__figure", children=[
            html.Dt(h["label"], className="theme-card__label"),
            html.Dd(h["text"], className="theme-card__value"),
        ]))
    return html.Li(className="theme-card theme-card--dashboard", children=[
        html.H2(dcc.Link(theme.title, href=f"/themes/{theme.slug}", className="theme-card__link"),
                className="theme-card__title"),
        html.P(theme.summary, className="theme-card__summary"),
        html.Dl(items, className="theme-card__figures") if items else None,
        html.Div(picture, className="theme-card__map") if picture is not None else None,
        html.P(f"{len(theme.charts)} charts and a map, each with its sources", className="theme-card__meta"),
    ])


def index_page(cards: list, registry_themes: list[tuple[str, int]]) -> html.Div:
    return html.Div(className="themes", children=[
        html.H1("Themes"),
        html.P("London's data, one story at a time: a short account, headline figures, a map and "
               "charts, with where every number comes from beside it.", className="lede"),
        html.Ul(cards, className="theme-cards theme-cards--dashboards"),
        html.Section(className="section", **{"aria-labelledby": "registry-themes"}, children=[
            html.H2("All datasets by theme", id="registry-themes"),
            html.Ul(className="chip-list", children=[
                html.Li(dcc.Link(f"{theme_label(slug)} ({n})", href="/catalogue?" + urlencode({"theme": slug}),
                                 className="chip")) for slug, n in registry_themes
            ]),
        ]) if registry_themes else None,
    ])


# =============================================================================== theme page
def theme_page(theme, headlines: list[dict], headline_entries: dict, layers: list[dict],
               charts: list[ChartView], boroughs: list[dict], focus: str | None = None) -> html.Div:
    layer_meta = [{"uid": item["uid"], "dataset": item["dataset"], "resource": item.get("resource"),
                   "variable": item.get("variable"), "label": item["label"], "unit": item.get("unit")}
                  for item in layers if not item.get("error")]
    return html.Div(className="theme", children=[
        dcc.Store(id="theme-slug", data=theme.slug),
        dcc.Store(id="theme-selection", data={"codes": [], "names": {}, "label": "", "source": None, "at": []}),
        dcc.Store(id="theme-layers", data=layer_meta),
        dcc.Store(id="theme-focus", data=focus),
        html.P(dcc.Link("← All themes", href="/themes"), className="breadcrumb"),
        html.H1(theme.title, className="theme__title"),
        html.P(theme.summary, className="lede theme__summary"),
        headline_block(headlines, headline_entries),
        html.Section(className="theme__story", **{"aria-labelledby": "theme-story-title"}, children=[
            html.H2("The story", id="theme-story-title", className="visually-hidden"),
            *[html.P(p) for p in paragraphs(theme.narrative)],
        ]),
        toolbar(boroughs),
        map_section(theme, layers),
        html.Div(className="theme__charts", children=[chart_section(theme, cv) for cv in charts]),
        related_links(getattr(theme, "related", None) or []),
    ])


def related_links(related: list[dict]) -> html.Nav | None:
    """'Read beside this: <theme>' links, after the charts, to the themes a theme file names under
    ``related``."""
    if not related:
        return None
    links: list = ["Read beside this: "]
    for i, item in enumerate(related):
        links += (["; "] if i else []) + [dcc.Link(item["text"], href=f"/themes/{item['theme']}",
                                                   className="theme__related-link")]
    return html.Nav(html.P(links), className="theme__related", **{"aria-label": "Related themes"})


def headline_block(headlines: list[dict], entries: dict) -> html.Section | None:
    if not headlines:
        return None
    items = []
    for h in headlines:
        sources = []
        for src in h.get("sources") or []:
            if src.get("role", "data") != "data":
                continue
            entry = entries.get(src["dataset_id"])
            if entry is not None and all(s.href != f"/dataset/{entry.id}" for s in sources):
                sources.append(dcc.Link(entry.title, href=f"/dataset/{entry.id}"))
        source_line = None
        if sources:
            joined: list = ["Source: "]
            for i, link in enumerate(sources):
                joined += ([", "] if i else []) + [link]
            source_line = html.P(joined, className="headline__source")
        failed = h.get("error") is not None
        note = html.P("The data behind this figure could not be loaded.", className="headline__error",
                      title=h["error"]) if failed else source_line
        if h.get("not_open"):   # shared or closed data: never drawn on a public page
            links: list = ["Its data is not open; see "]
            for i, ds in enumerate(h["not_open"]):
                links += ([", "] if i else []) + [dcc.Link(ds["title"], href=f"/dataset/{ds['id']}")]
            note = html.P(links + [" to request access."], className="headline__error")
        items.append(html.Li(className="headline" + (" headline--missing" if failed else ""), children=[
            html.P(h["text"] if not failed else "Not available", className="headline__value"),
            html.P(h["label"], className="headline__label"),
            note,
        ]))
    return html.Section(className="theme__headlines", **{"aria-labelledby": "theme-headlines-title"}, children=[
        html.H2("Headline figures", id="theme-headlines-title", className="visually-hidden"),
        html.Ul(items, className="headlines"),
    ])


def toolbar(boroughs: list[dict]) -> html.Div:
    if boroughs:
        picker = dcc.Dropdown(id="theme-picker", options=boroughs, value=None, clearable=True, searchable=True,
                              placeholder="Choose a borough", className="dropdown theme-toolbar__picker")
    else:
        picker = html.Div([
            dcc.Dropdown(id="theme-picker", options=[], disabled=True, placeholder="Boroughs not available",
                         className="dropdown theme-toolbar__picker"),
        ])
    return html.Div(className="theme-toolbar", role="group", **{"aria-labelledby": "theme-picker-label"}, children=[
        html.Div(className="theme-toolbar__field", children=[
            html.Label("Highlight a borough in the map and every chart", id="theme-picker-label",
                       htmlFor="theme-picker", className="theme-toolbar__label"),
            html.Div(className="theme-toolbar__controls", children=[
                picker,
                html.Button("Clear", id="theme-clear", className="button button--small theme-toolbar__clear",
                            **{"aria-label": "Clear the highlighted places"}),
            ]),
        ]),
        html.P("Nothing highlighted", id="theme-status", className="theme-toolbar__status",
               **{"aria-live": "polite"}),
    ])


# ------------------------------------------------------------------------------- map
def theme_map(layers: list[dict]) -> dl.Map:
    """The map explorer's layers (geometry by URL, style by hideout) on London's outline.

    Layers are drawn in the theme file's order, the first at the bottom; boundary outlines go on
    top without catching the pointer, so areas beneath keep their tooltips."""
    drawn = [item for item in layers if not item.get("error")]
    ordered = [i for i in drawn if not i["boundary"]] + [i for i in drawn if i["boundary"]]
    children = []
    for item in ordered:
        component = leaflet_layer({"type": "theme-geo", "index": item["uid"]}, item["spec"], item["info"],
                                  item["hideout"])
        component.style = {"variable": "explorer.theme.layerStyle"}
        component.onEachFeature = {"variable": "explorer.theme.onEachFeature"}
        # points are drawn one by one (no clusters): the style function can then hide a layer
        # switched off, which it cannot do to cluster icons
        component.cluster = False
        component.zoomToBoundsOnClick = False
        if item["boundary"]:
            component.interactive = False
            component.hideout = hideouts.hideout(**item["hideout"], interactive=False)
        children.append(component)
    return dl.Map(
        # bounds fit London to the frame (phone or desktop); dash-leaflet also needs a centre
        id="theme-map", bounds=LONDON_BOUNDS, center=LONDON_CENTRE, className="map theme-map__map", zoomControl=True,
        scrollWheelZoom=False, style={"height": "100%", "width": "100%"},
        children=[
            dl.LayerGroup(id="theme-basemap", children=tile_layer(BASEMAP)),
            dl.GeoJSON(id="theme-context-region", url="/geo/london-region/gpkg.pbf", format="geobuf",
                       style=CONTEXT_STYLE, hideout=hideouts.context("region"), interactive=False),
            dl.LayerGroup(id="theme-data-layers", children=children),
            dl.GeoJSON(id="theme-context-thames", url="/geo/thames/geojson.pbf", format="geobuf",
                       style=CONTEXT_STYLE, hideout=hideouts.context("thames"), interactive=False),
            dl.ScaleControl(position="bottomleft", imperial=False),
        ],
    )


def layer_item(item: dict) -> html.Li:
    entry = item.get("entry")
    source = None
    if entry is not None:
        source = html.P(className="theme-layer__source", children=[
            entry.publisher or "Publisher not stated", " · ", entry.licence or "licence not stated", " · ",
            dcc.Link(["about this data", html.Span(f": {entry.title}", className="visually-hidden")],
                     href=f"/dataset/{entry.id}"),
        ])
    if item.get("error"):
        return html.Li(className="theme-layer theme-layer--error", children=[
            html.P(item["label"], className="theme-layer__name"),
            notice(f"This layer cannot be shown: {item['error']}", "warning"),
            source,
        ])
    info = item["info"]
    return html.Li(className="theme-layer", children=[
        dcc.Checklist(id={"type": "theme-layer-visible", "index": item["uid"]},
                      options=[{"label": item["label"], "value": "on"}],
                      value=[] if item["hidden"] else ["on"], className="theme-layer__toggle",
                      inputClassName="theme-layer__checkbox", labelClassName="theme-layer__label"),
        html.Div(legend(item["style"], None, f"Values in {item['unit']}" if item.get("unit") else None, info.kind),
                 className="legend theme-layer__legend"),
        source,
    ])


def theme_map_search(theme) -> str:
    """The theme's map as a map-explorer link's query: the same layers, classes and palettes (the
    explorer draws the first layer of its panel on top, so the theme's list is turned over)."""
    from explorer.maps.layers import LayerSpec, MapState

    specs = [LayerSpec(**params) for params in reversed(theme.layer_params())]
    return MapState(layers=specs, basemap=BASEMAP).to_search()


def map_exports(theme) -> html.Div:
    """The theme's map as an image (PNG, SVG, PDF, with its legend and sources inside) or opened
    in the map explorer."""
    search = theme_map_search(theme)
    return html.Div(className="export-menu theme-map__export", role="group",
                    **{"aria-label": f"Export the map: {theme.title}"}, children=[
        html.Span("Export", className="export-menu__label"),
        html.Div(className="export-menu__row", children=[
            *[html.A(f"Map {fmt.upper()}", href=map_image_href(search, fmt), download="",
                     className="button button--small export-menu__link",
                     title=f"This map with its legend and sources, as {fmt.upper()}") for fmt in ("png", "svg", "pdf")],
            dcc.Link("Open in the map explorer", href="/map" + search, className="export-menu__link"),
        ]),
    ])


def map_section(theme, layers: list[dict]) -> html.Section:
    return html.Section(className="theme-map", **{"aria-labelledby": "theme-map-title"}, children=[
        html.H2("Map", id="theme-map-title", className="theme-section-title"),
        html.Div(className="theme-map__grid", children=[
            html.Div(className="theme-map__main", children=[
                html.Div(className="map-frame theme-map__frame", role="region",
                         **{"aria-label": f"Map: {theme.title}"}, children=theme_map(layers)),
                html.P("Click an area to highlight it in every chart and see its figures; with a keyboard, "
                       "use the borough picker above.", className="theme-map__hint"),
                map_exports(theme),
            ]),
            html.Div(className="theme-map__side", children=[
                # not a live region: the toolbar's one-line status announces a change
                html.Div(id="theme-place", className="theme-place", children=place_panel({}, [])),
                html.H3("Layers", className="theme-layers__title"),
                html.Ul([layer_item(item) for item in layers], className="theme-layers"),
            ]),
        ]),
    ])


# ------------------------------------------------------------------------------- charts
AXIS_TITLE_WIDTH = 44      # characters of a horizontal axis title on one line (fits a phone)


def _wrap_title(text: str, width: int = AXIS_TITLE_WIDTH) -> str:
    if not text or len(text) <= width or "<br>" in text:
        return text
    cut = text.rfind(" (", 0, width + 1)
    if cut <= 0:
        cut = text.rfind(" ", 0, width + 1)
    return text if cut <= 0 else text[:cut] + "<br>" + text[cut + 1:]


def page_figure(figure):
    """The figure as a page draws it: SVG traces only, and horizontal axis titles that fit a phone.

    Large scatters come from the chart builders as WebGL (``scattergl``); a browser without WebGL
    (no GPU, locked down, some phones) would show nothing but an error in their place, so the page
    draws them as SVG, which a few thousand points do not strain. A long x-axis title (plotly does
    not wrap them) breaks onto a second line instead of running off a phone's screen."""
    long_titles = [k for k in figure.layout if k.startswith("xaxis") and figure.layout[k].title.text
                   and _wrap_title(figure.layout[k].title.text) != figure.layout[k].title.text]
    if not long_titles and not any(getattr(t, "type", None) == "scattergl" for t in figure.data):
        return figure
    traces = []
    for trace in figure.data:
        if trace.type == "scattergl":
            props = trace.to_plotly_json()
            props.pop("type", None)
            trace = go.Scatter(**props)
        traces.append(trace)
    out = go.Figure(data=traces, layout=figure.layout)
    for key in long_titles:
        out.layout[key].title.text = _wrap_title(out.layout[key].title.text)
    return out


def chart_section(theme, cv: ChartView) -> html.Section:
    spec, result = cv.spec, cv.result
    cid = spec.id
    title_id, summary_id = f"chart-title-{cid}", f"chart-summary-{cid}"
    closed = [e for e in cv.entries.values() if e is not None and e.access_level != "open"]
    if result.error and closed:   # not drawn on purpose: a public page shows open data only
        links: list = []
        for i, entry in enumerate(closed):
            links += ([", "] if i else []) + [dcc.Link(entry.title or entry.id, href=f"/dataset/{entry.id}")]
        body = [notice(["This chart is not shown: its data is not open (",
                        ", ".join(sorted({e.access_level for e in closed})), "). Themed pages show open "
                        "data only; see ", *links, " to request access."], "info", role="status")]
    if result.error and not closed:
        body = [notice(f"This chart could not be drawn: {result.error}", "error", role="status")]
    if result.error:
        actions = html.Div(className="theme-chart__actions", children=[
            html.Div(className="chart-tools", id={"type": "chart-tools", "index": cid},
                     **{"data-theme": theme.slug, "data-chart": cid}),
        ])
        table = None
    else:
        height = result.figure.layout.height or 450
        body = [
            # a figure (not an image): plotly's tool bar inside it has buttons keyboards reach
            # the figure keeps the chart's box before plotly (loaded lazily) has drawn it, so the
            # page does not grow under a reader (or a permalink's scroll) as the charts come in
            html.Div(role="figure", className="theme-chart__figure", style={"minHeight": f"{int(height)}px"},
                     **{"aria-labelledby": title_id, "aria-describedby": summary_id}, children=[
                dcc.Graph(id={"type": "theme-chart", "index": cid}, figure=page_figure(result.figure),
                          config=GRAPH_CONFIG, style={"height": f"{int(height)}px"},
                          className="theme-chart__graph"),
            ]),
            html.P(result.summary, id=summary_id, className="visually-hidden"),
        ]
        actions = html.Div(className="theme-chart__actions", children=[
            html.Button(SHOW_DATA, id={"type": "theme-table-toggle", "index": cid},
                        className="button button--small theme-chart__toggle",
                        **{"aria-expanded": "false", "aria-controls": dom_id("theme-table", cid),
                           "aria-describedby": title_id}),
            # the export links (images at a size preset, the data as a zip, a copy-link button)
            html.Div(className="chart-tools", id={"type": "chart-tools", "index": cid},
                     **{"data-theme": theme.slug, "data-chart": cid}, children=chart_tools(theme.slug, cid)),
        ])
        table = html.Div(id={"type": "theme-table", "index": cid}, hidden=True, className="theme-chart__table")
    return html.Section(className="theme-chart", id=f"chart-{cid}", **{"aria-labelledby": title_id}, children=[
        html.H2(spec.title, id=title_id, className="theme-chart__title"),
        html.P(spec.subtitle, className="theme-chart__subtitle") if spec.subtitle else None,
        html.Div(className="theme-chart__body", children=[
            html.Div(className="theme-chart__main", children=[*body, reader_note(cv), source_card(cv), actions,
                                                              table]),
        ]),
    ])


def _fmt_cell(value, decimals: int = 2) -> tuple[str, bool]:
    """(text, is_number) for a table cell."""
    if value is None:
        return "", False
    try:
        if isinstance(value, float) and math.isnan(value):
            return "", True
    except TypeError:
        pass
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(getattr(value, "dtype", ""))):
        return f"{int(value):,}".replace("-", "−"), True
    if isinstance(value, float) or "float" in type(value).__name__:
        v = float(value)
        if math.isnan(v):
            return "", True
        text = f"{v:,.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{v:,.0f}"
        return text.replace("-", "−"), True
    text = str(value)
    return ("" if text in ("<NA>", "nan", "NaT") else text), False


def data_table(spec, result, max_rows: int = 1000) -> html.Div:
    """The chart's data as an HTML table (a scrollable region keyboard users can reach)."""
    table = result.data
    labels = result.labels or {}
    columns = [c for c in table.columns if c in labels] or list(table.columns)
    shown = table.head(max_rows)
    decimals = int(spec.get("decimals", 2)) if spec.get("decimals") is not None else 2
    rows = []
    for record in shown[columns].itertuples(index=False):
        cells = []
        for i, value in enumerate(record):
            text, numeric = _fmt_cell(value, decimals)
            if i == 0:
                cells.append(html.Th(text, scope="row", className="num" if numeric else None))
            else:
                cells.append(html.Td(text, className="num" if numeric else None))
        rows.append(html.Tr(cells))
    count = f"{len(table):,} row{'s' if len(table) != 1 else ''}"
    if len(table) > max_rows:
        count = f"the first {max_rows:,} of {len(table):,} rows"
    return html.Div(className="theme-table", children=[
        html.P(["In words: ", result.summary], className="theme-table__summary"),
        html.Div(className="table-scroll table-scroll--tall", tabIndex="0", role="region",
                 **{"aria-label": f"Data table: {spec.title}"}, children=[
            html.Table(className="table table--data theme-table__table", children=[
                html.Caption(f"The data behind the chart: {count}"),
                html.Thead(html.Tr([html.Th(labels.get(c, str(c)), scope="col") for c in columns])),
                html.Tbody(rows),
            ]),
        ]),
    ])


# ------------------------------------------------------------------------------- source card
def _stale_text(entry: Entry):
    stale = entry.staleness()
    frequency = FREQUENCY_LABELS.get(entry.update_frequency or "", entry.update_frequency) or "not stated"
    if not stale:
        return frequency
    return html.Span([frequency, " ", badge("Stale", "warning"),
                      f" last updated {stale['days_old']:,} days ago; expected every {stale['expected_days']:,} days"],
                     className="theme-source__stale")


def _licence(entry: Entry):
    if not entry.licence:
        return "not stated"
    if entry.licence_url:
        return html.A(entry.licence, href=entry.licence_url, target="_blank", rel="noopener noreferrer")
    return entry.licence


def _retrieved(provenance: dict | None) -> str | None:
    if not provenance:
        return None
    when = str(provenance.get("retrieved_at") or "")[:10]
    origin = ORIGIN_LABELS.get(provenance.get("origin"), provenance.get("origin") or "")
    if provenance.get("origin") == "local":
        return f"{when} (the file's date, {origin})" if when else origin
    return f"{when} ({origin})" if when else origin


def source_block(src: dict, entry: Entry | None, many: bool) -> html.Div:
    dataset_id = src["dataset_id"]
    if entry is None:
        return html.Div(className="theme-source__item", children=[
            html.H4(dataset_id, className="theme-source__dataset"),
            html.P("This dataset is not in the registry.", className="theme-source__error"),
        ])
    provenance = src.get("provenance")
    geography = src.get("geography")
    rows: list[tuple[str, object]] = [
        ("Publisher", entry.publisher or "not stated"),
        ("Licence", _licence(entry)),
        ("Attribution", entry.attribution or (provenance or {}).get("attribution") or "not stated"),
        ("Last updated", entry.updated or "not stated"),
        ("Retrieved", _retrieved(provenance) or "not loaded"),
        ("Updates", _stale_text(entry)),
        ("Geography", geography_label(entry.smallest_geography) or "not stated"),
    ]
    if geography:
        total = (geography.get("matched") or 0) + (geography.get("unmatched") or 0)
        rows.append(("Boundaries", f"{geography_label(geography.get('level'))} {geography.get('year')} "
                                   f"({geography.get('code_scheme')} codes)"))
        rows.append(("Join", f"{geography.get('matched', 0):,} of {total:,} rows matched "
                             f"({(geography.get('match_rate') or 0):.1%})"))
    elif src.get("join_error"):
        # the loader's reason is written for whoever maintains the data: its first clause says enough
        reason = str(src["join_error"]).split(";")[0].strip()
        rows.append(("Join", f"not joined to boundaries ({_short(reason, 160)})"))
    refresh = refresh_note(provenance)
    if refresh is not None:
        rows.append(("Refresh", refresh))
    return html.Div(className="theme-source__item", children=[
        html.H4(dcc.Link(entry.title, href=f"/dataset/{entry.id}"), className="theme-source__dataset"),
        html.P(src.get("resource_title") or src.get("resource_id") or "", className="theme-source__resource")
        if many and (src.get("resource_title") or src.get("resource_id")) else None,
        definition_list(rows, "facts theme-source__facts"),
        html.P(f"Could not be loaded: {src['error']}", className="theme-source__error") if src.get("error") else None,
    ])


def source_card(cv: ChartView) -> html.Details:
    """The chart's sources folded into one line ("Source: GLA · OGL v3 · updated 3 Mar 2024") that
    opens the full card: publisher, licence, dates, the join, and notes about the source. Caveats a
    reader must know are shown under the chart (reader_note); notes on handling the file are on
    the dataset page."""
    spec, result = cv.spec, cv.result
    by_dataset, lookups = _sources_by_dataset(cv)
    notes = _caveats(cv, by_dataset)[caveat_kinds.SOURCE]
    blocks = [source_block(src, cv.entries.get(ds), len(by_dataset) > 1) for ds, src in by_dataset.items()]
    lookup_links = []
    for src in lookups:
        entry = cv.entries.get(src["dataset_id"])
        if entry is not None:
            lookup_links.append(dcc.Link(entry.title, href=f"/dataset/{entry.id}"))
    lines = []
    for ds in by_dataset:
        entry = cv.entries.get(ds)
        lines.append(ds if entry is None else source_line(entry.publisher, entry.licence, entry.updated))
    return html.Details(className="source-card theme-source", **{"aria-label": f"Sources of the chart: {spec.title}"},
                        children=[
        html.Summary(className="theme-source__line", children=[
            html.Span("Source: ", className="theme-source__lead"), "; ".join(dict.fromkeys(lines)),
            html.Span(" (details)", className="theme-source__more"),
        ]),
        html.H3("Where these numbers come from" if len(by_dataset) == 1 else "Where these numbers come from "
                f"({len(by_dataset)} datasets)", className="source-card__title"),
        *blocks,
        html.P(["Names and borough codes from ", *_join(lookup_links), "."], className="theme-source__lookup")
        if lookup_links else None,
        html.Div(className="source-card__caveats", children=[
            html.H4("About the source"),
            html.Ul([html.Li(c) for c in notes]),
        ]) if notes else None,
        html.P("Notes on reading the files themselves are on each dataset's page.", className="theme-source__lookup"),
    ])


def _sources_by_dataset(cv: ChartView) -> tuple[dict[str, dict], list[dict]]:
    """The chart's data sources, one per dataset (several resources share publisher, licence,
    dates), and its look-up tables."""
    spec, result = cv.spec, cv.result
    sources = [s for s in result.sources if s.get("role", "data") == "data"]
    lookups = [s for s in result.sources if s.get("role", "data") != "data"]
    if not sources:   # nothing loaded (the chart failed first): name what it would have read
        seen = set()
        for ds, res in spec.inputs():
            if ds not in seen:
                seen.add(ds)
                sources.append({"dataset_id": ds, "resource_id": res, "role": "data", "provenance": None,
                                "geography": None})
    by_dataset: dict[str, dict] = {}
    for src in sources:
        first = by_dataset.setdefault(src["dataset_id"], dict(src))
        if first is not src and src.get("error") and not first.get("error"):
            first["error"] = src["error"]
    return by_dataset, lookups


def _caveats(cv: ChartView, by_dataset: dict) -> dict[str, list[str]]:
    """The chart's caveats (the theme file's note first, then each dataset's), by kind."""
    caveats: list[str] = [cv.spec.caveat_note] if cv.spec.caveat_note else []
    for ds in by_dataset:
        entry = cv.entries.get(ds)
        caveats.extend(entry.caveats if entry is not None else [])
    found = caveat_kinds.split(caveats)
    if cv.spec.caveat_note and cv.spec.caveat_note not in found[caveat_kinds.READER]:
        # the theme file's own note is written for this chart's readers
        for notes in found.values():
            if cv.spec.caveat_note in notes:
                notes.remove(cv.spec.caveat_note)
        found[caveat_kinds.READER].insert(0, cv.spec.caveat_note)
    return found


def reader_note(cv: ChartView) -> html.P | None:
    """What a reader must know to read the chart right, in view under it."""
    by_dataset, _ = _sources_by_dataset(cv)
    notes = _caveats(cv, by_dataset)[caveat_kinds.READER]
    if not notes:
        return None
    return html.P(className="theme-chart__note", children=[html.Strong("Read with care: "), " ".join(notes)])


def _join(items: list) -> list:
    out: list = []
    for i, item in enumerate(items):
        if i:
            out.append(" and " if i == len(items) - 1 else ", ")
        out.append(item)
    return out


# ------------------------------------------------------------------------------- selection
def _fmt_value(value, unit: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no data"
    if isinstance(value, (int, float)):
        v = float(value)
        text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.3g}" if abs(v) < 10 else f"{v:,.1f}"
        text = text.replace("-", "−")
        if unit == "£":
            return "£" + text
        return f"{text} {unit}" if unit else text
    return str(value)


def place_panel(selection: dict, figures: list[dict]) -> list:
    codes = selection.get("codes") or []
    if not codes:
        note = selection.get("note")
        return [
            html.H3("Selected place", className="theme-place__title"),
            html.P(note or "Nothing selected yet. Click an area on the map, click or box-select in a chart, "
                   "or choose a borough above.", className="theme-place__empty"),
        ]
    out = [html.H3(["Selected: ", html.Span(selection.get("label") or codes[0], className="theme-place__name")],
                   className="theme-place__title")]
    at = selection.get("at") or []
    if at:
        out.append(html.H4("On the map", className="theme-place__subtitle"))
        out.append(html.Ul(className="theme-place__list", children=[
            html.Li([html.Span(f"{item['layer']}: ", className="theme-place__key"),
                     html.Strong(_fmt_value(item.get("value"), item.get("unit"))),
                     f" ({item['name']})" if item.get("name") else ""]) for item in at
        ]))
    if len(codes) > 50:
        out.append(html.P(f"{len(codes):,} places are highlighted in the charts and on the map."))
    elif figures:
        out.append(html.H4("In the charts", className="theme-place__subtitle"))
        out.append(html.Ul(className="theme-place__list", children=[
            html.Li([html.A(_short(f["title"]), href=f"#chart-{f['chart']}", className="theme-place__chart"),
                     html.Ul([html.Li(r) for r in f["rows"]])]) for f in figures
        ]))
    elif not at:
        out.append(html.P("None of this page's charts has a figure for this place on its own; "
                          "charts by borough or small area show it highlighted.", className="theme-place__empty"))
    return out


def status_text(selection: dict) -> str:
    codes = (selection or {}).get("codes") or []
    if not codes:
        return "Nothing highlighted"
    return f"Highlighted: {selection.get('label') or codes[0]}"


def _short(text: str, n: int = 90) -> str:
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"
