"""The /map page: one registry dataset at a time on a full-width map, with its source card.

(The multi-layer explorer with layer panel, classes and palettes grows from here.)
"""

from __future__ import annotations

from dash import dcc, html

from .components import notice


def map_page(options: list[dict], dataset_id: str | None, resource_options: list[dict],
             resource_id: str | None, warning: str | None = None) -> html.Div:
    return html.Div(className="map-page", children=[
        html.H1("Map"),
        html.P("Choose a dataset from the registry: boundaries and point data are drawn as they are; "
               "tables with ONS area codes are joined to the boundaries their codes match.",
               className="lede"),
        notice(warning, "warning") if warning else None,
        html.Div(className="map-page__controls", children=[
            html.Div(className="field field--wide", children=[
                html.Label("Dataset", htmlFor="map-dataset"),
                dcc.Dropdown(id="map-dataset", options=options, value=dataset_id, clearable=False,
                             className="dropdown", placeholder="Choose a dataset"),
            ]),
            html.Div(className="field", children=[
                html.Label("File", htmlFor="map-resource"),
                dcc.Dropdown(id="map-resource", options=resource_options, value=resource_id,
                             clearable=False, searchable=False, className="dropdown"),
            ]),
        ]),
        dcc.Loading(html.Div(id="map-content", className="map-page__content"), type="dot"),
    ])
