"""What a themed dashboard page shows, worked out from the data: chart results and their tables,
headline figures, map layers (the map explorer's: the same layer info, values, classes and
palettes), the borough picker, the places under a map click and the figures of selected places.

No components here: ``layouts/theme_page.py`` draws what this returns, ``callbacks/themes.py``
wires the page's callbacks and ``callbacks/theme_page_cache.py`` keeps built pages.

Everything computed is remembered on the app (``services.data.memos``, one set per app, see
:mod:`explorer.data.memo`); a failure (data not there yet, a download that timed out) is not
remembered, so it is tried again next time. Chart tables are also kept in the app's cache
(filesystem or Redis), so a worker that finds its pages already drawn by another never draws
their charts just to answer a click.

Open data only: a theme page is public and kept in caches shared by every visitor (these memos,
the app cache, the static first paint, exports), none of which knows who asked. So a themed
dashboard only ever draws open data: a chart, headline figure or map layer reading a dataset that
is shared or closed is shown to everyone as a notice pointing to the dataset's page, never its
figures, even to people who may read its files there. The check is made against the registry
each time a part is read (not when it was drawn), so a part drawn while its data was open is
never served after the data is shared; a page's cache key holds each dataset's content hash,
access level included.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from explorer.maps import hideout as hideouts
from explorer.maps.layer_look import layer_info_safe, style_for
from explorer.maps.layers import LayerSpec
from explorer.themes.theme_files import Theme, load_themes

log = logging.getLogger(__name__)

BOROUGHS = ("london-boroughs", None)     # the picker's boundaries, and every page's borough names

# memo tables on the app (name, size)
CHARTS = ("theme-charts", 256)            # the charts as a page first draws them
HIGHLIGHTS = ("theme-highlights", 128)    # charts with places highlighted: apart, so that many
                                          # boroughs' highlights never push the plain charts out
HEADLINES = ("theme-headlines", 32)
MAPS = ("theme-maps", 32)
BOROUGH_OPTIONS = ("theme-boroughs", 4)
TABLES = ("theme-chart-tables", 128)     # charts' tables read from the app's cache
LAYER_CODES = ("theme-layer-codes", 32)
EMBEDDED = ("theme-embedded-charts", 64)
TABLE_SECONDS = 3600                      # a chart's table kept in the app's cache


class _NotKept(Exception):
    def __init__(self, value):
        super().__init__("not kept")
        self.value = value


def _remembered(services, table: tuple[str, int], key, compute, keep=None):
    """The value kept on the app's memo ``table`` for ``key``, or ``compute()``'s, kept only when
    ``keep(value)`` (default: always), so a failure is tried again next time."""
    def compute_kept():
        value = compute()
        if keep is not None and not keep(value):
            raise _NotKept(value)
        return value

    try:
        return services.data.memos.table(*table).get(key, compute_kept)
    except _NotKept as not_kept:
        return not_kept.value


def themes_of(services) -> dict[str, Theme]:
    """The app's theme files by slug (checked at start-up by ``callbacks/themes.register``)."""
    themes = getattr(services, "themes", None)
    if themes is None:
        themes = {t.slug: t for t in load_themes()}
        services.themes = themes
    return themes


def theme_datasets(theme: Theme) -> list[str]:
    """Every dataset a theme page reads: its charts' inputs, its headline figures', its map
    layers' and the borough boundaries of the picker (and of the charts' borough names)."""
    ids = set(theme.dataset_ids())
    for spec in theme.headline_specs():
        ids.update(ds for ds, _ in spec.inputs())
    ids.update(layer["dataset"] for layer in theme.map_layers)
    ids.add(BOROUGHS[0])
    return sorted(ids)


# ------------------------------------------------------------------ open data only
def not_open(services, dataset_ids) -> list:
    """The registry entries among ``dataset_ids`` whose access level is not ``open``."""
    registry = services.registry
    entries = (registry.get(ds) for ds in sorted(set(dataset_ids)))
    return [entry for entry in entries if entry is not None and entry.access_level != "open"]


def not_open_reason(entries) -> str:
    """Why a part of a themed page is not drawn, in plain words, naming where to ask."""
    names = ", ".join(f"'{e.title or e.id}' ({e.access_level})" for e in entries)
    pages = ", ".join(f"/dataset/{e.id}" for e in entries)
    return (f"its data is not open: {names}. Themed pages show open data only; see the dataset's "
            f"page ({pages}) to request access.")


def _named(entries) -> list[dict]:
    return [{"id": e.id, "title": e.title or e.id, "access_level": e.access_level} for e in entries]


