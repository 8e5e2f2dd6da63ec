"""Themed dashboards: the /themes index, one page per theme file, and map ↔ chart selection.

Every theme file in ``geodata/themes`` is loaded and checked when the app starts
(:func:`checked_themes`): a theme that names a dataset, resource or column that does not exist
stops the start with the file, the line and the field. Columns can only be checked against data,
so with no local data folder only the registry is checked (and problems are logged, not raised):
the app must still start offline with nothing downloaded, and then each chart says why it cannot
be drawn.

A page's selection (places picked on the map, in a chart or with the borough picker) lives in the
``theme-selection`` store as a list of GSS codes. The picker, chart clicks and Clear set it in the
browser (``explorerTheme.select`` in assets/theme_selection.js); a click on the map asks the server
which places lie under it (:func:`_map_pick`). Three things follow it: every chart is restyled with
those codes highlighted from the hints its traces carry (browser, ``explorerTheme.highlight``;
explorer/themes/charts.py draws the same highlight for exported images), every map layer outlines them
through its ``hideout`` (browser, ``explorer.theme.layerStyle`` in assets/theme_map.js), and the
"selected place" panel lists their figures (server). The map layers are the map explorer's: the same ``geo_layer`` (geometry once
by URL as geobuf), the same classes, palettes and legends (``_style_for``, ``legend``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from dash import ALL, MATCH, ClientsideFunction, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from explorer.geo.joins import DatasetError
from explorer.maps.layers import LayerSpec
from explorer.themes.theme_files import Theme, ThemeError, load_themes, validate_theme
from layouts import theme_page as view

log = logging.getLogger(__name__)

GSS_RE = re.compile(r"^[EWSNK]\d{8}$")
BOROUGHS = ("london-boroughs", None)
MAX_SELECTED = 2000          # codes kept from one box or lasso selection
TABLE_ROWS = 1000            # rows of a chart's "show data" table drawn at most


# ================================================================================ start-up checks
class _Columns:
    """A stand-in for a loaded dataset: only its columns, which is all the check reads."""

    def __init__(self, columns: list[str]):
        import pandas as pd
        self.frame = pd.DataFrame(columns=columns)


class _ColumnsOnly:
    """What the start-up check needs from the data: each file's columns.

    Read from the file held locally (the data folder or the store; never downloaded: a start must
    not wait on the network), without joining it to boundaries (the slow part of a load), and kept
    in the app's cache (filesystem or Redis), so a restart reads nothing. A resource that is not
    held locally raises DatasetError, which ``validate_theme`` reports as a warning: its chart will
    say why it cannot be drawn. A joined load adds ``area_code`` and ``area_name``.

    A plain delimited text file (most of the data) is read only as far as its first rows, by the
    loader's own readers, so its columns are named as a full load names them (tens of ms for a
    file of tens of thousands of rows become a few). Those columns are all in the full load, which may
    have more (an unnamed column empty in the first rows is dropped from them), so
    ``validate_theme`` asks the unjoined load (``join=False``, the whole file) before it calls a
    column missing.
    """

    JOIN_COLUMNS = ["area_code", "area_name"]
    HEAD_BYTES = 32 * 1024

    def __init__(self, services):
        self._data = services.data
        self._cache = services.cache
        self._data_dir = str(services.settings.data_dir)

    def load(self, dataset_id, resource_id=None, join=True):
        from explorer.data.cache import cache_key, cached

        entry = self._data.entry(dataset_id)
        try:
            resource = entry.resource(resource_id)
        except LookupError as exc:
            raise DatasetError(dataset_id, "registry", str(exc)) from None
        if self._data.resolver.where(entry, resource.id).get("available") not in ("local", "store"):
            raise DatasetError(dataset_id, "resolve", f"{dataset_id}/{resource.id} is not held locally")
        if not join:   # every column of the file
            key = cache_key("theme-check-columns", 1, entry.id, resource.id, entry.content_hash(), self._data_dir)
            return _Columns(list(cached(self._cache, key, lambda: self._read(entry, resource))))
        key = cache_key("theme-check-head-columns", 2, entry.id, resource.id, entry.content_hash(), self._data_dir)
        columns = cached(self._cache, key, lambda: self._read(entry, resource, head=True))
        return _Columns(list(columns) + self.JOIN_COLUMNS)

    def _read(self, entry, resource, head: bool = False) -> list[str]:
        from explorer.data.loaders import LoadError, load_file
        from explorer.data.resolver import ResolveError

        try:
            resolved = self._data.resolver.resolve(entry, resource.id)
            if head:
                columns = self._head_columns(Path(resolved.path), resource)
                if columns is not None:
                    return columns
            frame = load_file(resolved.path, resource).frame
        except (ResolveError, LoadError) as exc:
            raise DatasetError(entry.id, "load", str(exc)) from None
        return [str(c) for c in frame.columns if c != "geometry"]

    def _head_columns(self, path: Path, resource) -> list[str] | None:
        """The columns of a plain (not zipped, not gzipped) CSV/TSV file from its first rows, as
        the loader names them; None for any other file or when the first rows cannot be read
        alone (the whole file is read then)."""
        from explorer.data.loaders import normalise_format
        from explorer.data.loaders._spreadsheet import published_table
        from explorer.data.loaders._tables import GZIP_MAGIC, find_wkt_column, read_delimited, tidy_frame
        from explorer.catalogue.models import guess_format

        fmt = normalise_format(resource.format) or guess_format(path.name)
        if fmt not in ("csv", "tsv", "txt") or resource.archive_member or not path.is_file():
            return None
        with open(path, "rb") as fh:
            raw = fh.read(self.HEAD_BYTES)
            whole = not fh.read(1)
        if raw[:2] == GZIP_MAGIC or raw[:4] == b"PK\x03\x04":
            return None
        if not whole:
            cut = raw.rfind(b"\n")
            if cut <= 0:
                return None
            raw = raw[:cut + 1]
        options = dict(resource.options or {})
        try:
            frame = read_delimited(raw, path.name, fmt, options, [])
            if options.get("published_table"):     # headers cleaned as a full load cleans them
                frame = published_table(frame, path.name, options, [])
            frame = tidy_frame(frame, path.name, options, [])
        except Exception:  # noqa: BLE001 - e.g. a quoted field cut in two: read the whole file
            return None
        wkt = options.get("wkt") or find_wkt_column(frame)
        return [str(c) for c in frame.columns if c not in ("geometry", wkt)]

    def __getattr__(self, name):
        return getattr(self._data, name)


_CHECKED: dict[tuple, list[str]] = {}
_CHECKED_LOCK = threading.Lock()


def _check_key(services, themes: list[Theme], full: bool) -> tuple:
    registry = services.registry
    files = []
    for theme in themes:
        try:
            st = theme.path.stat()
            files.append((str(theme.path), st.st_mtime_ns, st.st_size))
        except OSError:
            files.append((str(theme.path), 0, 0))
    hashes = []
    for theme in themes:
        for ds in theme.dataset_ids() + [layer["dataset"] for layer in theme.map_layers]:
            entry = registry.get(ds)
            hashes.append((ds, entry.content_hash() if entry is not None else None))
    return (tuple(files), tuple(sorted(set(hashes), key=str)), str(services.settings.data_dir), full)


def checked_themes(services, folder: Path | None = None) -> list[Theme]:
    """Load every theme file and check it against the registry and, when a local data folder is
    there, against the data (every column named must exist).

    Raises ThemeError (file, line, field) for a theme file that cannot be read or, with data,
    names a missing dataset, resource or column. Without a data folder the registry check still
    runs but only logs what it finds, so the app starts offline with no data.
    """
    themes = load_themes(folder)
    data_dir = services.settings.data_dir
    full = bool(data_dir) and Path(data_dir).is_dir()
    key = _check_key(services, themes, full)
    with _CHECKED_LOCK:
        if key in _CHECKED:
            return themes
    warnings: list[str] = []
    for theme in themes:
        if full:
            warnings += validate_theme(theme, services.registry, _ColumnsOnly(services))
        else:
            try:
                warnings += validate_theme(theme, services.registry, None)
            except ThemeError as exc:
                log.warning("theme %s cannot be shown as written (no data folder to check against): %s",
                            theme.slug, exc)
    for warning in warnings:
        log.info("theme check: %s", warning)
    with _CHECKED_LOCK:
        _CHECKED[key] = warnings
    return themes


# ================================================================================ computed parts
class _Memo:
    """A small thread-safe LRU for chart results and headline figures."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, compute, keep=None):
        """The remembered value, or ``compute()``; kept only when ``keep(value)`` (default: always),
        so a failure (data not there yet, a download that timed out) is tried again next time."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()
        if keep is not None and not keep(value):
            return value
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_CHARTS = _Memo(256)         # the charts as a page first draws them
_HIGHLIGHTS = _Memo(128)     # charts with places highlighted: apart, so that many boroughs'
                             # highlights never push the plain charts (every page's) out
_HEADLINES = _Memo(32)
_MAPS = _Memo(32)
_BOROUGHS = _Memo(8)
_TABLES = _Memo(128)         # charts' tables read from the app's cache (drawn by another worker)


def _scope(services) -> tuple:
    return (id(services.data), str(services.settings.data_dir))


def themes_of(services) -> dict[str, Theme]:
    themes = getattr(services, "themes", None)
    if themes is None:
        themes = {t.slug: t for t in load_themes()}
        services.themes = themes
    return themes


# ------------------------------------------------------------------ open data only
# A theme page is public and kept in caches shared by every visitor (this process's memos, the app
# cache, the static first paint, exports), none of which knows who asked. So a themed dashboard
# only ever draws open data: a chart, headline figure or map layer reading a dataset that is shared
# or closed is shown to everyone as a notice pointing to the dataset's page, never its figures, even
# to people who may read its files there. The check is made against the registry each time a part
# is read (not when it was drawn), so a part drawn while its data was open is never served after
# the data is shared; the page's cache key holds each dataset's content hash, access level included.
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


def _closed_chart(services, spec):
    """The notice result for a chart reading a dataset that is not open, else None."""
    closed = not_open(services, [ds for ds, _ in spec.inputs()])
    return _not_open_chart(spec, closed) if closed else None


def chart_result(services, theme: Theme, spec, codes=()):
    """``build_chart`` for the page (never raises), remembered per highlighted set; a notice, never
    the figures, when a dataset it reads is not open."""
    from explorer.themes.charts import build_chart

    closed = _closed_chart(services, spec)
    if closed is not None:
        return closed
    codes = tuple(sorted({str(c) for c in codes or ()}))
    key = (_scope(services), theme.slug, spec.id, codes)
    memo = _HIGHLIGHTS if codes else _CHARTS
    return memo.get(key, lambda: build_chart(spec, services.data, highlight=list(codes) or None),
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
    """A chart's table, without drawing the chart when it can be helped: from this process's
    memo (the page was drawn here), else from the app's cache (with Redis: drawn by another worker
    or by ``explorer warm``), else drawn now and kept in both. A worker that finds its theme pages
    already made never draws their charts just to answer a click."""
    from explorer.data.cache import cached

    closed = _closed_chart(services, spec)
    if closed is not None:
        return ChartTable(closed.data, {}, closed.summary, closed.error)
    key = (_scope(services), theme.slug, spec.id, ())
    with _CHARTS._lock:
        known = _CHARTS._data.get(key)
    if known is not None:
        return ChartTable(known.data, known.labels, known.summary, known.error)
    shared = _table_key(services, theme, spec)

    def draw() -> ChartTable | None:
        result = chart_result(services, theme, spec)
        return None if result.error else ChartTable(result.data, result.labels, result.summary, None)

    table = _TABLES.get(shared, lambda: cached(services.cache, shared, draw, timeout=3600),
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
            services.cache.set(shared, ChartTable(result.data, result.labels, result.summary, None), timeout=3600)
    except Exception as exc:  # noqa: BLE001 - a cache that fails is a miss
        log.warning("chart table cache: write failed (%s)", exc)


def highlighted_figure(services, theme: Theme, spec, codes):
    """A chart drawn with ``codes`` highlighted, as the page's figure (a dict), or no_update when
    it cannot be drawn. Kept in the app's cache for ten minutes, so with Redis every worker shares
    it: rebuilding a theme's charts costs 0.5–1 s of CPU per selection, and many people pick the
    same boroughs. The key holds each input dataset's registry content hash."""
    from explorer.data.cache import cache_key, cached

    codes = tuple(sorted({str(c) for c in codes or ()}))
    versions = services.registry.versions(ds for ds, _ in spec.inputs())
    key = cache_key("theme-figure", 1, theme.slug, spec.id, codes, versions, str(services.settings.data_dir))

    def draw():
        result = chart_result(services, theme, spec, codes)
        return None if result.error else view.page_figure(result.figure).to_plotly_json()

    figure = cached(services.cache, key, draw, timeout=600)
    return no_update if figure is None else figure


