"""Themed dashboards as data: one YAML file per theme in ``geodata/themes``.

A theme file holds the page's title, a one-sentence summary for the index card, a short narrative,
headline figures, the default map layers and the charts with the datasets that feed them. A new
theme is a new file. ``load_themes`` reads and checks the files' shape; ``validate_theme`` checks
them against the registry and the data (every dataset, resource and column named must exist) and
raises ``ThemeError`` naming the file, the line and the field of the first problem.

    slug: air-quality
    title: Air quality in London
    summary: One sentence for the index card.
    narrative: |
      Two to four short paragraphs of Markdown.
    headlines:
      - {label: …, compute: share_above, dataset: …, resource: …, args: {…}, format: percent}
    map:
      - {dataset: …, resource: …, variable: …, classes: {method: quantile, k: 5, palette: blues}, label: …}
    related:                        # optional: other themes to read beside this one
      - {theme: housing, text: "Housing costs: how far prices outran incomes"}
    charts:
      - id: no2-borough-2019
        type: ranked_bar            # ranked_bar | distribution | time_series | scatter_trend |
                                    # small_multiples | stacked_bar
        title: A statement of what the chart shows
        subtitle: …
        dataset: laei-borough
        resource: no2-2019          # or resources: [no2-2013, no2-2016, no2-2019]
        transform: values           # a named function of explorer.themes.chart_data
        args: {value: NO2-2019-mean}
        unit: µg/m³
        value_label: NO₂ annual mean
        reference_lines: [{value: 40, label: UK objective}]
        highlight_by: area_code
        caveat_note: …
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

import yaml

from explorer.guards import safe_yaml

CHART_TYPES = ("ranked_bar", "distribution", "time_series", "scatter_trend", "small_multiples",
               "stacked_bar")
HEADLINE_FORMATS = ("percent", "number", "signed_percent", "decimal", "currency", "multiple", "signed")
CLASS_METHODS = ("quantile", "equal", "jenks", "thresholds")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CHART_CORE = {"id", "type", "title", "subtitle", "dataset", "resource", "unit", "reference_lines"}
_CHART_KEYS = _CHART_CORE | {"resources", "transform", "args", "value_label", "x_label", "y_label",
                             "x_unit", "y_unit", "highlight_by", "caveat_note", "series_label",
                             "decimals", "bin_width", "style", "sort", "top", "log_x", "label_title",
                             "facet_order", "series_order", "x_title", "orientation", "things", "thing",
                             "points_label", "facet_labels", "facet_title", "context_label", "percent",
                             "columns", "zero", "slope_per", "x_unit_singular", "numerator_label",
                             "denominator_label", "n_label"}
_THEME_KEYS = {"slug", "title", "summary", "narrative", "headlines", "map", "charts", "related"}


class ThemeError(Exception):
    """A theme file that cannot be used; the message names the file, the line and the field."""

    def __init__(self, path: Path | str | None, line: int | None, field_name: str, message: str):
        self.path = Path(path) if path else None
        self.line = line
        self.field = field_name
        self.reason = message
        where = str(self.path) if self.path else "<theme>"
        if line:
            where += f", line {line}"
        super().__init__(f"{where}: {field_name}: {message}")


@dataclass
class ChartSpec:
    id: str
    type: str
    title: str
    subtitle: str
    dataset: str
    resource: str | None
    params: dict
    unit: str
    reference_lines: list[dict]
    line: int
    path: Path | None = None
    theme: str = ""
    lines: dict = field(default_factory=dict, repr=False)   # "args.value" → line

    @property
    def transform(self) -> str:
        return self.params.get("transform") or "values"

    @property
    def args(self) -> dict:
        return dict(self.params.get("args") or {})

    @property
    def resources(self) -> list[str | None]:
        return list(self.params.get("resources") or [self.resource])

    @property
    def highlight_by(self) -> str | None:
        return self.params.get("highlight_by")

    @property
    def caveat_note(self) -> str:
        return self.params.get("caveat_note") or ""

    def get(self, key: str, default=None):
        return self.params.get(key, default)

    def line_of(self, dotted: str) -> int:
        """The line of a field (``args.value``), or of the closest enclosing field, or of the chart."""
        parts = dotted.split(".")
        while parts:
            line = self.lines.get(".".join(parts))
            if line:
                return line
            parts.pop()
        return self.line

    def inputs(self) -> list[tuple[str, str | None]]:
        """Every (dataset, resource) the chart reads, main input first."""
        out: list[tuple[str, str | None]] = [(self.dataset, r) for r in self.resources]
        for _, ds, res, _ in iter_nested_inputs(self.args, self.dataset, self.resource, "args"):
            for r in res:
                if (ds, r) not in out:
                    out.append((ds, r))
        return out


@dataclass
class Theme:
    slug: str
    title: str
    summary: str
    narrative: str
    headlines: list[dict]
    map_layers: list[dict]
    charts: list[ChartSpec]
    path: Path
    related: list[dict] = field(default_factory=list)   # [{theme: slug, text: link text, _line}]

    def chart(self, chart_id: str) -> ChartSpec | None:
        return next((c for c in self.charts if c.id == chart_id), None)

    @cached_property
    def digest(self) -> str:
        """sha256 of the theme as this process parsed it (what its pages are drawn from). A file
        edited on disk after the start does not change it: an older worker must not store its page
        under the edited file's key, which workers started later would then serve."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def headline_specs(self) -> list[ChartSpec]:
        """Headlines as specs (type ``headline``) so computations read them like charts."""
        out = []
        for h in self.headlines:
            params = {k: v for k, v in h.items() if k not in ("dataset", "resource", "_line", "_lines")}
            out.append(ChartSpec(id=f"headline-{len(out) + 1}", type="headline", title=h["label"],
                                 subtitle="", dataset=h["dataset"], resource=h.get("resource"),
                                 params={**params, "transform": h["compute"]}, unit=h.get("unit", ""),
                                 reference_lines=[], line=h["_line"], path=self.path, theme=self.slug,
                                 lines=h.get("_lines", {})))
        return out

    def sources(self) -> list[tuple[str, str | None]]:
        """The (dataset, resource) pairs behind the charts, in order of first use."""
        out: list[tuple[str, str | None]] = []
        for chart in self.charts:
            for pair in chart.inputs():
                if pair not in out:
                    out.append(pair)
        return out

    def dataset_ids(self) -> list[str]:
        seen: list[str] = []
        for ds, _ in self.sources():
            if ds not in seen:
                seen.append(ds)
        return seen

    def layer_params(self) -> list[dict]:
        """The map layers as keyword arguments of ``explorer.maps.layers.LayerSpec``."""
        out = []
        for layer in self.map_layers:
            classes = layer.get("classes") or {}
            params = {"dataset": layer["dataset"], "resource": layer.get("resource"),
                      "variable": layer.get("variable")}
            if classes.get("method"):
                params["method"] = classes["method"]
            if classes.get("k"):
                params["classes"] = int(classes["k"])
            if classes.get("palette"):
                params["palette"] = classes["palette"]
            for key in ("opacity", "hidden"):
                if key in layer:
                    params[key] = layer[key]
            out.append(params)
        return out


