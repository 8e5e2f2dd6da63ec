"""The dataset page: all metadata, the source card, resources, and a preview (table + map)."""

from __future__ import annotations

import pandas as pd
from dash import dcc, html

from explorer.labels.variables import variable_label
from explorer.catalogue.models import Entry

from . import chart_builder
from .export_menu import dataset_tools
from .components import (ACCESS_LABELS, FREQUENCY_LABELS, coverage, definition_list, entry_badges,
                         external_link, geography_label, notice, source_card)


def _size(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def resources_table(entry: Entry, availability: list[dict]) -> html.Table:
    where = {a["resource"]: a for a in availability}
    rows = []
    for res in entry.resources:
        info = where.get(res.id, {})
        status = info.get("status") or info.get("available") or "–"
        rows.append(html.Tr([
            html.Td(html.Code(res.id)),
            html.Td(res.title or "–"),
            html.Td(res.format.upper() or "–"),
            html.Td(_size(res.size), className="num"),
            html.Td(str(status)),
            html.Td([external_link("file", res.url), " · " if res.url and res.upstream_url else "",
                     external_link("publisher's download", res.upstream_url)]),
        ]))
    return html.Table(className="table", children=[
        html.Caption("Files of this dataset"),
        html.Thead(html.Tr([html.Th(h, scope="col") for h in
                            ("Resource", "Title", "Format", "Size", "Available", "Source")])),
        html.Tbody(rows),
    ])


def dataset_page(entry: Entry, registry_record: dict | None, availability: list[dict]) -> html.Div:
    access = None
    if entry.access_level != "open":
        contact = entry.extras.get("access_contact")
        access = notice([html.Strong(ACCESS_LABELS.get(entry.access_level, entry.access_level) + ". "),
                         entry.access_note or "Ask the publisher for access.",
                         f" Contact: {contact}." if contact else "", " ",
                         # a server page (explorer/web/publish_pages.py): sign in, state the purpose
                         html.A("Request access", href=f"/access/{entry.id}/request",
                                className="request-access-link")], "warning")
    resource_options = [{"label": f"{r.title or r.id} ({r.format.upper() or '?'})", "value": r.id}
                        for r in entry.resources]
    meta_rows = [
        ("Identifier", html.Code(entry.id)),
        ("Themes", ", ".join(entry.themes)),
        ("Tags", ", ".join(entry.tags)),
        ("Created", entry.created),
        ("Updated", entry.updated),
        ("Update frequency", FREQUENCY_LABELS.get(entry.update_frequency or "", entry.update_frequency)),
        ("Temporal coverage", coverage(entry)),
        ("Smallest geography", geography_label(entry.smallest_geography)),
        ("Data quality", f"{entry.quality_score:g} / 5" if entry.quality_score is not None else None),
        ("Licence", external_link(entry.licence, entry.licence_url) if entry.licence_url else entry.licence),
        ("Harvested from", (registry_record or {}).get("source")),
        ("In the registry since", ((registry_record or {}).get("first_seen") or "")[:10]),
    ]
    return html.Div(className="dataset", children=[
        dcc.Store(id="dataset-id", data=entry.id),
        html.P(dcc.Link("← Catalogue", href="/catalogue"), className="breadcrumb"),
        html.H1(entry.title),
        html.P(entry.publisher, className="dataset__publisher") if entry.publisher else None,
        html.Div(entry_badges(entry), className="badges"),
        access,
        html.Div(className="dataset__body", children=[
            html.Div(className="dataset__main", children=[
                html.Section(className="section", children=[
                    html.H2("About this dataset"),
                    dcc.Markdown(entry.description or "_No description given by the publisher._",
                                 className="prose", link_target="_blank"),
                ]),
                html.Section(className="section", **{"aria-labelledby": "preview-heading"}, children=[
                    html.Div(className="section__head", children=[
                        html.H2("Preview", id="preview-heading"),
                        html.Div(className="field", children=[
                            html.Label("File", htmlFor="dataset-resource"),
                            dcc.Dropdown(id="dataset-resource", options=resource_options,
                                         value=entry.resources[0].id if entry.resources else None,
                                         clearable=False, searchable=False, className="dropdown"),
                        ]) if len(resource_options) > 1 else dcc.Input(  # one file: nothing to choose
                            id="dataset-resource", type="hidden",
                            value=entry.resources[0].id if entry.resources else None),
                    ]),
                    # the preview keeps its box while it loads, so the sections below do not jump
                    dcc.Loading(html.Div(id="dataset-preview", className="preview"), type="dot",
                                parent_className="preview-slot preview-slot--map"
                                if entry.smallest_geography not in (None, "", "none") else "preview-slot"),
                    dataset_tools(entry.id) if entry.smallest_geography not in (None, "", "none") else None,
                ]),
                # a chart of any table, for a report (callbacks/chart_builder.py fills it in);
                # boundary files are shapes, not figures: nothing to chart
                chart_builder.panel(entry.id) if "boundaries" not in entry.themes else None,
                html.Section(className="section", children=[
                    html.H2("Files"),
                    # a phone scrolls the table, not the page
                    html.Div(resources_table(entry, availability), className="table-scroll", tabIndex="0",
                             role="region", **{"aria-label": "Files of this dataset"}),
                ]),
                html.Section(className="section", children=[
                    html.H2("All metadata"),
                    definition_list(meta_rows),
                ]),
            ]),
            html.Div(className="dataset__side", children=[
                html.Div(id="dataset-source-card", children=source_card(entry)),
                html.Div(id="dataset-provenance"),
            ]),
        ]),
    ])


def _column_heading(column, labels: dict, numeric: bool, added=()) -> html.Th:
    """A column's heading: its human label (the resource's own ``labels`` option, else read from
    the name) over the column's name in the file, which stays in sight; a column the join added
    (``area_code``) is not in the file and shows its label alone."""
    name = str(column)
    label = variable_label(name, labels)
    if name in added or label == name:
        children = label
    elif label.casefold() == name.casefold():      # "Local Authority District code": already words
        children = name
    else:
        children = [label, html.Span(name, className="table__column-name")]
    return html.Th(children, scope="col", className="num" if numeric else None)


def data_table(frame: pd.DataFrame, total_rows: int, max_columns: int = 12, labels: dict | None = None,
               added=()) -> html.Div:
    """The first rows as a table; ``labels`` ({column: label}, a resource's ``labels`` option)
    head the columns they name; ``added``: columns the loader added (not in the file)."""
    labels = labels or {}
    columns = [str(c) for c in frame.columns][:max_columns]
    hidden = len(frame.columns) - len(columns)

    def cell(value):
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return html.Td("–", className="muted")
        if isinstance(value, float):
            text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"
            return html.Td(text, className="num")
        if isinstance(value, int):
            return html.Td(f"{value:,}", className="num")
        return html.Td(str(value)[:80])

    return html.Div(className="table-scroll", tabIndex="0", role="region",
                    **{"aria-label": "Data preview table"}, children=[
        html.Table(className="table table--data", children=[
            html.Caption(f"First {len(frame):,} of {total_rows:,} rows"
                         + (f"; {hidden} more columns not shown" if hidden > 0 else "")),
            # a numeric column's heading sits over its right-aligned values
            html.Thead(html.Tr([_column_heading(c, labels, pd.api.types.is_numeric_dtype(frame[c]), added)
                                for c in frame.columns[:max_columns]])),
            html.Tbody([html.Tr([cell(v) for v in row])
                        for row in frame[frame.columns[:max_columns]].itertuples(index=False)]),
        ]),
    ])


def provenance_panel(summary: dict) -> html.Section:
    prov = summary.get("provenance") or {}
    geo = summary.get("geography")
    rows = [
        ("Rows", f"{summary['rows']:,}"),
        ("Geometry", summary.get("geometry_type") or "none (a table)"),
        ("CRS shown", summary.get("crs")),
        ("Source CRS", summary.get("source_crs")),
        ("File from", {"local": "copy kept on this site", "store": "copy kept on this site",
                       "download": "downloaded now"}.get(prov.get("origin"), prov.get("origin"))),
        ("Source URL", external_link(prov.get("source_url"), prov.get("source_url"))),
        ("Retrieved", (prov.get("retrieved_at") or "")[:19].replace("T", " ")),
        ("SHA-256", html.Code((prov.get("sha256") or "")[:16] + "…") if prov.get("sha256") else None),
        ("Size", _size(prov.get("size"))),
    ]
    if geo:
        rows += [
            ("Joined to", f"{geo['boundary_set']} ({geo['level']} boundaries, {geo['year']})"),
            ("Code column", html.Code(geo["code_column"])),
            ("Matched", f"{geo['matched']:,} rows ({geo['match_rate']:.1%}); {geo['unmatched']:,} unmatched"),
        ]
    steps = prov.get("transformations") or []
    return html.Section(className="provenance", **{"aria-label": "Provenance of this load"}, children=[
        html.H2("Provenance"),
        definition_list(rows),
        html.H3("What was done to it") if steps else None,
        html.Ol([html.Li(s) for s in steps], className="steps") if steps else None,
    ])


# =============================================================================== the preview
LOAD_STAGES = {"resolve": "The file could not be found", "load": "The file could not be read",
               "registry": "Not in the registry", "access": "The files of this dataset are not open"}


def publisher_link(url: str) -> html.A:
    return html.A("Get the data from the publisher's page", href=url, target="_blank", rel="noopener noreferrer")


def load_failure(entry: Entry | None, error) -> html.Div:
    """Why a file could not be previewed (``error``: a DatasetError), and where to get it."""
    if error.stage == "registry" and entry is not None and not entry.resources:
        # a catalogue record without files (many London Datastore entries): say what to do
        where = entry.upstream_url
        return notice(["This catalogue entry lists no files we can open here. ",
                       publisher_link(where) if where else "Ask the publisher for the data",
                       ". Everything the catalogue says about it is on this page."], "info")
    children = [html.Strong(LOAD_STAGES.get(error.stage, "It could not be loaded") + ". "), error.reason]
    if entry is not None and entry.upstream_url and error.stage in ("resolve", "load"):
        children += [" ", publisher_link(entry.upstream_url), "."]
    return notice(children, "error")


def join_notice(geography: dict | None):
    """The join's warnings as plain sentences, the join report's text folded under them (None
    when the join raised no warning)."""
    from explorer.labels.join import plain_join_warnings

    plain = plain_join_warnings(geography)
    if not plain:
        return None
    return notice([*(html.P(sentence, className="notice__text") for sentence in plain),
                   html.Details(className="notice__details", children=[
                       html.Summary("Technical detail"),
                       html.Ul([html.Li(str(w)) for w in geography.get("warnings") or []])])], "warning")


def preview(map_id: str, data, height: str = "420px") -> tuple[list, object, object]:
    """(preview children, source card, provenance panel) of a file's preview (``data``: a
    ``callbacks._preview.Preview``): its map as the map explorer draws it with the layer's legend,
    what the join missed beside the map, then its first rows."""
    from .map_view import legend, map_preview

    if data.error is not None:
        return [load_failure(data.entry, data.error)], None, None
    summary = data.summary
    children: list = []
    if data.layer is not None:
        layer = data.layer
        children.append(map_preview(map_id, layer.spec, layer.info, layer.look, layer.bounds, height))
        children.append(legend(layer.look))
        # a join that missed areas is said beside the map that has the holes, not far down the side:
        # in plain words, the join's own report one click away
        children.append(join_notice(summary.get("geography")))
    elif data.map_note:
        children.append(notice(data.map_note, "warning"))
    else:
        children.append(html.P("This dataset is a table without geography: no map to draw.", className="muted"))
    children.append(data_table(data.table, data.loaded.rows, labels=data.labels, added=data.added))
    card = source_card(data.loaded.entry, summary["provenance"], summary["geography"])
    return children, card, provenance_panel(summary)