def headlines_of(services, theme: Theme) -> list[dict]:
    from explorer.themes.charts import headline_values

    items = _HEADLINES.get((_scope(services), theme.slug), lambda: headline_values(theme, services.data),
                           keep=lambda items: all(h.get("error") is None for h in items))
    out = []
    for spec, item in zip(theme.headline_specs(), items):
        closed = not_open(services, [ds for ds, _ in spec.inputs()])
        if closed:   # the figure is never shown, whenever it was worked out
            item = {**item, "value": None, "text": "not available", "detail": "", "sources": [],
                    "error": not_open_reason(closed), "not_open": _named(closed)}
        out.append(item)
    return out


def _layer_style(services, info, params: dict, layer: dict) -> dict:
    """The map explorer's style for a layer (classes, colours, legend labels), as its hideout."""
    from callbacks.map_explorer import _style_for
    from explorer.maps import layer_data as mapdata
    from explorer.maps.palettes import palette_colours

    variable = params.get("variable")
    values = None
    if variable:
        values = mapdata.values_payload(services.data, params["dataset"], info.resource_id, variable)
    meta = {"kind": info.kind, "unit": info.unit, "filter": {}}
    style = _style_for(services, meta, variable, params.get("method", "quantile"), params.get("classes", 5),
                       params.get("palette", "blues"), values)
    if not variable and info.kind == "polygons" and (layer.get("classes") or {}).get("palette"):
        # an area layer with no variable but a palette of its own: filled in one colour
        style = {"mode": "single", "colour": palette_colours(params["palette"], 5)[3]}
    return {**style, "values": values}