def _not_open_chart(spec, entries):
    import pandas as pd
    import plotly.graph_objects as go

    from explorer.themes.charts import ChartResult

    reason = not_open_reason(entries)
    return ChartResult(figure=go.Figure(), data=pd.DataFrame(), summary=f"Not shown: {reason}", sources=[],
                       highlight_keys=None, error=reason, chart_id=spec.id, title=spec.title)


def closed_chart(services, spec):
    """The notice result for a chart reading a dataset that is not open, else None."""
    closed = not_open(services, [ds for ds, _ in spec.inputs()])
    return _not_open_chart(spec, closed) if closed else None


# ------------------------------------------------------------------ charts
def chart_result(services, theme: Theme, spec, codes=()):
    """``build_chart`` for the page (never raises), remembered per highlighted set; a notice, never
    the figures, when a dataset it reads is not open."""
    from explorer.themes.charts import build_chart

    closed = closed_chart(services, spec)
    if closed is not None:
        return closed
    codes = tuple(sorted({str(c) for c in codes or ()}))
    key = (theme.slug, theme.digest, spec.id, codes)
    return _remembered(services, HIGHLIGHTS if codes else CHARTS, key,
                       lambda: build_chart(spec, services.data, highlight=list(codes) or None),
                       keep=lambda result: result.error is None)


def embedded_chart(services, theme: Theme, spec):
    """A chart for embedding in other pages (``?embed=1``): its title and source inside the figure;
    a notice, never the figures, when a dataset it reads is not open."""
    from explorer.themes.charts import build_chart

    closed = closed_chart(services, spec)
    if closed is not None:
        return closed
    return _remembered(services, EMBEDDED, (theme.slug, theme.digest, spec.id),
                       lambda: build_chart(spec, services.data, titled=True),
                       keep=lambda result: result.error is None)


@dataclass
class ChartTable:
    """What the place panel and a chart's "show data" table read of a chart: its data, the
    headers of its columns, its text summary, and why it could not be drawn (or None)."""
    data: object
    labels: dict
    summary: str
    error: str | None


def _table_key(services, theme: Theme, spec) -> str:
    """A chart table's key in the app's cache: the app's code, the theme as parsed, the chart, the
    registry content hash of each input dataset and the data folder."""
    from explorer.data.cache import cache_key, code_digest

    versions = services.registry.versions(ds for ds, _ in spec.inputs())
    return cache_key("theme-chart-table", 1, code_digest(), theme.slug, theme.digest, spec.id, versions,
                     str(services.settings.data_dir))


def chart_table(services, theme: Theme, spec) -> ChartTable:
    """A chart's table, without drawing the chart when it can be helped: from the app's memo (the
    page was drawn here), else from the app's cache (with Redis: drawn by another worker or by
    ``explorer warm``), else drawn now and kept in both."""
    from explorer.data.cache import cached

    closed = closed_chart(services, spec)
    if closed is not None:
        return ChartTable(closed.data, {}, closed.summary, closed.error)
    known = services.data.memos.table(*CHARTS).peek((theme.slug, theme.digest, spec.id, ()))
    if known is not None:
        return ChartTable(known.data, known.labels, known.summary, known.error)
    shared = _table_key(services, theme, spec)

    def draw() -> ChartTable | None:
        result = chart_result(services, theme, spec)
        return None if result.error else ChartTable(result.data, result.labels, result.summary, None)

    table = _remembered(services, TABLES, shared,
                        lambda: cached(services.cache, shared, draw, timeout=TABLE_SECONDS),
                        keep=lambda value: value is not None)
    if table is None:   # not kept (a failure is tried again): say why, from the drawing
        result = chart_result(services, theme, spec)
        return ChartTable(result.data, result.labels, result.summary, result.error)
    return table


def keep_chart_table(services, theme: Theme, spec, result) -> None:
    """Put a chart drawn here into the app's cache as its table (see :func:`chart_table`)."""
    if result.error:
        return
    shared = _table_key(services, theme, spec)
    try:
        if services.cache is not None and services.cache.get(shared) is None:
            services.cache.set(shared, ChartTable(result.data, result.labels, result.summary, None),
                               timeout=TABLE_SECONDS)
    except Exception as exc:  # noqa: BLE001 - a cache that fails is a miss
        log.warning("chart table cache: write failed (%s)", exc)


