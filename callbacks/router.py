"""Routing: the URL (path and query) decides the page. Paths are part of the product.

``ROUTES`` is the route table, read in one place (:func:`render_page`): each row is a path pattern
(``<name>`` stands for one or more characters, slashes included, handed to the page function by
name) and the page function that draws it. A page function takes ``(services, visit, **parts)`` and
returns ``(page, title)``, or None when nothing lives there after all (an unknown theme): then,
as for a path no row matches, the 404 page is drawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import unquote

from dash import ClientsideFunction, Input, Output, State, no_update

from explorer.catalogue.registry import FACETS
from explorer.guards.request_limits import facet_filters, parse_query
from layouts import catalogue as catalogue_layout
from layouts import errors, home, themes

MAP_TITLE = "Map – London Data Explorer"
SITE = "London Data Explorer"


def parse_search(search: str | None) -> dict[str, list[str]]:
    """The address's query, repeats dropped; over the limits of explorer/guards/request_limits.py it
    raises QueryRefused (a 400 for the callback; the browser's own request was refused the same)."""
    if not isinstance(search, (str, type(None))):
        raise TypeError("url.search must be a string")
    return parse_query(search, keep_blank_values=False)


def _first(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None


def page_address(pathname: str | None, search: str | None) -> str:
    """The key of a rendered page: its path and query, as the browser's location gives them."""
    search = search or ""
    return (pathname or "/") + (search if not search or search.startswith("?") else "?" + search)


@dataclass(frozen=True)
class Visit:
    """One address being drawn: its path (unquoted, no trailing slash), its query as sent and
    parsed once."""
    path: str
    search: str | None
    params: dict[str, list[str]]

    def first(self, key: str) -> str | None:
        return _first(self.params, key)


Page = Callable[..., "tuple | None"]


@dataclass(frozen=True)
class Route:
    """One row of the route table: a path pattern and the page function that draws it."""
    pattern: str              # "/dataset/<dataset_id>"
    page: Page
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        parts = re.split(r"<([a-z_]+)>", self.pattern)
        body = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+)" for i, p in enumerate(parts))
        object.__setattr__(self, "regex", re.compile(body + r"\Z"))


# The pages ---------------------------------------------------------------------------------------------
def home_page(services, visit: Visit):
    """The search box, each theme file's dashboard with its first headline figure and its small
    map (computed once, kept on the app), the registry's latest datasets, its themes and publishers."""
    from explorer.themes.page_data import dashboards
    from explorer.themes.thumbnails import theme_thumbnail

    registry = services.registry
    recent = [hit.entry for hit in registry.search("", limit=5, sort="updated").hits]
    tiles = dashboards(services, 1)
    maps = {theme.slug: theme_thumbnail(services, theme) for theme, _ in tiles}
    return home.home(registry.count(), registry.facet_totals(), tiles, recent, maps), SITE


def catalogue_page(services, visit: Visit):
    query = (visit.first("q") or "").strip()[:200]
    # each facet link names every active filter: a bounded number of them
    filters, _left_out = facet_filters(visit.params, FACETS)
    try:
        page = min(max(1, int((visit.first("page") or "1")[:12])), 100_000)
    except ValueError:
        page = 1
    size = catalogue_layout.PAGE_SIZE
    sort = "updated" if visit.first("sort") == "updated" else "relevance"
    results = services.registry.search(query, filters, limit=size, offset=(page - 1) * size, sort=sort)
    title = f"{query} – Catalogue" if query else "Catalogue"
    return catalogue_layout.catalogue_page(results, page), f"{title} – {SITE}"


def sources_page(services, visit: Visit):
    from explorer.catalogue.sources import describe
    from layouts.sources import sources_page as page

    return page(describe(services.registry, services.settings), services.registry.count()), f"Sources – {SITE}"


def dataset_page(services, visit: Visit, dataset_id: str):
    registry = services.registry
    entry = registry.get(dataset_id) if "/" not in dataset_id else None
    if entry is None:
        return errors.not_found(f"There is no dataset “{dataset_id}” in the registry."), "Not found"
    if visit.first("embed") == "1":   # the chart builder's chart alone, for other pages
        from .chart_builder import embedded_page

        return embedded_page(services, dataset_id, visit.search), f"{entry.title} – {SITE}"
    from .dataset import served_dataset_page

    # an open entry's page is the same for everyone: kept as JSON text while nothing changes
    return served_dataset_page(services, entry), f"{entry.title} – {SITE}"


def map_page(services, visit: Visit):
    from .map_explorer import served_explorer_page

    # the same address is the same page for everyone: kept as JSON text while nothing changes
    return served_explorer_page(services, visit.search), MAP_TITLE


def themes_index(services, visit: Visit):
    from .themes import index_page

    return index_page(services), f"Themes – {SITE}"


def theme_page(services, visit: Visit, slug: str):
    if visit.first("embed") == "1" and visit.first("chart"):
        from .themes import embedded_page     # one chart, no chrome, for other pages

        return embedded_page(services, slug, visit.first("chart")), SITE
    from .theme_page_cache import served_theme_fragment

    # a theme file's dashboard, built once and then read from the app's cache, as JSON text
    dashboard = served_theme_fragment(services, slug, visit.first("chart"))
    if dashboard is not None:
        return dashboard
    # else the registry's datasets on that theme, if it has any
    results = services.registry.search("", {"theme": [slug]}, limit=100)
    return (themes.theme_page(slug, results), f"Themes – {SITE}") if results.total else None


ROUTES: tuple[Route, ...] = (
    Route("/", home_page),
    Route("/catalogue", catalogue_page),
    Route("/sources", sources_page),
    Route("/dataset/<dataset_id>", dataset_page),
    Route("/map", map_page),
    Route("/themes", themes_index),
    Route("/themes/<slug>", theme_page),
)


def not_found_page(path: str):
    return errors.not_found(f"Nothing lives at {path}."), f"Not found – {SITE}"


def render_page(services, pathname: str | None, search: str | None, routes=ROUTES,
                params: dict[str, list[str]] | None = None):
    """(page, title) of an address: the first row of the route table whose pattern matches the
    path draws it; the 404 page when none does, or when the page function finds nothing there.
    ``params`` is ``search`` already parsed, when the caller has read it (the index page's
    PageRequest, explorer/web/index_page.py), so it is read once."""
    path = unquote(pathname or "/").rstrip("/") or "/"
    visit = Visit(path=path, search=search, params=parse_search(search) if params is None else params)
    for route in routes:
        match = route.regex.match(path)
        if match:
            drawn = route.page(services, visit, **match.groupdict())
            return drawn if drawn is not None else not_found_page(path)
    return not_found_page(path)


def register(app, services) -> None:
    @app.callback(
        Output("page-content", "children"),
        Output("page-title", "data"),
        Output("page-rendered", "data"),
        Input("url", "pathname"),
        Input("url", "search"),
        State("page-rendered", "data"),  # the address whose page came with the layout, if any
    )
    def route_callback(pathname: str | None, search: str | None, rendered):
        # The map keeps its state in the address, written in the browser (history.replaceState,
        # assets/map_explorer.js) without telling dcc.Location, so the router only hears of a map
        # address the person went to (a link, Back, Forward) and draws that map.
        if rendered is not None:
            # The layout holds this address's page (explorer/web/index_page.py): nothing to send. Once
            # used, the mark is cleared, so coming back to the address later renders it again.
            if rendered == page_address(pathname, search):
                return no_update, no_update, None
            return (*render_page(services, pathname, search), None)
        return (*render_page(services, pathname, search), no_update)

    # the tab's title follows the page; at phone width the filters start folded (assets/pages.js)
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="pageShown"),
        Output("page-title", "id"),
        Input("page-title", "data"),
    )
