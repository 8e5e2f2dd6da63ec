"""The home page: what the registry is, a search box, themes and counts."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import dcc, html

from explorer.registry import Registry

THEME_LABELS = {
    "air-quality": "Air quality", "green-infrastructure": "Green infrastructure",
    "boundaries": "Boundaries", "deprivation": "Deprivation", "crime": "Community safety",
    "housing": "Housing", "income": "Income", "population": "Population", "transport": "Transport",
    "net-zero": "Net zero", "environment": "Environment", "points-of-interest": "Points of interest",
}


def theme_label(slug: str) -> str:
    return THEME_LABELS.get(slug, slug.replace("-", " ").capitalize())


def search_form(query: str = "", autofocus: bool = False, compact: bool = False) -> html.Form:
    return html.Form(action="/catalogue", method="GET", role="search",
                     className="search-form" + (" search-form--compact" if compact else ""), children=[
        html.Label("Search London's data", htmlFor="catalogue-q", className="visually-hidden"),
        dcc.Input(id="catalogue-q", name="q", type="search", value=query, autoFocus=autofocus,
                  placeholder="Ask or search, e.g. house prices by borough, air pollution",
                  className="search-form__input", debounce=True),
        html.Button("Search", type="submit", className="button button--primary"),
    ])


def home(registry: Registry, data_dir_note: str | None = None) -> html.Div:
    totals = registry.facet_totals()
    themes = totals.get("theme", [])
    publishers = totals.get("publisher", [])
    return html.Div(className="home", children=[
        html.Section(className="hero", children=[
            html.H1("Find, map and understand London's data"),
            html.P("A registry of datasets held by the GLA, boroughs, ONS, TfL and many others: "
                   "search it, put it on a map, and see beside every number who published it, under "
                   "which licence, when, and what was done to it.", className="lede"),
            search_form(),
            html.P([f"{registry.count():,} datasets from {len(publishers):,} publishers, gathered from ",
                    dcc.Link("these catalogues", href="/sources"), "."], className="hero__count"),
            html.P(data_dir_note, className="hero__note") if data_dir_note else None,
        ]),
        html.Section(className="section", children=[
            html.H2("Browse by theme"),
            html.Ul(className="theme-grid", children=[
                html.Li(dcc.Link(href="/catalogue?" + urlencode({"theme": slug}), className="theme-tile", children=[
                    html.Span(theme_label(slug), className="theme-tile__name"),
                    html.Span(f"{n} dataset{'s' if n != 1 else ''}", className="theme-tile__count"),
                ])) for slug, n in themes
            ]),
        ]),
        html.Section(className="section", children=[
            html.H2("Publishers"),
            html.Ul(className="chip-list", children=[
                html.Li(dcc.Link(f"{name} ({n})", href="/catalogue?" + urlencode({"publisher": name}),
                                 className="chip")) for name, n in publishers[:20]
            ]),
        ]),
    ])