# ------------------------------------------------------------------ headline figures
def headlines_of(services, theme: Theme) -> list[dict]:
    """The theme's headline figures (label, value, text, sources, error); a figure reading data
    that is not open says so instead."""
    from explorer.themes.charts import headline_values

    items = _remembered(services, HEADLINES, (theme.slug, theme.digest),
                        lambda: headline_values(theme, services.data),
                        keep=lambda items: all(h.get("error") is None for h in items))
    out = []
    for spec, item in zip(theme.headline_specs(), items):
        closed = not_open(services, [ds for ds, _ in spec.inputs()])
        if closed:   # the figure is never shown, whenever it was worked out
            item = {**item, "value": None, "text": "not available", "detail": "", "sources": [],
                    "error": not_open_reason(closed), "not_open": _named(closed)}
        out.append(item)
    return out


def dashboards(services, figures: int = 2) -> list[tuple[Theme, list[dict]]]:
    """Each theme with its first ``figures`` headline figures that could be worked out (the
    /themes index and the home page)."""
    return [(theme, [h for h in headlines_of(services, theme) if h.get("error") is None][:figures])
            for theme in themes_of(services).values()]


# ------------------------------------------------------------------ the map
def _layer_style(services, info, params: dict, layer: dict) -> dict:
    """The map explorer's style for a layer (classes, colours, legend labels) with its values."""
    from explorer.maps.palettes import palette_colours
    from explorer.maps.values import values_payload

    variable = params.get("variable")
    values = None
    if variable:
        values = values_payload(services.data, params["dataset"], info.resource_id, variable)
    meta = {"dataset": params["dataset"], "kind": info.kind, "unit": info.unit, "filter": {}}
    style = style_for(services, meta, variable, params.get("method", "quantile"), params.get("classes", 5),
                      params.get("palette", "blues"), values)
    if not variable and info.kind == "polygons" and (layer.get("classes") or {}).get("palette"):
        # an area layer with no variable but a palette of its own: filled in one colour
        style = {"mode": "single", "colour": palette_colours(params["palette"], 5)[3]}
    return {**style, "values": values}


def map_layers(services, theme: Theme) -> list[dict]:
    """The theme's map layers, each ready for the page: spec, info, style, hideout, label; a layer
    that cannot be drawn carries its ``error`` (and ``not_open`` when its data is not open)."""
    items = _remembered(services, MAPS, (theme.slug, theme.digest), lambda: _map_layers(services, theme),
                        keep=lambda items: all(not i.get("error") for i in items))
    out = []
    for item in items:
        closed = not_open(services, [item["dataset"]])
        if closed:   # no values, classes or legend of a dataset that is not open
            item = {"uid": item["uid"], "label": item["label"], "dataset": item["dataset"],
                    "resource": item["resource"], "variable": item["variable"], "hidden": item["hidden"],
                    "entry": closed[0], "info": None, "hideout": None, "boundary": item["boundary"],
                    "error": not_open_reason(closed), "not_open": _named(closed)}
        out.append(item)
    return out


def _map_layers(services, theme: Theme) -> list[dict]:
    out = []
    for i, (params, layer) in enumerate(zip(theme.layer_params(), theme.map_layers)):
        uid = f"{theme.slug}-{i}"
        spec = LayerSpec(**dict(params), uid=uid)
        entry = services.registry.get(spec.dataset)
        label = layer.get("label") or (entry.title if entry else spec.dataset)
        item = {"uid": uid, "label": label, "dataset": spec.dataset, "resource": spec.resource,
                "variable": spec.variable, "hidden": bool(spec.hidden), "entry": entry, "info": None,
                "error": None, "hideout": None, "boundary": bool(entry and "boundaries" in entry.themes)}
        info, error = layer_info_safe(services, spec)
        if error or info is None:
            item["error"] = error or "This layer could not be prepared."
            out.append(item)
            continue
        try:
            style = _layer_style(services, info, params, layer)
        except Exception as exc:  # noqa: BLE001 - one layer's failure must not break the page
            log.warning("theme %s: layer %s has no values (%s)", theme.slug, spec.dataset, exc)
            item["error"] = f"The values of this layer could not be read ({getattr(exc, 'reason', exc)})."
            out.append(item)
            continue
        item.update(info=info, resource=info.resource_id, spec=spec, style=style, unit=info.unit,
                    hideout=hideouts.layer(
                        uid, {k: v for k, v in style.items() if k != "values"}, values=style.get("values"),
                        opacity=spec.opacity / 100, hidden=spec.hidden, kind=info.kind, unit=info.unit,
                        selected=[],
                        # which code families the layer holds: the browser fades the rest of a
                        # layer holding a selected place (assets/theme_selection.js)
                        prefixes=code_prefixes(services, spec.dataset, info.resource_id)))
        out.append(item)
    return out