# ============================================================================ reading files
def _walk_lines(node, path: tuple, lines: dict) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk_lines(value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk_lines(item, path + (i,), lines)


def _read(path: Path) -> tuple[Any, dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(path, None, "file", f"cannot be read: {exc}") from None
    try:
        # parsed once: the node tree gives the lines, the same tree the data (libyaml when there)
        # (aliases refused: a theme file may come from someone else, and an alias can expand a
        # small file into a huge structure)
        node, data = safe_yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ThemeError(path, mark.line + 1 if mark else None, "YAML", f"not valid YAML: {problem}") from None
    lines: dict = {}
    if node is not None:
        _walk_lines(node, (), lines)
    return data, lines


class _Reader:
    """Type checks with the file and line of the offending field."""

    def __init__(self, path: Path, lines: dict):
        self.path = path
        self.all_lines = lines

    def line(self, path: tuple) -> int | None:
        p = tuple(path)
        while p:
            if p in self.all_lines:
                return self.all_lines[p]
            p = p[:-1]
        return 1

    def fail(self, path: tuple, message: str):
        raise ThemeError(self.path, self.line(path), _dotted(path), message)

    def text(self, data: dict, key: str, path: tuple, required: bool = True) -> str:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(path + (key,) if key in data else path, f"'{key}' is required")
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.fail(path + (key,), f"expected text, got {type(value).__name__}")
        return str(value).strip()

    def sublines(self, path: tuple) -> dict:
        """Lines of every field under ``path``, keyed by the dotted sub-path."""
        n = len(path)
        return {_dotted(p[n:]): line for p, line in self.all_lines.items() if p[:n] == path and len(p) > n}


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "theme"


def bundled_folder() -> Path:
    return Path(str(importlib.resources.files("geodata") / "themes"))


def load_theme(path: Path) -> Theme:
    from explorer.themes.chart_data import COMPUTATIONS, TRANSFORMS

    path = Path(path)
    data, lines = _read(path)
    r = _Reader(path, lines)
    if not isinstance(data, dict):
        r.fail((), f"a theme file must be a mapping of fields, got {type(data).__name__}")
    unknown = sorted(set(data) - _THEME_KEYS)
    if unknown:
        r.fail((unknown[0],), f"unknown field (expected one of {', '.join(sorted(_THEME_KEYS))})")
    slug = r.text(data, "slug", ())
    if not _SLUG_RE.match(slug):
        r.fail(("slug",), f"not a slug (lower-case words joined by '-'): {slug!r}")
    title = r.text(data, "title", ())
    summary = r.text(data, "summary", ())
    narrative = r.text(data, "narrative", ())

    headlines = []
    for i, h in enumerate(_list(r, data, "headlines", ())):
        hp = ("headlines", i)
        if not isinstance(h, dict):
            r.fail(hp, "expected a mapping")
        label = r.text(h, "label", hp)
        compute = r.text(h, "compute", hp)
        if compute not in COMPUTATIONS:
            r.fail(hp + ("compute",), f"unknown computation {compute!r} (known: {', '.join(sorted(COMPUTATIONS))})")
        r.text(h, "dataset", hp)
        fmt = h.get("format", "number")
        if fmt not in HEADLINE_FORMATS:
            r.fail(hp + ("format",), f"unknown format {fmt!r} (known: {', '.join(HEADLINE_FORMATS)})")
        args = h.get("args") or {}
        if not isinstance(args, dict):
            r.fail(hp + ("args",), "expected a mapping")
        _check_args(r, args, COMPUTATIONS[compute].args, hp + ("args",), compute)
        headlines.append({**h, "label": label, "format": fmt, "args": args,
                          "_line": r.line(hp), "_lines": r.sublines(hp)})

    layers = []
    for i, layer in enumerate(_list(r, data, "map", ())):
        lp = ("map", i)
        if not isinstance(layer, dict):
            r.fail(lp, "expected a mapping")
        r.text(layer, "dataset", lp)
        classes = layer.get("classes") or {}
        if not isinstance(classes, dict):
            r.fail(lp + ("classes",), "expected a mapping {method, k, palette}")
        method = classes.get("method")
        if method is not None and method not in _methods():
            r.fail(lp + ("classes", "method"), f"unknown method {method!r} (known: {', '.join(_methods())})")
        k = classes.get("k")
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= 9):
            r.fail(lp + ("classes", "k"), f"k must be a whole number from 2 to 9, got {k!r}")
        palette = classes.get("palette")
        known = _palettes()
        if palette is not None and known and palette not in known:
            r.fail(lp + ("classes", "palette"), f"unknown palette {palette!r} (known: {', '.join(sorted(known))})")
        layers.append({**layer, "_line": r.line(lp)})

    charts: list[ChartSpec] = []
    seen: dict[str, int] = {}
    raw_charts = _list(r, data, "charts", ())
    if not raw_charts:
        r.fail(("charts",) if "charts" in data else (), "a theme needs at least one chart")
    for i, c in enumerate(raw_charts):
        cp = ("charts", i)
        if not isinstance(c, dict):
            r.fail(cp, "expected a mapping")
        unknown = sorted(set(c) - _CHART_KEYS)
        if unknown:
            r.fail(cp + (unknown[0],), f"unknown chart field (expected some of {', '.join(sorted(_CHART_KEYS))})")
        cid = r.text(c, "id", cp)
        if not _SLUG_RE.match(cid):
            r.fail(cp + ("id",), f"chart id must be a slug, got {cid!r}")
        if cid in seen:
            r.fail(cp + ("id",), f"chart id {cid!r} is already used on line {seen[cid]}")
        seen[cid] = r.line(cp + ("id",))
        ctype = r.text(c, "type", cp)
        if ctype not in CHART_TYPES:
            r.fail(cp + ("type",), f"unknown chart type {ctype!r} (known: {', '.join(CHART_TYPES)})")
        ctitle = r.text(c, "title", cp)
        dataset = r.text(c, "dataset", cp)
        resource = c.get("resource")
        resources = c.get("resources")
        if resources is not None and (not isinstance(resources, list) or not resources
                                      or not all(isinstance(x, str) for x in resources)):
            r.fail(cp + ("resources",), "expected a non-empty list of resource ids")
        tname = c.get("transform", "values")
        if tname not in TRANSFORMS:
            r.fail(cp + ("transform",), f"unknown transform {tname!r} (known: {', '.join(sorted(TRANSFORMS))})")
        args = c.get("args") or {}
        if not isinstance(args, dict):
            r.fail(cp + ("args",), "expected a mapping")
        _check_args(r, args, TRANSFORMS[tname].args, cp + ("args",), tname)
        refs = c.get("reference_lines") or []
        if not isinstance(refs, list):
            r.fail(cp + ("reference_lines",), "expected a list of {value, label}")
        for j, ref in enumerate(refs):
            rp = cp + ("reference_lines", j)
            if not isinstance(ref, dict) or "value" not in ref:
                r.fail(rp, "expected {value, label}")
            if not isinstance(ref["value"], (int, float)) or isinstance(ref["value"], bool):
                r.fail(rp + ("value",), f"not a number: {ref['value']!r}")
            r.text(ref, "label", rp)
        hb = c.get("highlight_by")
        if hb is not None and hb not in ("area_code", "borough_code"):
            r.fail(cp + ("highlight_by",), f"highlight_by must be area_code or borough_code, got {hb!r}")
        params = {k: v for k, v in c.items() if k not in _CHART_CORE}
        charts.append(ChartSpec(
            id=cid, type=ctype, title=ctitle, subtitle=r.text(c, "subtitle", cp, required=False),
            dataset=dataset, resource=str(resource) if resource is not None else None, params=params,
            unit=str(c.get("unit") or ""), reference_lines=[dict(x) for x in refs], line=r.line(cp),
            path=path, theme=slug, lines=r.sublines(cp),
        ))
    related = []
    for i, item in enumerate(_list(r, data, "related", ())):
        rp = ("related", i)
        if not isinstance(item, dict):
            r.fail(rp, "expected a mapping {theme, text}")
        other = r.text(item, "theme", rp)
        if not _SLUG_RE.match(other) or other == slug:
            r.fail(rp + ("theme",), f"not the slug of another theme: {other!r}")
        related.append({"theme": other, "text": r.text(item, "text", rp), "_line": r.line(rp)})
    return Theme(slug=slug, title=title, summary=summary, narrative=narrative, headlines=headlines,
                 map_layers=layers, charts=charts, path=path, related=related)


def _list(r: _Reader, data: dict, key: str, path: tuple) -> list:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        r.fail(path + (key,), f"expected a list, got {type(value).__name__}")
    return value


def _check_args(r: _Reader, args: dict, allowed: frozenset, path: tuple, name: str) -> None:
    for key in args:
        if key not in allowed:
            r.fail(path + (key,), f"{name} takes no argument {key!r} (it takes {', '.join(sorted(allowed))})")


def _methods() -> tuple[str, ...]:
    try:
        from explorer.maps.classify import METHODS  # the map explorer's classification, when present
        return tuple(METHODS)
    except Exception:
        return CLASS_METHODS


def _palettes() -> set[str]:
    try:
        from explorer.maps.palettes import PALETTES  # the map explorer's palettes, when present
        return set(PALETTES)
    except Exception:
        return set()


def load_themes(folder: Path | None = None) -> list[Theme]:
    """Every ``*.yaml`` theme in ``folder`` (default: the bundled ``geodata/themes``), by file name."""
    folder = Path(folder) if folder is not None else bundled_folder()
    if not folder.is_dir():
        raise ThemeError(folder, None, "folder", "no such folder of theme files")
    themes: list[Theme] = []
    slugs: dict[str, Path] = {}
    for path in sorted(folder.glob("*.yaml")):
        theme = load_theme(path)
        if theme.slug in slugs:
            raise ThemeError(path, 1, "slug", f"slug {theme.slug!r} is also used by {slugs[theme.slug].name}")
        slugs[theme.slug] = path
        themes.append(theme)
    for theme in themes:
        for item in theme.related:
            if item["theme"] not in slugs:
                raise ThemeError(theme.path, item["_line"], "related.theme",
                                 f"no theme {item['theme']!r} in {folder} (themes: {', '.join(sorted(slugs))})")
    return themes


# ============================================================================ validation
def iter_nested_inputs(args: dict, dataset: str, resource: str | None, prefix: str
                       ) -> Iterator[tuple[str, str, list, dict]]:
    """Nested inputs of an argument tree: (dotted path, dataset, [resources], their own args)."""
    for key, value in args.items():
        path = f"{prefix}.{key}"
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            ipath = f"{path}[{i}]" if isinstance(value, list) else path
            if isinstance(item, dict) and key not in ("filter", "series_columns", "labels", "reference_row"):
                if item.get("dataset"):
                    ds = item["dataset"]
                    res = item.get("resources") or [item.get("resource")]
                else:
                    ds = dataset
                    res = item.get("resources") or [item.get("resource", resource)]
                yield ipath, ds, res, item
                yield from iter_nested_inputs({k: v for k, v in item.items() if k not in ("dataset", "resource", "resources")},
                                              ds, res[0], ipath)


def column_refs(spec: ChartSpec) -> list[tuple[str, str, list[str | None], str]]:
    """(dotted field, dataset, resources, column template) for every column the spec names."""
    from explorer.themes.chart_data import COLUMN_KEYS, COLUMN_MAP_KEYS, FILTER_KEYS

    out = []

    def scan(args: dict, ds: str, res: list, prefix: str, own_input: bool):
        for key, value in args.items():
            path = f"{prefix}.{key}"
            if key in FILTER_KEYS and isinstance(value, dict):
                out.extend((f"{path}.{col}", ds, res, col) for col in value)
            elif key in COLUMN_MAP_KEYS and isinstance(value, dict):
                out.extend((f"{path}.{label}", ds, res, col) for label, col in value.items() if isinstance(col, str))
            elif key in COLUMN_KEYS and isinstance(value, str) and value != "from_name":
                out.append((path, ds, res, value))
            elif key in COLUMN_KEYS and isinstance(value, list) and all(isinstance(v, str) for v in value):
                out.extend((f"{path}[{i}]", ds, res, v) for i, v in enumerate(value))

    scan(spec.args, spec.dataset, spec.resources, "args", True)
    for path, ds, res, item in iter_nested_inputs(spec.args, spec.dataset, spec.resource, "args"):
        scan({k: v for k, v in item.items() if not isinstance(v, (dict,)) or k in ("filter", "series_columns")},
             ds, res, path, True)
    # a transform's own defaults that name columns
    if spec.transform in ("values", "resource_series", "median_change") and "value" not in spec.args:
        out.append(("args.value", spec.dataset, spec.resources, "{value_column}"))
    return out


def validate_theme(theme: Theme, registry, service=None) -> list[str]:
    """Check every dataset, resource and column a theme names; raise ThemeError on the first problem.

    Datasets whose data cannot be loaded (e.g. offline, not downloaded) are not theme errors: they
    are returned as warnings, and their charts show a message in their own place.
    """
    warnings: list[str] = []
    specs = list(theme.charts) + theme.headline_specs()
    loaded: dict[tuple, Any] = {}

    def entry_for(spec_path, line, field_name, ds, res, resource_line=None):
        entry = registry.get(ds)
        if entry is None:
            raise ThemeError(spec_path, line, field_name, f"no dataset {ds!r} in the registry")
        try:
            return entry, entry.resource(res)
        except LookupError:
            ids = ", ".join(r.id for r in entry.resources)
            raise ThemeError(spec_path, resource_line or line, field_name.replace("dataset", "resource"),
                             f"dataset {ds!r} has no resource {res!r} (it has: {ids})") from None

    def frame_for(ds, res):
        key = (ds, res)
        if key not in loaded:
            try:
                loaded[key] = service.load(ds, res) if service is not None else None
            except Exception as exc:
                loaded[key] = None
                warnings.append(f"{theme.path.name}: {ds}/{res or 'default'} cannot be loaded "
                                f"({getattr(exc, 'reason', exc)}); its charts will show a message")
        return loaded[key]

    for spec in specs:
        label = (f"headline {spec.title!r}" if spec.type == "headline" else f"chart {spec.id!r}")
        for ds, res in spec.inputs():
            if ds == spec.dataset:
                field_name, line = "dataset", spec.line_of("dataset")
                res_line = spec.line_of("resources" if spec.get("resources") else "resource")
                if res not in spec.resources:          # named inside args (e.g. a threshold's resource)
                    res_line = _nested_line(spec, res, key="resource")
            else:
                field_name, line = "args", _nested_line(spec, ds)
                res_line = line
            entry_for(theme.path, line, f"{label}: {field_name}", ds, res, res_line)
        if service is None:
            continue
        for dotted, ds, resources, template in column_refs(spec):
            for res in resources:
                _, resource = entry_for(theme.path, spec.line_of(dotted), f"{label}: {dotted}", ds, res)
                result = frame_for(ds, resource.id)
                if result is None:
                    continue
                from explorer.themes.chart_data import ChartDataError, resolve_column
                try:
                    column = resolve_column(template, resource)
                except ChartDataError as exc:
                    raise ThemeError(theme.path, spec.line_of(dotted), f"{label}: {dotted}", str(exc)) from None
                columns = [str(c) for c in result.frame.columns]
                if column not in columns and not _raw_column(service, ds, resource.id, column):
                    sample = ", ".join(c for c in columns if c != "geometry")[:300]
                    raise ThemeError(theme.path, spec.line_of(dotted), f"{label}: {dotted}",
                                     f"column {column!r} is not in {ds}/{resource.id} (columns: {sample})")
    for layer in theme.map_layers:
        line = layer.get("_line")
        entry, resource = entry_for(theme.path, line, f"map layer {layer['dataset']!r}: dataset",
                                    layer["dataset"], layer.get("resource"))
        variable = layer.get("variable")
        if variable and service is not None:
            result = frame_for(layer["dataset"], resource.id)
            if (result is not None and variable not in [str(c) for c in result.frame.columns]
                    and not _raw_column(service, layer["dataset"], resource.id, variable)):
                raise ThemeError(theme.path, line, f"map layer {layer['dataset']!r}: variable",
                                 f"column {variable!r} is not in {layer['dataset']}/{resource.id}")
    return warnings


def _nested_line(spec: ChartSpec, value: str, key: str = "dataset") -> int:
    """The line of the nested ``key: value`` (e.g. an input's dataset) inside the chart's args."""
    suffix = f".{key}"
    for dotted, line in spec.lines.items():
        if dotted.endswith(suffix):
            node: Any = {"args": spec.args}
            try:
                for part in re.findall(r"[^.\[\]]+|\[\d+\]", dotted[:-len(suffix)]):
                    node = node[int(part[1:-1])] if part.startswith("[") else node[part]
            except (KeyError, IndexError, TypeError):
                continue
            if isinstance(node, dict) and node.get(key) == value:
                return line
    return spec.line


def _raw_column(service, ds: str, res: str, column: str) -> bool:
    """Columns of the unjoined table (e.g. a code column the join replaced) also count."""
    try:
        frame = service.load(ds, res, join=False).frame
    except Exception:
        return False
    return column in [str(c) for c in frame.columns]
