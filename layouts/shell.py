"""The frame around every page: skip link, header with navigation, page slot, footer."""

from __future__ import annotations

from dash import dcc, html

NAV = (("Catalogue", "/catalogue"), ("Map", "/map"), ("Themes", "/themes"), ("API", "/api/datasets"),
       ("Publish", "/publish"))


def header() -> html.Header:
    return html.Header(className="site-header", children=[
        html.A("Skip to content", href="#main", className="skip-link"),
        html.Div(className="site-header__inner", children=[
            dcc.Link(className="brand", href="/", children=[
                html.Span("London", className="brand__city"),
                html.Span(" Data Explorer", className="brand__name"),
            ]),
            html.Nav(className="site-nav", **{"aria-label": "Main"}, children=[
                # /api and /publish are served by Flask, not Dash pages: a full page load
                html.A(label, href=href, className="site-nav__link") if href.startswith(("/api", "/publish"))
                else dcc.Link(label, href=href, className="site-nav__link")
                for label, href in NAV
            ]),
        ]),
    ])


def footer() -> html.Footer:
    return html.Footer(className="site-footer", children=[
        html.P([
            "A registry of London data held by many publishers: we describe and link, publishers keep the data. ",
            "Every dataset page names its publisher, licence and where each file came from. ",
            html.A("Registry as DCAT (JSON-LD)", href="/catalogue.jsonld"), " · ",
            html.A("JSON API", href="/api/datasets"),
        ]),
    ])


def app_layout(page=None, title: str | None = None, rendered: str | None = None) -> html.Div:
    """The frame; ``page`` is the page already rendered for the address ``rendered`` (path and
    query), so the router need not send it again (explorer/web/index_page.py)."""
    return html.Div(className="app", children=[
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="page-title", data=title),
        dcc.Store(id="page-rendered", data=rendered),
        dcc.Store(id="embed-mode"),   # ?embed=1 hides the chrome (callbacks/export_menu.py)
        header(),
        html.Main(id="main", tabIndex="-1", className="page", children=html.Div(id="page-content", children=page)),
        footer(),
    ])
