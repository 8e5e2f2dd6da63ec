"""The chart builder on a dataset page: its choices, the chart, the address and the exports.

One server callback (:func:`update`) fills the choices from the data and draws the chart: first
from the page's address (``/dataset/<id>?chart=line&y=…``; nothing chosen: the proposal), then
after every change of a choice. It calls the cached pure functions of ``explorer.themes.chart_builder``
(the table is read once per data service, through the data service's own cache); it does no file
I/O of its own. The address follows the choices in the browser (``history.replaceState``: no new
history entry per click, and the page is not rendered again); the export links follow the chosen
size there too. "Copy link" copies the short link of the chart's address.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, quote

from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from explorer.themes import chart_builder as cb
from explorer.export.sizes import FORMATS
from layouts import chart_builder as view

from ._dataset_answers import CHARTS, dataset_version, kept_answer

log = logging.getLogger(__name__)

CONTROLS = ["cb-type", "cb-y", "cb-x", "cb-group", "cb-areas", "cb-from", "cb-to", "cb-filter-col",
            "cb-filter-values", "cb-sort", "cb-rank", "cb-n", "cb-agg"]
OPTIONS = ["cb-type", "cb-y", "cb-x", "cb-group", "cb-areas", "cb-from", "cb-to", "cb-filter-col",
           "cb-filter-values", "cb-sort", "cb-rank", "cb-agg"]
KEEP_ON_TYPE_CHANGE = ("y", "areas", "start", "end", "filters", "agg")
OPTIONS_OF = {"cb-type": ("cb-x",), "cb-filter-col": ("cb-filter-values",)}   # lists a change alters


def spec_from_search(dataset_id: str, resource_id: str | None, search: str | None) -> cb.BuilderSpec:
    params = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    if resource_id and "resource" not in params:
        params["resource"] = [resource_id]
    return cb.parse_query(dataset_id, params)


def spec_from_controls(dataset_id: str, resource_id: str | None, values: dict, extra_filters) -> cb.BuilderSpec:
    filters = []
    if values.get("cb-filter-col") and values.get("cb-filter-values"):
        filters.append((values["cb-filter-col"], tuple(str(v) for v in values["cb-filter-values"])))
    for item in extra_filters or []:
        if isinstance(item, (list, tuple)) and len(item) == 2 and item[0] != values.get("cb-filter-col"):
            filters.append((str(item[0]), tuple(str(v) for v in item[1])))
    rank, n = values.get("cb-rank") or "all", values.get("cb-n")
    n = int(n) if isinstance(n, (int, float)) and n >= 1 else None
    x = values.get("cb-x")
    return cb.spec_from_options(
        dataset_id, resource=resource_id, type=values.get("cb-type"), y=values.get("cb-y"),
        x=x, group=values.get("cb-group"), areas=values.get("cb-areas") or (),
        start=values.get("cb-from"), end=values.get("cb-to"), filters=filters, sort=values.get("cb-sort"),
        top=(n or cb.DEFAULT_TOP) if rank == "top" else None,
        bottom=(n or cb.DEFAULT_TOP) if rank == "bottom" else None, agg=values.get("cb-agg"))


def control_values(built: cb.Built) -> tuple[dict, list]:
    """What each choice shows for a drawn chart (and the filters beyond the first)."""
    spec, r = built.spec, built.resolved
    info = r.info
    lookup = info.place_lookup
    areas = [lookup.get(a.lower(), a) for a in spec.areas]
    if spec.type == "scatter":
        x = spec.x
    elif spec.type in ("bar", "grouped", "distribution"):
        x = r.axis
    else:
        x = None
    first = spec.filters[0] if spec.filters else (None, ())
    values = {
        "cb-type": spec.type, "cb-y": spec.y, "cb-x": x, "cb-group": r.group, "cb-areas": areas,
        "cb-from": spec.start, "cb-to": spec.end, "cb-filter-col": first[0], "cb-filter-values": list(first[1]),
        "cb-sort": spec.sort, "cb-rank": "top" if spec.top else "bottom" if spec.bottom else "all",
        "cb-n": spec.top or spec.bottom, "cb-agg": spec.agg,
    }
    return values, [[c, list(v)] for c, v in spec.filters[1:]]


def control_options(info: cb.TableInfo, kind: str, filter_col: str | None) -> dict:
    o = cb.options_for(info)
    measures = o["measures"]
    if kind == "scatter":
        x = [m for m in measures if m["value"] not in (cb.ROWS, cb.PERIODS)]
    else:
        x = o["axes"]
    filter_values = []
    if filter_col and filter_col in info.frame.columns:
        filter_values = [{"label": v, "value": v} for v in info.category_values(filter_col)]
    return {"cb-type": o["types"], "cb-y": measures, "cb-x": x, "cb-group": o["groups"], "cb-areas": o["places"],
            "cb-from": o["years"], "cb-to": o["years"], "cb-filter-col": o["filters"], "cb-filter-values": filter_values,
            "cb-sort": o["sorts"], "cb-rank": view.RANKS, "cb-agg": o["aggs"]}


def chart_outputs(services, built: cb.Built) -> dict:
    """The chart's part of the panel: figure, its height, title, summary, source line, details."""
    from layouts import theme_page

    result = built.result
    entries = {}
    for src in result.sources:
        try:
            entries[src["dataset_id"]] = services.data.entry(src["dataset_id"])
        except Exception:  # noqa: BLE001 - a source the registry no longer has: the card says so
            entries[src["dataset_id"]] = None
    cv = theme_page.ChartView(built.chart_spec, result, entries)
    height = int(result.figure.layout.height or 420)
    # the theme charts' own source card: one line that opens publisher, licence, dates, join, caveats
    fig = result.figure
    if any(t.type == "scattergl" for t in fig.data):
        # drawn as SVG, as theme pages do (a browser without WebGL would show nothing); plotly's own
        # conversion (page_figure) re-validated 30,000 points for half a second: the figure's dicts
        # are passed on as they are, with the trace type changed
        figure = {"data": [dict(t, type="scatter") if t.get("type") == "scattergl" else t for t in fig._data],
                  "layout": fig._layout}
    else:
        figure = theme_page.page_figure(fig)
    return {"figure": figure, "style": {"height": f"{height}px"},
            "title": result.title, "subtitle": result.subtitle, "summary": result.summary,
            "source": theme_page.source_card(cv),
            # the first 200 rows on the page; the data zip has them all
            "details": theme_page.data_table(built.chart_spec, result, max_rows=200)}


