"""Routing: the URL (path and query) decides the page. Paths are part of the product."""

from __future__ import annotations

from urllib.parse import unquote

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from explorer.catalogue.registry import FACETS
from explorer.guards.request_limits import facet_filters, parse_query
from layouts import catalogue as catalogue_layout
from layouts import dataset as dataset_layout
from layouts import errors, home, themes



MAP_TITLE = "Map – London Data Explorer"


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


def register(app, services) -> None:
    registry = services.registry
    settings = services.settings

    def dashboards() -> list:
        """Each theme file's dashboard with its first headline figure (computed once, cached)."""
        from .themes import headlines_of, themes_of

        return [(theme, [h for h in headlines_of(services, theme) if h.get("error") is None][:1])
                for theme in themes_of(services).values()]

    def recent(n: int = 5) -> list:
        return [hit.entry for hit in registry.search("", limit=n, sort="updated").hits]

    def route(pathname: str | None, search: str | None, current_title):
        path = unquote(pathname or "/").rstrip("/") or "/"
        params = parse_search(search)
        # The map page keeps its own state in the query string: a change there is not a new page.
        # (dcc.Location may report the unchanged pathname with it: rendering the map again then
        # gave its layers new ids, whose controls wrote the query again, and so on, for ever.)
        # The map always writes a query; a bare /map is a person following the "Map" link.
        if path == "/map" and current_title == MAP_TITLE and ctx.triggered_id == "url" and search:
            raise PreventUpdate
        if path == "/":
            return home.home(registry, dashboards(), recent()), "London Data Explorer"
        if path == "/catalogue":
            query = (_first(params, "q") or "").strip()[:200]
            # each facet link names every active filter: a bounded number of them
            filters, _left_out = facet_filters(params, FACETS)
            try:
                page = min(max(1, int((_first(params, "page") or "1")[:12])), 100_000)
            except ValueError:
                page = 1
            size = catalogue_layout.PAGE_SIZE
            sort = "updated" if _first(params, "sort") == "updated" else "relevance"
            results = registry.search(query, filters, limit=size, offset=(page - 1) * size, sort=sort)
            title = f"{query} – Catalogue" if query else "Catalogue"
            return catalogue_layout.catalogue_page(results, page), f"{title} – London Data Explorer"
        if path == "/sources":
            from explorer.catalogue.sources import describe
            from layouts.sources import sources_page

            return sources_page(describe(registry, settings), registry.count()), "Sources – London Data Explorer"
        if path.startswith("/dataset/"):
            dataset_id = path[len("/dataset/"):]
            entry = registry.get(dataset_id) if "/" not in dataset_id else None
            if entry is None:
                return errors.not_found(f"There is no dataset “{dataset_id}” in the registry."), "Not found"
            if _first(params, "embed") == "1":   # the chart builder's chart alone, for other pages
                from .chart_builder import embedded_page

                return embedded_page(services, dataset_id, search), f"{entry.title} – London Data Explorer"
            availability = services.data.availability(dataset_id)
            return (dataset_layout.dataset_page(entry, registry.record(dataset_id), availability),
                    f"{entry.title} – London Data Explorer")
        if path.startswith("/themes/") and _first(params, "embed") == "1" and _first(params, "chart"):
            from layouts.embed import embedded_chart  # one chart, no chrome, for other pages

            return embedded_chart(services, path[len("/themes/"):], _first(params, "chart")), "London Data Explorer"
        if path == "/map":
            from .map_explorer import explorer_page

            return explorer_page(services, search), MAP_TITLE
        if path == "/themes":
            from .themes import index_page

            return index_page(services), "Themes – London Data Explorer"
        if path.startswith("/themes/"):
            from .theme_page_cache import served_theme_page

            slug = path[len("/themes/"):]
            # a theme file's dashboard, built once and then read from the app's cache
            dashboard = served_theme_page(services, slug, _first(params, "chart"))
            if dashboard is not None:
                return dashboard
            page = themes.theme_page(registry, slug)    # else the registry's datasets on that theme
            if page is not None:
                return page, "Themes – London Data Explorer"
        return errors.not_found(f"Nothing lives at {path}."), "Not found – London Data Explorer"

    @app.callback(
        Output("page-content", "children"),
        Output("page-title", "data"),
        Output("page-rendered", "data"),
        Input("url", "pathname"),
        Input("url", "search"),
        State("page-title", "data"),  # which page is showing (the page itself is too big to send)
        State("page-rendered", "data"),  # the address whose page came with the layout, if any
    )
    def route_callback(pathname: str | None, search: str | None, current_title, rendered):
        if rendered is not None:
            # The layout holds this address's page (explorer/web/prerender.py): nothing to send. Once
            # used, the mark is cleared, so coming back to the address later renders it again.
            if rendered == page_address(pathname, search):
                return no_update, no_update, None
            return (*route(pathname, search, current_title), None)
        return (*route(pathname, search, current_title), no_update)

    app.explorer_render_page = lambda pathname, search: route(pathname, search, None)

    app.clientside_callback(
        """function(title) {
            if (title) { document.title = title; }
            // At phone width the catalogue's filters start folded so results come first.
            setTimeout(function () {
                if (window.innerWidth < 860) {
                    document.querySelectorAll("details.facets-drawer, details.layer-drawer").forEach(function (d) { d.open = false; });
                }
            }, 0);
            return window.dash_clientside.no_update;
        }""",
        Output("page-title", "id"),
        Input("page-title", "data"),
    )