def borough_options(services) -> list[dict]:
    """The 33 London boroughs (with the City) for the picker, by name; [] when they cannot load."""
    def compute():
        from explorer.maps.values import layer_table
        try:
            table = layer_table(services.data, *BOROUGHS)
        except Exception as exc:  # noqa: BLE001
            log.info("borough picker: boundaries not available (%s)", exc)
            return []
        rows = sorted({(str(r.name), str(r.code)) for r in table.itertuples(index=False) if r.code})
        return [{"label": name, "value": code} for name, code in rows]

    return _remembered(services, BOROUGH_OPTIONS, BOROUGHS, compute, keep=bool)


def layer_codes(services, dataset: str, resource: str | None) -> dict[str, str]:
    """{code: name} of a map layer's features."""
    def compute():
        from explorer.maps.values import layer_table
        table = layer_table(services.data, dataset, resource)
        return {str(c): str(n) for n, c in zip(table["name"], table["code"])
                if isinstance(c, str) and c}

    return _remembered(services, LAYER_CODES, (dataset, resource), compute)


def code_prefixes(services, dataset: str, resource: str | None) -> list[str]:
    """The GSS code families of a layer's features (``["E01"]`` for LSOAs), [] when unknown."""
    try:
        return sorted({code[:3] for code in layer_codes(services, dataset, resource)})
    except Exception:  # noqa: BLE001 - a layer without codes has no places to outline
        return []


# ------------------------------------------------------------------ selection
def visible_layers(layers_meta: list[dict], visible_values: list, visible_ids: list) -> list[dict]:
    """The page's layers whose switch is on."""
    shown = {vid["index"] for vid, value in zip(visible_ids, visible_values) if value}
    return [m for m in layers_meta or [] if m["uid"] in shown]


def map_pick(services, shown: list[dict], lat: float, lon: float) -> dict:
    """The places under a click on the map at (lat, lon), from the ``shown`` layers (and the
    borough boundaries): their codes (the borough first), names, a label, and each shown layer's
    value there."""
    from explorer.maps.hit_test import features_at

    query = [(m["dataset"], m["resource"], m.get("variable")) for m in shown]
    if not any(m["dataset"] == BOROUGHS[0] for m in shown):
        query.append((BOROUGHS[0], None, None))
    try:
        hits = features_at(services.data, query, lon, lat)
    except Exception:  # noqa: BLE001
        log.exception("theme map: features_at failed")
        hits = []
    labels = {(m["dataset"], m["resource"]): m for m in shown}
    codes: list[str] = []
    names: dict[str, str] = {}
    borough = None
    at = []
    for hit in hits:
        code = hit.get("code")
        if hit.get("kind") == "polygons" and isinstance(code, str) and code:
            if code not in codes:
                codes.append(code)
            if hit.get("name"):
                names[code] = str(hit["name"])
            if code.startswith("E09") and borough is None:
                borough = code
        meta = labels.get((hit["dataset_id"], hit["resource_id"]))
        if meta is not None and (hit.get("variable") or meta.get("variable")):
            at.append({"layer": meta["label"], "name": hit.get("name"), "code": code,
                       "value": hit.get("value"), "unit": meta.get("unit") or hit.get("unit")})
    if not codes:
        return {"codes": [], "names": {}, "label": "", "source": "map", "at": [],
                "note": "Nothing on the map at that place (it may be outside London)."}
    # the borough first, then the smaller areas inside it
    codes.sort(key=lambda c: (not c.startswith("E09"), c))
    label = names.get(borough) if borough else None
    smaller = [names.get(c) for c in codes if not c.startswith("E09") and names.get(c)]
    if smaller:
        label = f"{smaller[0]}, {label}" if label else smaller[0]
    return {"codes": codes, "names": names, "label": label or codes[0], "source": "map", "at": at,
            "latlng": [round(lat, 5), round(lon, 5)]}


def map_focus(services, layers_meta: list[dict], codes: list[str], names: dict) -> tuple[list[str], list[str]]:
    """(codes to outline on the map, uids of the layers holding one of them).

    A selection of boroughs alone (the picker, a borough's bar) also outlines the small areas
    inside them, matched by name: LSOA and MSOA names begin with their borough's name."""
    map_codes = list(codes)
    focus: list[str] = []
    boroughs_only = bool(codes) and all(c.startswith("E09") for c in codes)
    borough_names = [names.get(c) for c in codes if c.startswith("E09") and names.get(c)]
    for meta in layers_meta or []:
        try:
            layer = layer_codes(services, meta["dataset"], meta.get("resource"))
        except Exception:  # noqa: BLE001 - a layer that cannot load has no features to outline
            continue
        inside = []
        if boroughs_only and borough_names:
            prefixes = tuple(f"{n} " for n in borough_names)
            inside = [c for c, n in layer.items() if c.startswith(("E01", "E02")) and n.startswith(prefixes)]
            map_codes.extend(c for c in inside if c not in map_codes)
        if inside or any(c in layer for c in codes):
            focus.append(meta["uid"])
    return map_codes, focus


