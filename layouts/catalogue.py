"""The catalogue page: search box, facets with counts, results with badges, pages."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import dcc, html

from explorer.catalogue.registry import FACETS, SearchResults

from explorer.labels.sources import readable_date

from .components import ACCESS_LABELS, FREQUENCY_LABELS, entry_badges, geography_label, notice
from explorer.labels.themes import theme_label

from .home import search_form

PAGE_SIZE = 20


SORTS = {"relevance": "Best match", "updated": "Last updated"}


def catalogue_url(query: str = "", filters: dict[str, list[str]] | None = None, page: int = 1,
                  sort: str = "relevance") -> str:
    params: list[tuple[str, str]] = []
    if query:
        params.append(("q", query))
    for key in FACETS:
        for value in (filters or {}).get(key, []):
            params.append((key, value))
    if sort in SORTS and sort != "relevance":
        params.append(("sort", sort))
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
    if key == "access":
        return ACCESS_LABELS.get(value, value)
    return value[:1].upper() + value[1:] if value else value


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
            href = catalogue_url(results.query, _toggle(results.filters, key, value), sort=results.sort)
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
    why = hit.why_text() if hasattr(hit, "why_text") else ""
    return html.Li(className="result", children=[
        html.H3(dcc.Link(e.title, href=f"/dataset/{e.id}"), className="result__title"),
        html.P([e.publisher or "Publisher not stated",
                html.Span(f" · updated {readable_date(e.updated)}", className="result__date") if e.updated else None],
               className="result__publisher"),
        html.P(_snippet(summary), className="result__summary") if summary else None,
        html.Div(entry_badges(e), className="badges"),
        html.P(why, className="result__why") if why else None,
    ])


def pager(results: SearchResults, page: int) -> html.Nav | None:
    pages = max(1, -(-results.total // PAGE_SIZE))
    if pages <= 1:
        return None
    links = []
    if page > 1:
        links.append(dcc.Link("← Previous", href=catalogue_url(results.query, results.filters, page - 1, results.sort), className="button"))
    links.append(html.Span(f"Page {page} of {pages}", className="pager__status"))
    if page < pages:
        links.append(dcc.Link("Next →", href=catalogue_url(results.query, results.filters, page + 1, results.sort), className="button"))
    return html.Nav(links, className="pager", **{"aria-label": "Result pages"})


def sort_links(results: SearchResults) -> html.Nav | None:
    if not results.total:
        return None
    items: list = [html.Span("Sort by:", className="sort-links__label")]
    for key, label in SORTS.items():
        if key == "relevance" and not results.query:
            label = "Title"
        if results.sort == key:   # the order shown: said, not a link
            items.append(html.Span(label, className="sort-links__current", **{"aria-current": "true"}))
        else:
            items.append(dcc.Link(label, href=catalogue_url(results.query, results.filters, 1, key),
                                  className="sort-links__link", title=f"Sort by {label.lower()}"))
    return html.Nav(items, className="sort-links", **{"aria-label": "Sort results"})


def did_you_mean(results: SearchResults) -> html.P | None:
    if not results.did_you_mean:
        return None
    return html.P(className="did-you-mean", children=[
        "Did you mean ",
        dcc.Link(results.did_you_mean, href=catalogue_url(results.did_you_mean, results.filters, sort=results.sort),
                 id="did-you-mean"),
        "? " + (f"Showing results for “{results.did_you_mean}”." if results.total else ""),
    ])


def empty_result(results: SearchResults) -> html.Div:
    """Nothing found: say why, and offer searches that do find something."""
    reasons = []
    if results.query and results.filters:
        reasons.append(f"No dataset matches “{results.query}” with the filters you chose.")
    elif results.query:
        reasons.append(f"No dataset in the registry mentions “{results.query}”, or anything close to it in meaning.")
    else:
        reasons.append("No dataset has every filter you chose.")
    offers: list = []
    for text in results.suggestions:
        offers.append(html.Li(dcc.Link(text, href=catalogue_url(text, results.filters), className="chip")))
    if results.filters:
        offers.append(html.Li(dcc.Link(f"“{results.query}” without filters" if results.query else "All datasets",
                                       href=catalogue_url(results.query), className="chip")))
    return html.Div(className="empty", children=[
        html.P(reasons),
        html.P("Try one of these:" if offers else
               "Try fewer or more general words (for example “air quality” or “house prices”), "
               "or browse by theme on the home page."),
        html.Ul(offers, className="empty__suggestions") if offers else None,
    ])


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
                did_you_mean(results),
                html.Div(className="active-filters", children=[
                    dcc.Link(f"{FACETS[k]}: {_facet_label(k, v)} ✕",
                             href=catalogue_url(results.query, _toggle(results.filters, k, v), sort=results.sort),
                             className="chip chip--active", title="Remove this filter")
                    for k, v in active
                ] + ([dcc.Link("Clear all", href=catalogue_url(results.query, sort=results.sort), className="chip")] if active else [])),
                notice("Nothing matched every word, so these results match some of them or are close in meaning.", "info")
                if results.mode == "any" and results.total else None,
                sort_links(results),
                html.Ol([result_item(h) for h in results.hits], className="result-list",
                        start=(page - 1) * PAGE_SIZE + 1)
                if results.hits else empty_result(results),
                pager(results, page),
            ]),
        ]),
    ])