def compute(services, dataset_id, resource_id, search, values, extra_filters, trigger):
    """Everything the panel shows for one event (pure but for the data service's cache)."""
    data = services.data
    message = None
    from_controls = trigger in CONTROLS
    if from_controls:
        try:
            spec = spec_from_controls(dataset_id, resource_id, values, extra_filters)
        except cb.BuilderError as exc:
            return {"error": exc.reason}
        if trigger == "cb-type":
            spec = cb.BuilderSpec(dataset_id, resource_id, type=spec.type,
                                  **{k: getattr(spec, k) for k in KEEP_ON_TYPE_CHANGE})
        if trigger == "cb-filter-col":
            # a new filter column: its values are chosen next
            spec = cb.BuilderSpec(**{**spec.__dict__, "filters": tuple(f for f in spec.filters if f[0] != values.get("cb-filter-col"))})
    else:
        try:
            spec = spec_from_search(dataset_id, resource_id, search if trigger != "dataset-resource" else "")
        except cb.BuilderError as exc:
            message = f"{exc.reason}. The proposed chart is shown instead."
            spec = cb.BuilderSpec(dataset_id, resource_id)
    built = cb.build(data, spec)
    if built.error and from_controls and trigger == "cb-type" and built.field == "y":
        built = cb.build(data, cb.BuilderSpec(**{**spec.__dict__, "y": None}))
    if built.error and from_controls:
        return {"error": built.error}
    if built.error and built.resolved is None and (spec.query() != [("resource", resource_id)] if resource_id else spec.query()):
        message = f"{built.error}. The proposed chart is shown instead."
        built = cb.build(data, cb.BuilderSpec(dataset_id, resource_id))
    if built.error:
        return {"unavailable": built.error}
    info = built.resolved.info
    values_out, extra = control_values(built)
    options = control_options(info, built.spec.type, values_out["cb-filter-col"])
    # the dataset's first file is the page's own: its id is left out of the address
    resources = data.entry(dataset_id).resources
    first = resources[0].id if resources else None
    named = resource_id if resource_id and resource_id != first else None
    query = cb.BuilderSpec(**{**built.spec.__dict__, "resource": named}).search().lstrip("?") \
        if (from_controls or not built.resolved.proposed) else (f"resource={quote(named)}" if named else "")
    if from_controls and trigger == "cb-filter-col" and values.get("cb-filter-col"):
        values_out["cb-filter-col"] = values["cb-filter-col"]
        values_out["cb-filter-values"] = []
        options["cb-filter-values"] = [{"label": v, "value": v} for v in info.category_values(values["cb-filter-col"])]
    permalink = f"/dataset/{quote(dataset_id)}" + (f"?{query}" if query else "")
    if from_controls:
        # the lists of choices depend on the table, the chart type (the x axis's list) and the filter
        # column (its values) only: the others are not sent again (the places of an LSOA table are
        # 30,000 of them, 90 KB of JSON)
        changed = OPTIONS_OF.get(trigger, ())
        options = {k: v if k in changed else no_update for k, v in options.items()}
    return {"values": values_out, "extra": extra, "options": options, "message": message, "built": built,
            "target": {"dataset": dataset_id, "query": query, "permalink": permalink},
            "kind": built.spec.type}


def response(services, out: dict) -> tuple:
    """The callback's outputs for a drawn chart (in the order of ``register``'s outputs)."""
    parts = chart_outputs(services, out["built"])
    return (*[out["options"][i] for i in OPTIONS], *[out["values"][i] for i in CONTROLS],
            f"cb-controls cb-controls--{out['kind']}" + ("" if out["built"].resolved.info.years() else " cb-controls--no-years")
            + ("" if out["built"].resolved.info.has_places else " cb-controls--no-places"),
            parts["figure"], parts["style"], parts["title"], parts["subtitle"], parts["summary"],
            parts["source"], parts["details"], view.message(out["message"], "warning"),
            out["target"], out["extra"], False)


