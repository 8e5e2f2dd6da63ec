"""The /sources page: the catalogues the registry federates, when each was last harvested, what
that harvest did, and the last error."""

from __future__ import annotations

from dash import dcc, html

from .components import notice

KIND_LABELS = {"bundled": "Curated, shipped with the explorer", "lds": "London Datastore export",
               "ckan": "CKAN portal", "dcat": "DCAT catalogue", "jkan": "JKAN portal"}


def _when(value: str | None) -> str:
    return value.replace("T", " ").replace("+00:00", " UTC") if value else "never"


def _where(row: dict) -> list:
    url = row.get("url") or ""
    if url.startswith(("http://", "https://")):
        out: list = [html.A(url, href=url, rel="noopener noreferrer", target="_blank")]
    else:
        out = [url]
    if row.get("local_copy"):
        out += [html.Br(), "a copy is kept on this site"]      # never its path on the server
    return out


def sources_page(rows: list[dict], total: int) -> html.Div:
    body = []
    for row in rows:
        counts = row.get("counts") or {}
        summary = ", ".join(f"{n:,} {k}" for k, n in counts.items()) if counts else "–"
        refresh = (f"every {row['refresh_hours']:g} h" if row.get("refresh_hours") else "by hand")
        origin = {"local copy": "from its local copy", "url": "from its URL"}.get(row.get("origin") or "", "")
        body.append(html.Tr([
            html.Th([html.Span(row.get("title") or row["name"]), html.Br(),
                     html.Small(f"{row['name']} · {KIND_LABELS.get(row['kind'], row['kind'])}")], scope="row"),
            html.Td(_where(row)),
            html.Td(f"{row.get('entries', 0):,}"),
            html.Td([_when(row.get("last_harvest")), html.Br(), html.Small(origin)] if origin else _when(row.get("last_harvest"))),
            html.Td(summary),
            html.Td(refresh),
            html.Td(row.get("last_error") or "none", className="sources-table__error" if row.get("last_error") else None),
        ]))
    return html.Div(className="sources-page", children=[
        html.H1("Sources"),
        html.P(f"The registry holds {total:,} datasets, gathered from the catalogues below. Each is read "
               "again on its schedule; a catalogue that cannot be read keeps the datasets it gave before, "
               "and its error is shown here.", className="lede"),
        notice("No sources are configured.", "info") if not rows else None,
        html.Div(className="sources-table-wrap", children=html.Table(className="sources-table", children=[
            html.Caption("Catalogue sources", className="visually-hidden"),
            html.Thead(html.Tr([html.Th(h, scope="col") for h in (
                "Source", "Read from", "Datasets", "Last harvest", "What it did", "Refreshed", "Last error")])),
            html.Tbody(body),
        ])) if rows else None,
        html.P(["Search them all from the ", dcc.Link("catalogue", href="/catalogue"), "."]),
    ])
