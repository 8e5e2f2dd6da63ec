"""Pages for paths and datasets that do not exist."""

from __future__ import annotations

from dash import dcc, html


def not_found(what: str) -> html.Div:
    return html.Div(className="not-found", children=[
        html.H1("Not found"),
        html.P(what),
        html.P([dcc.Link("Search the catalogue", href="/catalogue"), " or go ", dcc.Link("home", href="/"), "."]),
    ])
