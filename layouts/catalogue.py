"""The catalogue page: search box, facets with counts, results with badges, pages."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import dcc, html

from explorer.registry import FACETS, SearchResults

from .components import FREQUENCY_LABELS, entry_badges, geography_label, notice
from .home import search_form, theme_label

PAGE_SIZE = 20


def catalogue_url(query: str = "", filters: dict[str, list[str]] | None = None, page: int = 1) -> str:
    params: list[tuple[str, str]] = []
    if query:
        params.append(("q", query))
    for key in FACETS:
        for value in (filters or {}).get(key, []):
            params.append((key, value))
    if page > 1:
        params.append(("page", str(page)))
    return "/catalogue" + ("?" + urlencode(params) if params else "")


def _toggle(filters: dict[str, list[str]], key: str, value: str) -> dict[str, list[str]]:
    out = {k: list(v) for k, v in filters.items()}
    values = out.setdefault(key, [])
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    return {k: v for k, v in out.items() if v}


def _facet_label(key: str, value: str) -> str:
    if key == "theme":
        return theme_label(value)
    if key == "format":
        return value.upper()
    if key == "geography":
        return geography_label(value)
    if key == "frequency":
        return FREQUENCY_LABELS.get(value, value).replace("Updated ", "").capitalize()
    return value


def facet_panel(results: SearchResults) -> html.Details:
    groups = []
    for key, label in FACETS.items():
        values = results.facets.get(key, [])
        selected = set(results.filters.get(key, []))
        # Keep selected values visible even when their count fell to zero.
        present = {v for v, _ in values}
        values = values + [(v, 0) for v in sorted(selected - present)]
        if not values:
            continue
        items = []
        for value, count in values:
            is_on = value in selected
            href = catalogue_url(results.query, _toggle(results.filters, key, value))
            items.append(html.Li(dcc.Link(
                href=href, className="facet__link" + (" facet__link--on" if is_on else ""),
                children=[html.Span("✓ " if is_on else "", **{"aria-hidden": "true"}),
                          html.Span(_facet_label(key, value), className="facet__value"),
                          html.Span(f"{count:,}", className="facet__count",
                                    **{"aria-label": f"{count} datasets"})],
                title=("Remove" if is_on else "Show only") + f" {label.lower()}: {_facet_label(key, value)}",
            )))
        groups.append(html.Details(open=bool(selected) or key in ("theme", "format", "geography"),
                                   className="facet", children=[
            html.Summary(label, className="facet__title"), html.Ul(items, className="facet__list")]))
    active = sum(len(v) for v in results.filters.values())
    # Open on wide screens (the summary is hidden there); a script closes it at phone width.
    return html.Details(open=True, className="facets-drawer", children=[
        html.Summary("Filters" + (f" ({active} on)" if active else ""), className="facets-drawer__summary"),
        html.Nav(className="facets", **{"aria-label": "Filter results"}, children=groups),
    ])


def _snippet(text: str) -> list:
    parts: list = []
    rest = text
    while "\x02" in rest:
        before, _, after = rest.partition("\x02")
        marked, _, rest = after.partition("\x03")
        parts += [before, html.Mark(marked)]
    parts.append(rest)
    return parts


def result_item(hit) -> html.Li:
    e = hit.entry
    summary = hit.snippet or (e.description[:240] + ("…" if len(e.description) > 240 else ""))
    return html.Li(className="result", children=[
        html.H3(dcc.Link(e.title, href=f"/dataset/{e.id}"), className="result__title"),
        html.P(e.publisher, className="result__publisher") if e.publisher else None,
        html.P(_snippet(summary), className="result__summary") if summary else None,
        html.Div(entry_badges(e), className="badges"),
    ])


def pager(results: SearchResults, page: int) -> html.Nav | None:
    pages = max(1, -(-results.total // PAGE_SIZE))
    if pages <= 1:
        return None
    links = []
    if page > 1:
        links.append(dcc.Link("← Previous", href=catalogue_url(results.query, results.filters, page - 1), className="button"))
    links.append(html.Span(f"Page {page} of {pages}", className="pager__status"))
    if page < pages:
        links.append(dcc.Link("Next →", href=catalogue_url(results.query, results.filters, page + 1), className="button"))
    return html.Nav(links, className="pager", **{"aria-label": "Result pages"})


def catalogue_page(results: SearchResults, page: int = 1) -> html.Div:
    active = [(k, v) for k, vs in results.filters.items() for v in vs]
    heading = f"{results.total:,} dataset{'s' if results.total != 1 else ''}"
    if results.query:
        heading += f" for “{results.query}”"
    return html.Div(className="catalogue", children=[
        html.H1("Catalogue"),
        search_form(results.query, compact=True),
        html.Div(className="catalogue__body", children=[
            facet_panel(results),
            html.Section(className="results", **{"aria-live": "polite"}, children=[
                html.H2(heading, id="results-heading", className="results__heading"),
                html.Div(className="active-filters", children=[
                    dcc.Link(f"{FACETS[k]}: {_facet_label(k, v)} ✕",
                             href=catalogue_url(results.query, _toggle(results.filters, k, v)),
                             className="chip chip--active", title="Remove this filter")
                    for k, v in active
                ] + ([dcc.Link("Clear all", href=catalogue_url(results.query), className="chip")] if active else [])),
                notice("Nothing matched every word, so these results match any of them.", "info")
                if results.mode == "any" else None,
                html.Ol([result_item(h) for h in results.hits], className="result-list",
                        start=(page - 1) * PAGE_SIZE + 1)
                if results.hits else html.P("No datasets match. Try fewer words or remove a filter.",
                                            className="empty"),
                pager(results, page),
            ]),
        ]),
    ])