def map_layers(services, theme: Theme) -> list[dict]:
    """The theme's map layers, each ready for the page: component, hideout, legend, label."""
    items = _MAPS.get((_scope(services), theme.slug), lambda: _map_layers(services, theme),
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
    from callbacks.map_explorer import layer_info_safe

    out = []
    for i, (params, layer) in enumerate(zip(theme.layer_params(), theme.map_layers)):
        uid = f"{theme.slug}-{i}"
        spec = LayerSpec(**{k: v for k, v in params.items()}, uid=uid)
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
                    hideout={**{k: v for k, v in style.items()}, "uid": uid,
                             "opacity": spec.opacity / 100, "hidden": bool(spec.hidden),
                             "kind": info.kind, "unit": info.unit, "selected": [],
                             # which code families the layer holds: the browser fades the rest of
                             # a layer holding a selected place (assets/theme_selection.js)
                             "prefixes": _code_prefixes(services, spec.dataset, info.resource_id)})
        out.append(item)
    return out


def borough_options(services) -> list[dict]:
    """The 33 London boroughs (with the City) for the picker, by name; [] when they cannot load."""
    def compute():
        from explorer.maps import layer_data as mapdata
        try:
            table = mapdata.layer_table(services.data, *BOROUGHS)
        except Exception as exc:  # noqa: BLE001
            log.info("borough picker: boundaries not available (%s)", exc)
            return []
        rows = sorted({(str(r.name), str(r.code)) for r in table.itertuples(index=False) if r.code})
        return [{"label": name, "value": code} for name, code in rows]

    return _BOROUGHS.get(_scope(services), compute, keep=bool)


