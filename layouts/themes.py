"""A registry theme's datasets, for /themes/<slug> when no theme file has that slug.

The themed dashboards (theme files in geodata/themes) are built by layouts/theme_page.py; this
page keeps the registry's own theme tags reachable (e.g. /themes/transport lists the datasets
tagged with it).
"""

from __future__ import annotations

from urllib.parse import urlencode

from dash import dcc, html

from explorer.catalogue.registry import SearchResults

from explorer.labels.themes import theme_label


def theme_page(slug: str, results: SearchResults) -> html.Div:
    """The datasets the registry tags with the theme ``slug`` (``results``: the router's search)."""
    return html.Div(className="themes", children=[
        html.P(dcc.Link("← Themes", href="/themes"), className="breadcrumb"),
        html.H1(theme_label(slug)),
        html.P(f"{results.total} dataset{'s' if results.total != 1 else ''} in the registry.", className="lede"),
        html.P(dcc.Link("Search and filter these in the catalogue",
                        href="/catalogue?" + urlencode({"theme": slug}))),
        html.Ul(className="result-list", children=[
            html.Li(className="result", children=[
                html.H2(dcc.Link(h.entry.title, href=f"/dataset/{h.entry.id}"), className="result__title"),
                html.P(h.entry.publisher, className="result__publisher"),
            ]) for h in results.hits
        ]),
    ])