def place_figures(services, theme: Theme, codes: list[str]) -> list[dict]:
    """For each chart, the figures of the selected places: [{chart, title, rows: [text]}]."""
    from explorer.themes.charts import fmt_number

    out = []
    wanted = set(codes)
    for spec in theme.charts:
        result = chart_table(services, theme, spec)
        table = result.data
        if result.error or "area_code" not in table.columns:
            continue
        hits = table[table["area_code"].astype("string").isin(wanted).fillna(False)]
        if hits.empty:
            continue
        labels = result.labels or {}
        name_col = "area_name" if "area_name" in table.columns else ("label" if "label" in table.columns else None)
        skip = {"area_code", "area_name", "label", "facet", "borough_code", "x", "from", "to"}
        value_cols = [c for c in table.columns if c not in skip and c in labels
                      and str(table[c].dtype) not in ("object", "string", "str")]
        if len(value_cols) > 3:
            value_cols = [value_cols[0], value_cols[-1]]
        decimals = int(spec.get("decimals", 1))
        rows = []
        ranked = spec.type == "ranked_bar" and "value" in table.columns and len(value_cols) >= 1
        for index, row in hits.head(4).iterrows():
            parts = [f"{labels.get(col, col)}: {fmt_number(row[col], decimals)}" for col in value_cols]
            prefix = ""
            if "facet" in table.columns:
                facet_labels = spec.get("facet_labels") or {}
                prefix = f"{facet_labels.get(row['facet'], row['facet'])} – "
            name = row[name_col] if name_col else row["area_code"]
            text = f"{name}: {prefix}" + "; ".join(parts)
            if ranked and spec.get("sort", "value") == "value":
                text += f" (ranked {int(list(table.index).index(index)) + 1} of {len(table)}, highest first)"
            rows.append(text)
        if len(hits) > 4:
            rows.append(f"… and {len(hits) - 4:,} more")
        out.append({"chart": spec.id, "title": spec.title, "rows": rows})
    return out


# ------------------------------------------------------------------ the whole page
@dataclass
class ChartPart:
    """One chart of a page: its spec, its result and the registry entries of its datasets."""
    spec: object
    result: object
    entries: dict = field(default_factory=dict)


@dataclass
class ThemePage:
    """Everything a theme page shows, for ``layouts.theme_page.theme_page``. ``complete`` is False
    when a chart, headline figure, map layer or the borough picker could not be drawn (a page
    worth drawing again, not keeping); a part not drawn because its data is not open is as it
    should be."""
    theme: Theme
    charts: list[ChartPart]
    headlines: list[dict]
    headline_entries: dict
    layers: list[dict]
    boroughs: list[dict]
    focus: str | None
    complete: bool


def theme_page(services, slug: str, chart: str | None = None) -> ThemePage | None:
    """The data of a theme file's page, or None when no theme file has this slug. ``chart`` (a
    permalink's ``?chart=<id>``) is the chart the page opens at, when the theme has it."""
    theme = themes_of(services).get(slug)
    if theme is None:
        return None
    registry = services.registry
    charts = []
    for spec in theme.charts:
        result = chart_result(services, theme, spec)
        entries = {ds: registry.get(ds) for ds, _ in spec.inputs()}
        for src in result.sources:
            entries.setdefault(src["dataset_id"], registry.get(src["dataset_id"]))
        charts.append(ChartPart(spec=spec, result=result, entries=entries))
    headlines = headlines_of(services, theme)
    headline_entries = {}
    for h in headlines:
        for src in h.get("sources") or []:
            headline_entries.setdefault(src["dataset_id"], registry.get(src["dataset_id"]))
    layers = map_layers(services, theme)
    boroughs = borough_options(services)
    complete = (bool(boroughs)
                and all(c.result.error is None or closed_chart(services, c.spec) is not None for c in charts)
                and all(h.get("error") is None or h.get("not_open") for h in headlines)
                and all(not item.get("error") or item.get("not_open") for item in layers))
    return ThemePage(theme=theme, charts=charts, headlines=headlines, headline_entries=headline_entries,
                     layers=layers, boroughs=boroughs, focus=chart if theme.chart(chart or "") else None,
                     complete=complete)
