"""The /themes index: the registry's themes with their datasets."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import dcc, html

from explorer.registry import Registry

from .home import theme_label


def themes_page(registry: Registry) -> html.Div:
    themes = registry.facet_totals().get("theme", [])
    cards = []
    for slug, count in themes:
        results = registry.search("", {"theme": [slug]}, limit=6)
        cards.append(html.Li(className="theme-card", children=[
            html.H2(dcc.Link(theme_label(slug), href=f"/themes/{slug}")),
            html.P(f"{count} dataset{'s' if count != 1 else ''}", className="muted"),
            html.Ul([html.Li(dcc.Link(h.entry.title, href=f"/dataset/{h.entry.id}")) for h in results.hits]),
        ]))
    return html.Div(className="themes", children=[
        html.H1("Themes"),
        html.P("Datasets grouped by what they are about.", className="lede"),
        html.Ul(cards, className="theme-cards"),
    ])


def theme_page(registry: Registry, slug: str) -> html.Div | None:
    results = registry.search("", {"theme": [slug]}, limit=100)
    if results.total == 0:
        return None
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
