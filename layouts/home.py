"""The home page: a search box that takes a question, the themed dashboards, what is new, themes and counts."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import dcc, html

from explorer.labels.sources import readable_date
from explorer.labels.themes import theme_label

from .map_thumbnail import map_thumbnail
from .theme_page import theme_card

def search_form(query: str = "", autofocus: bool = False, compact: bool = False) -> html.Form:
    return html.Form(action="/catalogue", method="GET", role="search",
                     className="search-form" + (" search-form--compact" if compact else ""), children=[
        html.Label("Search London's data", htmlFor="catalogue-q", className="visually-hidden"),
        dcc.Input(id="catalogue-q", name="q", type="search", value=query, autoFocus=autofocus,
                  placeholder="Ask or search, e.g. house prices",
                  className="search-form__input", debounce=True),
        html.Button("Search", type="submit", className="button button--primary"),
    ])


def home(count: int, totals: dict, dashboards: list | None = None, recent: list | None = None,
         maps: dict | None = None) -> html.Div:
    """The first page: a search box that takes a question, the themed dashboards with a headline
    figure each, what is new in the registry, then every theme and publisher. ``count`` is the
    registry's number of datasets, ``totals`` its facet totals ({facet: [(value, n), …]}),
    ``dashboards`` [(theme, [headline figure, …])], ``recent`` the entries updated last, ``maps``
    each theme's small map by slug (explorer/maps/thumbnail.py; a theme without one has none); the
    router reads them (callbacks/router.py)."""
    maps = maps or {}
    themes = totals.get("theme", [])
    publishers = totals.get("publisher", [])
    return html.Div(className="home", children=[
        html.Section(className="hero", children=[
            html.H1("Find, map and understand London's data"),
            html.P("Search the city's data, put it on a map, and see beside every number who published "
                   "it, under which licence and when.", className="lede"),
            search_form(),
            html.P([f"{count:,} datasets from {len(publishers):,} publishers, gathered from ",
                    dcc.Link("these catalogues", href="/sources"), "."], className="hero__count"),
        ]),
        html.Section(className="section", **{"aria-labelledby": "home-dashboards"}, children=[
            html.H2("London in numbers", id="home-dashboards"),
            html.Ul([theme_card(theme, figures[:1], map_thumbnail(maps.get(theme.slug)))
                     for theme, figures in dashboards],
                    className="theme-cards theme-cards--dashboards home__dashboards"),
            html.P(dcc.Link("All themes →", href="/themes"), className="home__more"),
        ]) if dashboards else None,
        html.Section(className="section", **{"aria-labelledby": "home-recent"}, children=[
            html.H2("Recently updated", id="home-recent"),
            html.Ul(className="home__recent", children=[
                html.Li([dcc.Link(entry.title, href=f"/dataset/{entry.id}"),
                         html.Span([" · ", entry.publisher or "publisher not stated",
                                    f" · updated {readable_date(entry.updated)}" if entry.updated else ""],
                                   className="muted")])
                for entry in recent
            ]),
        ]) if recent else None,
        html.Section(className="section", children=[
            html.H2("All datasets by theme"),
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