_LAYER_CODES = _Memo(32)


def _layer_codes(services, dataset: str, resource: str | None) -> dict[str, str]:
    """{code: name} of a map layer's features."""
    def compute():
        from explorer.maps import layer_data as mapdata
        table = mapdata.layer_table(services.data, dataset, resource)
        return {str(c): str(n) for n, c in zip(table["name"], table["code"])
                if isinstance(c, str) and c}

    return _LAYER_CODES.get((_scope(services), dataset, resource), compute)


def _code_prefixes(services, dataset: str, resource: str | None) -> list[str]:
    """The GSS code families of a layer's features (``["E01"]`` for LSOAs), [] when unknown."""
    try:
        return sorted({code[:3] for code in _layer_codes(services, dataset, resource)})
    except Exception:  # noqa: BLE001 - a layer without codes has no places to outline
        return []


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
            layer = _layer_codes(services, meta["dataset"], meta.get("resource"))
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


def _names(services, theme: Theme) -> dict[str, str]:
    """Names of the places the page knows: boroughs and every area in its charts."""
    names = {o["value"]: o["label"] for o in borough_options(services)}
    for spec in theme.charts:
        table = chart_table(services, theme, spec).data
        if "area_code" in table.columns:
            name_col = "area_name" if "area_name" in table.columns else None
            if name_col:
                for code, name in zip(table["area_code"], table[name_col]):
                    if isinstance(code, str) and code not in names and isinstance(name, str):
                        names[code] = name
    return names


