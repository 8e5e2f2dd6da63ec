"""The chart builder panel of a dataset page: choices, the chart, its source line, exports, and
(one click away) the data and the full source card. Pure functions; callbacks/chart_builder.py
fills the choices from the data and draws the chart.

The chart and its export menu look as a theme chart does: the figure comes from
``explorer.themes.charts`` and the source card from ``layouts.theme_page``.
"""

from __future__ import annotations

from urllib.parse import quote

from dash import dcc, html

from explorer.export.sizes import FORMATS

from .components import notice
from .export_menu import DEFAULT, PRESET_OPTIONS, _copy, _image_link

RANKS = [{"label": "All", "value": "all"}, {"label": "Top", "value": "top"}, {"label": "Bottom", "value": "bottom"}]


def image_href(dataset_id: str, query: str, fmt: str, preset: str = DEFAULT) -> str:
    return f"/export/dataset-chart/{quote(dataset_id)}.{fmt}?" + "&".join(p for p in (query, f"preset={quote(preset)}") if p)


def data_href(dataset_id: str, query: str) -> str:
    return f"/download/dataset-chart/{quote(dataset_id)}.zip" + (f"?{query}" if query else "")


def _field(label: str, control, id_: str, kind: str = "") -> html.Div:
    return html.Div(className=f"field cb-field cb-field--{kind}" if kind else "field cb-field", children=[
        html.Label(label, htmlFor=id_, className="field__label"),
        control,
    ])


def _dropdown(id_: str, multi: bool = False, clearable: bool = False, placeholder: str | None = None,
              searchable: bool = False) -> dcc.Dropdown:
    return dcc.Dropdown(id=id_, options=[], value=[] if multi else None, multi=multi, clearable=clearable,
                        searchable=searchable or multi, placeholder=placeholder, className="dropdown cb-dropdown",
                        optionHeight=44)


def controls() -> html.Div:
    return html.Div(id="cb-controls", className="cb-controls", role="group",
                    **{"aria-label": "Chart choices"}, children=[
        html.Div(className="cb-row", children=[
            _field("Chart", _dropdown("cb-type"), "cb-type", "type"),
            _field("Measure", _dropdown("cb-y", searchable=True), "cb-y", "y"),
            _field("Bars for", _dropdown("cb-x", clearable=True, placeholder="As proposed", searchable=True),
                   "cb-x", "x"),
            _field("One line or bar per", _dropdown("cb-group", clearable=True, placeholder="As proposed",
                                                    searchable=True), "cb-group", "group"),
        ]),
        html.Div(className="cb-row", children=[
            _field("Places", _dropdown("cb-areas", multi=True, clearable=True, placeholder="All, as proposed"),
                   "cb-areas", "areas"),
            _field("From", _dropdown("cb-from", clearable=True, placeholder="First year"), "cb-from", "years"),
            _field("To", _dropdown("cb-to", clearable=True, placeholder="Last year"), "cb-to", "years"),
        ]),
        html.Div(className="cb-row", children=[
            _field("Only rows where", _dropdown("cb-filter-col", clearable=True, placeholder="No filter",
                                                searchable=True), "cb-filter-col", "filter"),
            _field("is", _dropdown("cb-filter-values", multi=True, clearable=True, placeholder="Any value"),
                   "cb-filter-values", "filter"),
        ]),
        html.Div(className="cb-row", children=[
            _field("Order", _dropdown("cb-sort"), "cb-sort", "sort"),
            _field("Show", _dropdown("cb-rank"), "cb-rank", "rank"),
            _field("How many", dcc.Input(id="cb-n", type="number", min=1, max=500, step=1, debounce=True,
                                         className="input cb-n", placeholder="20"), "cb-n", "rank"),
            _field("Combine rows by", _dropdown("cb-agg"), "cb-agg", "agg"),
        ]),
    ])


def export_tools(dataset_id: str) -> html.Div:
    links = [_image_link({"type": "cb-export-image", "fmt": fmt}, fmt, image_href(dataset_id, "", fmt), "this chart")
             for fmt in FORMATS]
    data = html.A("Data (.zip)", id="cb-export-data", href=data_href(dataset_id, ""), download="",
                  className="button button--small export-menu__link", title="The chart's data as CSV, with provenance")
    return html.Div(className="export-menu", role="group", **{"aria-label": "Export this chart"}, children=[
        html.Span("Export this chart", className="export-menu__label"),
        html.Div(className="export-menu__row", children=[
            html.Label("Size", htmlFor="cb-preset", className="export-menu__size-label"),
            dcc.Dropdown(id="cb-preset", options=PRESET_OPTIONS, value=DEFAULT, clearable=False, searchable=False,
                         className="dropdown export-menu__preset"),
            *links, data, _copy("cb-copy", "this chart"),
        ]),
    ])


def panel(dataset_id: str) -> html.Section:
    """The builder, empty: its callback fills the choices and draws the first chart."""
    return html.Section(id="chart-builder", className="section chart-builder",
                        **{"aria-labelledby": "cb-heading"}, children=[
        dcc.Store(id="cb-target", data={"dataset": dataset_id, "query": "", "permalink": f"/dataset/{quote(dataset_id)}"}),
        dcc.Store(id="cb-extra-filters", data=[]),
        html.H2("Chart", id="cb-heading"),
        html.P("A chart of this dataset for a report: choose what to show; the address of the page keeps "
               "every choice, and the exported image carries its source.", className="muted cb-intro"),
        controls(),
        html.Div(id="cb-message", className="cb-message", **{"aria-live": "polite"}),
        dcc.Loading(type="dot", children=html.Div(id="cb-chart", className="cb-chart theme-chart", children=[
            html.H3("", id="cb-title", className="theme-chart__title cb-title"),
            html.P("", id="cb-subtitle", className="theme-chart__subtitle"),
            html.Div(role="figure", className="theme-chart__figure",
                     **{"aria-labelledby": "cb-title", "aria-describedby": "cb-summary"}, children=[
                dcc.Graph(id="cb-graph", figure={"data": [], "layout": {"height": 60}},
                          config={"displaylogo": False, "responsive": True, "scrollZoom": False,
                                  "modeBarButtonsToRemove": ["toImage", "autoScale2d", "sendDataToCloud"]},
                          className="theme-chart__graph cb-graph", style={"height": "420px"}),
            ]),
            html.P("", id="cb-summary", className="visually-hidden"),
            html.Div(id="cb-source", className="cb-source"),
        ])),
        export_tools(dataset_id),
        html.Details(className="cb-details", children=[
            html.Summary("Show the data behind this chart"),
            html.Div(id="cb-details"),
        ]),
    ])


def message(text: str | None, kind: str = "warning"):
    return notice(text, kind, role="status") if text else None


def embedded(dataset_id: str, built, link: str) -> html.Div:
    """``/dataset/<id>?…&embed=1``: the chart alone, its title and source inside the figure."""
    result = built.result
    children = []
    if built.error:
        children.append(notice(f"This chart could not be drawn: {built.error}", "error"))
    else:
        children.append(html.Figure(role="img", **{"aria-label": result.summary}, className="embed__figure", children=[
            dcc.Graph(figure=result.figure, config={"displaylogo": False, "responsive": True},
                      className="embed__chart",
                      style={"height": f"{int(result.figure.layout.height or 450)}px"}),
        ]))
        children.append(html.P(result.summary, className="embed__summary visually-hidden"))
    children.append(html.P(className="embed__link", children=[
        html.A("Open in the London Data Explorer", href=link, target="_blank", rel="noopener"),
    ]))
    return html.Div(className="embed", children=children)