def _table_was_read(services, dataset_id, resource_id) -> bool:
    """Whether the table was read (so that "nothing to chart" is the table's answer, not a file
    that could not be found or fetched just now); the description is the one kept on the app."""
    try:
        cb.describe(services.data, dataset_id, resource_id)
    except Exception:  # noqa: BLE001 - a file not read, or not described: not the table's answer
        return False
    return True


def outputs_for(services, dataset_id, resource_id, values, search, extra_filters, trigger) -> tuple:
    """The callback's outputs for one event, and whether they may be kept (a drawn chart, or a
    choice that cannot be drawn; not a table that could not be read, nor a failure)."""
    try:
        out = compute(services, dataset_id, resource_id, search, values, extra_filters, trigger)
    except Exception:  # noqa: BLE001 - the panel says so; the page stays
        log.exception("chart builder failed for %s", dataset_id)
        out = {"error": "something went wrong while drawing this chart; try other choices", "failed": True}
    keep = [no_update] * (len(OPTIONS) + len(CONTROLS) + 1)
    if "unavailable" in out:   # this table offers nothing to chart (or was not read): the panel is hidden
        return (*keep, no_update, no_update, "", "", "", "", None,
                view.message(out["unavailable"], "info"), no_update, no_update, True), \
            _table_was_read(services, dataset_id, resource_id)
    if "error" in out:         # a choice that cannot be drawn: say why, keep the last chart
        return (*keep, no_update, no_update, no_update, no_update, no_update, no_update, no_update,
                view.message(f"This chart cannot be drawn: {out['error']}", "warning"),
                no_update, no_update, False), not out.get("failed")
    return response(services, out), True


def answer(services, dataset_id, resource_id, values: dict, search, extra_filters, trigger) -> tuple:
    """The callback's outputs, as every visitor of an open dataset making the same choices is sent
    them: worked out once and kept, keyed by the event (the choices, the address, the trigger) and
    the dataset's version (callbacks/_dataset_answers.py)."""
    kept = []

    def work():
        outputs, ok = outputs_for(services, dataset_id, resource_id, values, search, extra_filters, trigger)
        kept.append(ok)
        return outputs

    request = ("chart builder", dataset_id, resource_id, [values.get(c) for c in CONTROLS], search,
               extra_filters, trigger)
    return kept_answer(services, CHARTS, dataset_version(services, dataset_id, resource_id), request, work,
                       lambda _outputs: kept[-1])


def register(app, services) -> None:
    outputs = ([Output(i, "options") for i in OPTIONS] + [Output(i, "value") for i in CONTROLS] + [
        Output("cb-controls", "className"),
        Output("cb-graph", "figure"), Output("cb-graph", "style"), Output("cb-title", "children"),
        Output("cb-subtitle", "children"), Output("cb-summary", "children"), Output("cb-source", "children"),
        Output("cb-details", "children"), Output("cb-message", "children"), Output("cb-target", "data"),
        Output("cb-extra-filters", "data"), Output("chart-builder", "hidden"),
    ])

    @app.callback(
        *outputs,
        Input("dataset-id", "data"),
        Input("dataset-resource", "value"),
        *[Input(i, "value") for i in CONTROLS],
        State("url", "search"),
        State("cb-extra-filters", "data"),
    )
    def update(dataset_id, resource_id, *rest):
        control_vals, (search, extra_filters) = rest[:len(CONTROLS)], rest[len(CONTROLS):]
        if not dataset_id:
            raise PreventUpdate
        trigger = ctx.triggered_id if isinstance(ctx.triggered_id, str) else None
        return answer(services, dataset_id, resource_id, dict(zip(CONTROLS, control_vals)), search,
                      extra_filters, trigger)

    # the address and the export links follow the chart, in the browser
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="datasetChartLinks"),  # assets/export_links.js
        [Output({"type": "cb-export-image", "fmt": fmt}, "href") for fmt in FORMATS] + [Output("cb-export-data", "href")],
        Input("cb-target", "data"),
        Input("cb-preset", "value"),
    )

    @app.callback(
        Output("cb-copy", "content"),
        Input("cb-copy", "n_clicks"),
        State("cb-target", "data"),
        prevent_initial_call=True,
    )
    def copy_link(_n, target):
        from .export_menu import short_link

        if not target or not target.get("permalink"):
            return no_update
        return short_link(services.settings, target["permalink"])


def embedded_page(services, dataset_id: str, search: str | None):
    """``/dataset/<id>?…&embed=1``: the chosen chart alone (title and source inside the figure)."""
    try:
        spec = spec_from_search(dataset_id, None, search)
    except cb.BuilderError as exc:
        built = cb.Built(cb.BuilderSpec(dataset_id), None, None, None, exc.reason, exc.field)
        return view.embedded(dataset_id, built, f"/dataset/{quote(dataset_id)}")
    built = cb.build(services.data, spec, titled=True)
    return view.embedded(dataset_id, built, spec.path())