# ================================================================================ pages
def index_page(services):
    themes = list(themes_of(services).values())
    cards = []
    for theme in themes:
        figures = [h for h in headlines_of(services, theme) if h.get("error") is None][:2]
        cards.append(view.theme_card(theme, figures))
    registry_themes = services.registry.facet_totals().get("theme", [])
    return view.index_page(cards, registry_themes)


def theme_page(services, slug: str, chart: str | None = None):
    """(page, title) for a theme file, or None when no theme file has this slug. ``chart`` (a
    permalink's ``?chart=<id>``) scrolls the page to that chart."""
    built = build_theme_page(services, slug, chart)
    return None if built is None else built[:2]


def build_theme_page(services, slug: str, chart: str | None = None):
    """(page, title, complete) for a theme file, or None when no theme file has this slug;
    ``complete`` is False when a chart, headline figure, map layer or the borough picker could
    not be drawn (a page worth drawing again, not keeping)."""
    theme = themes_of(services).get(slug)
    if theme is None:
        return None
    registry = services.registry
    charts = []
    for spec in theme.charts:
        result = chart_result(services, theme, spec)
        entries = {}
        for ds, _ in spec.inputs():
            entries[ds] = registry.get(ds)
        for src in result.sources:
            entries.setdefault(src["dataset_id"], registry.get(src["dataset_id"]))
        charts.append(view.ChartView(spec=spec, result=result, entries=entries))
    headlines = headlines_of(services, theme)
    headline_entries = {}
    for h in headlines:
        for src in h.get("sources") or []:
            headline_entries.setdefault(src["dataset_id"], registry.get(src["dataset_id"]))
    layers = map_layers(services, theme)
    boroughs = borough_options(services)
    page = view.theme_page(theme, headlines, headline_entries, layers, charts, boroughs,
                           focus=chart if theme.chart(chart or "") else None)
    # a part not drawn because its data is not open is as it should be, not a failure to retry
    complete = (bool(boroughs)
                and all(cv.result.error is None or _closed_chart(services, cv.spec) is not None for cv in charts)
                and all(h.get("error") is None or h.get("not_open") for h in headlines)
                and all(not item.get("error") or item.get("not_open") for item in layers))
    return page, f"{theme.title} – Themes – London Data Explorer", complete


# ================================================================================ selection
def _codes_from_points(points) -> list[str]:
    codes: list[str] = []
    for point in points or []:
        custom = point.get("customdata")
        values = custom if isinstance(custom, list) else [custom]
        for value in values:
            if isinstance(value, str) and GSS_RE.match(value) and value not in codes:
                codes.append(value)
    return codes[:MAX_SELECTED]


def _visible_layers(layers_meta: list[dict], visible_values: list, visible_ids: list) -> list[dict]:
    shown = {vid["index"] for vid, value in zip(visible_ids, visible_values) if value}
    return [m for m in layers_meta or [] if m["uid"] in shown]


def _map_pick(services, layers_meta, visible_values, visible_ids, click) -> dict | None:
    from explorer.maps import layer_data as mapdata

    latlng = (click or {}).get("latlng")
    if not latlng:
        return None
    lat, lon = (latlng["lat"], latlng["lng"]) if isinstance(latlng, dict) else latlng
    shown = _visible_layers(layers_meta, visible_values, visible_ids)
    query = [(m["dataset"], m["resource"], m.get("variable")) for m in shown]
    if not any(m["dataset"] == BOROUGHS[0] for m in shown):
        query.append((BOROUGHS[0], None, None))
    try:
        hits = mapdata.features_at(services.data, query, lon, lat)
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


def _chart_pick(services, theme: Theme, chart_id: str, data: dict | None) -> dict | None:
    """The places a click or a box/lasso selection in a chart picked (points carry their codes): the
    server's reading of a pick, which the page makes in the browser (explorerTheme.select in
    assets/theme_selection.js) with the same rules."""
    if not data:
        return None
    codes = _codes_from_points(data.get("points"))
    spec = theme.chart(chart_id)
    if not codes:
        return None
    names = _names(services, theme)
    title = spec.title if spec is not None else chart_id
    if len(codes) == 1:
        label = names.get(codes[0], codes[0])
    else:
        label = f"{len(codes):,} places selected in the chart “{_short(title)}”"
    return {"codes": codes, "names": {c: names[c] for c in codes if c in names}, "label": label,
            "source": "chart", "chart": chart_id, "at": []}


def _short(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


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
            parts = []
            for col in value_cols:
                value = row[col]
                parts.append(f"{labels.get(col, col)}: {fmt_number(value, decimals)}")
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


# ================================================================================ callbacks
def register(app, services) -> None:
    services.themes = {t.slug: t for t in checked_themes(services)}

    def theme_for(slug) -> Theme:
        theme = themes_of(services).get(slug or "")
        if theme is None:
            raise PreventUpdate
        return theme

    # Picker, chart click or box/lasso selection, clear → the page's selection, in the browser ----
    app.clientside_callback(
        ClientsideFunction(namespace="explorerTheme", function_name="select"),
        Output("theme-selection", "data", allow_duplicate=True),
        Output("theme-picker", "value", allow_duplicate=True),
        Input("theme-picker", "value"),
        Input({"type": "theme-chart", "index": ALL}, "clickData"),
        Input({"type": "theme-chart", "index": ALL}, "selectedData"),
        Input("theme-clear", "n_clicks"),
        State("theme-selection", "data"),
        State("theme-picker", "options"),
        prevent_initial_call=True,
    )

    # A click on the map → the places under it (the server hit-tests the layers) ----------------
    @app.callback(
        Output("theme-selection", "data", allow_duplicate=True),
        Output("theme-picker", "value", allow_duplicate=True),
        Input("theme-map", "clickData"),
        State("theme-layers", "data"),
        State({"type": "theme-layer-visible", "index": ALL}, "value"),
        State({"type": "theme-layer-visible", "index": ALL}, "id"),
        State("theme-slug", "data"),
        prevent_initial_call=True,
    )
    def select(map_click, layers_meta, visible_values, visible_ids, slug):
        theme_for(slug)
        picked_place = _map_pick(services, layers_meta, visible_values, visible_ids, map_click)
        if picked_place is None:
            raise PreventUpdate
        borough = next((c for c in picked_place["codes"] if c.startswith("E09")), None)
        if picked_place.get("codes"):
            map_codes, focus = map_focus(services, layers_meta, picked_place["codes"], picked_place.get("names") or {})
            picked_place = dict(picked_place, map_codes=map_codes, focus=focus)
        return picked_place, borough

    # Every chart highlights the selection: its traces restyled in the browser -----------------
    app.clientside_callback(
        ClientsideFunction(namespace="explorerTheme", function_name="highlight"),
        Output({"type": "theme-chart", "index": ALL}, "figure"),
        Input("theme-selection", "data"),
        State({"type": "theme-chart", "index": ALL}, "figure"),
        prevent_initial_call=True,
    )

    # The selected place's figures ------------------------------------------------------------
    @app.callback(
        Output("theme-place", "children"),
        Output("theme-status", "children"),
        Input("theme-selection", "data"),
        State("theme-slug", "data"),
        prevent_initial_call=True,
    )
    def show_place(selection, slug):
        theme = theme_for(slug)
        selection = selection or {}
        codes = selection.get("codes") or []
        figures = place_figures(services, theme, codes) if codes and len(codes) <= 50 else []
        return view.place_panel(selection, figures), view.status_text(selection)

    # Map layers follow the selection and their visibility switches (in the browser) ------------
    app.clientside_callback(
        ClientsideFunction(namespace="explorerTheme", function_name="mapStyles"),
        Output({"type": "theme-geo", "index": ALL}, "hideout"),
        Input("theme-selection", "data"),
        Input({"type": "theme-layer-visible", "index": ALL}, "value"),
        State({"type": "theme-layer-visible", "index": ALL}, "id"),
        State({"type": "theme-geo", "index": ALL}, "hideout"),
        State({"type": "theme-geo", "index": ALL}, "id"),
        prevent_initial_call=True,
    )

    # A permalink to one chart (?chart=<id>, as the export links copy) opens the page at it, and
    # keeps it there while the charts above are drawn (assets/theme_focus.js) -------------------
    app.clientside_callback(
        ClientsideFunction(namespace="explorerThemeFocus", function_name="openAt"),
        Output("theme-focus", "id"),
        Input("theme-focus", "data"),
    )

    # "Show data": the table behind a chart, drawn when first opened ----------------------------
    @app.callback(
        Output({"type": "theme-table", "index": MATCH}, "children"),
        Output({"type": "theme-table", "index": MATCH}, "hidden"),
        Output({"type": "theme-table-toggle", "index": MATCH}, "aria-expanded"),
        Output({"type": "theme-table-toggle", "index": MATCH}, "children"),
        Input({"type": "theme-table-toggle", "index": MATCH}, "n_clicks"),
        State({"type": "theme-table", "index": MATCH}, "hidden"),
        State({"type": "theme-table", "index": MATCH}, "id"),
        State("theme-slug", "data"),
        prevent_initial_call=True,
    )
    def toggle_table(_clicks, hidden, table_id, slug):
        theme = theme_for(slug)
        if hidden is False:
            return no_update, True, "false", view.SHOW_DATA
        spec = theme.chart(table_id["index"])
        if spec is None:
            raise PreventUpdate
        result = chart_table(services, theme, spec)
        return view.data_table(spec, result, TABLE_ROWS), False, "true", view.HIDE_DATA


def clear_memo() -> None:
    """Forget computed charts, headlines and layers (tests; after the registry changes)."""
    for memo in (_CHARTS, _HIGHLIGHTS, _HEADLINES, _MAPS, _BOROUGHS, _LAYER_CODES, _TABLES):
        memo.clear()
    with _CHECKED_LOCK:
        _CHECKED.clear()


