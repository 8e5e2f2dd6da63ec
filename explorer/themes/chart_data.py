"""Chart data preparation: named transforms from loaded registry datasets to tidy frames.

Each transform takes ``(service, spec)`` – the data service and a chart spec from a theme file – and
returns a ``ChartData``: a tidy DataFrame for the chart, the ``(dataset_id, resource_id)`` pairs it
used, and for each of them the load's provenance and geography join report, so the chart's source
card is generated from the registry and the load, never typed by hand.

Tidy frames use a few standard column names that the chart builders understand:

    area_code, area_name   the place a row is about (GSS code and name) – used to link map ↔ chart
    borough_code           the borough a smaller area lies in, so clicking a borough highlights it
    label                  a category label (species, IMD decile, threshold …) when rows are not places
    x, value               the horizontal variable (year, date) and the measured value
    y                      a second measured value (scatter plots)
    series, facet          a line/bar series and a small-multiple panel

Column arguments (``value``, ``by``, ``label`` …) may be templates such as ``"{value_column}"``: they
are filled from the resource's catalogue ``options`` (e.g. ``value_column: NO2-2019-mean``).

Headline computations (``COMPUTATIONS``) work the same way and return one number.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from explorer.data.geo_reference import GSS_RE

log = logging.getLogger(__name__)

BOROUGH_BOUNDARIES = ("london-boroughs-2022", "shp")   # LAD22CD / LAD22NM: names → codes


class ChartDataError(Exception):
    """The data for a chart cannot be prepared; the message says why, for a person to read."""


# --------------------------------------------------------------------------------------------
@dataclass
class ChartData:
    frame: pd.DataFrame
    used: list[tuple[str, str]]
    sources: list[dict]
    notes: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


@dataclass
class Transform:
    name: str
    fn: Callable
    args: frozenset[str]
    doc: str = ""


TRANSFORMS: dict[str, Transform] = {}
COMPUTATIONS: dict[str, Transform] = {}

# Argument names whose values are column names (validated against the loaded frames).
COLUMN_KEYS = frozenset({"value", "label", "code", "code_column", "by", "by_label", "category", "from", "to",
                         "date", "site", "site_name", "site_type", "year", "pollutant_column",
                         "capture", "borough", "weight"})
# Argument names holding {label: column} maps, and {column: value} filters.
COLUMN_MAP_KEYS = frozenset({"series_columns"})
FILTER_KEYS = frozenset({"filter"})
# Keys of a nested input (measure) that name where it comes from rather than a column.
INPUT_KEYS = frozenset({"dataset", "resource", "resources"})


def transform(name: str, args: tuple[str, ...] = ()):
    def register(fn):
        TRANSFORMS[name] = Transform(name, fn, frozenset(args), (fn.__doc__ or "").strip())
        return fn
    return register


def computation(name: str, args: tuple[str, ...] = ()):
    def register(fn):
        COMPUTATIONS[name] = Transform(name, fn, frozenset(args), (fn.__doc__ or "").strip())
        return fn
    return register


# --------------------------------------------------------------------------------------------
def resolve_column(template: str, resource) -> str:
    """Fill ``{option}`` placeholders from the resource's catalogue options."""
    if not isinstance(template, str) or "{" not in template:
        return template
    options = dict(getattr(resource, "options", None) or {})
    try:
        return template.format_map(options)
    except KeyError as exc:
        raise ChartDataError(f"resource {getattr(resource, 'id', '?')!r} has no option {exc.args[0]!r} "
                             f"to fill {template!r}") from None


class Inputs:
    """Loads datasets for one chart and records what was used, with provenance and geography."""

    def __init__(self, service):
        self.service = service
        self.used: list[tuple[str, str]] = []
        self.sources: list[dict] = []
        self._frames: dict[tuple, tuple[pd.DataFrame, Any]] = {}

    def load(self, dataset: str, resource: str | None = None, join: bool = True,
             role: str = "data") -> tuple[pd.DataFrame, Any]:
        key = (dataset, resource, join)
        if key in self._frames:
            return self._frames[key]
        try:
            loaded = self.service.load(dataset, resource, join=join)
        except Exception as exc:
            self._record(dataset, resource, None, role, error=str(getattr(exc, "reason", None) or exc))
            raise
        frame = loaded.frame
        if "geometry" in getattr(frame, "columns", []):
            frame = pd.DataFrame(frame.drop(columns="geometry"))
        else:
            frame = pd.DataFrame(frame)
        self._record(dataset, loaded.resource.id, loaded, role)
        self._frames[key] = (frame, loaded)
        return frame, loaded

    def _record(self, dataset, resource, loaded, role, error=None):
        pair = (dataset, resource or "")
        if loaded is not None:
            pair = (dataset, loaded.resource.id)
        for src in self.sources:
            if (src["dataset_id"], src["resource_id"]) == pair:
                return
        if role == "data":
            self.used.append(pair)
        self.sources.append({
            "dataset_id": pair[0],
            "resource_id": pair[1],
            "role": role,
            "title": loaded.entry.title if loaded is not None else None,
            "resource_title": loaded.resource.title if loaded is not None else None,
            "provenance": loaded.provenance.to_dict() if loaded is not None else None,
            "geography": loaded.geography.to_dict() if loaded is not None and loaded.geography is not None else None,
            "join_error": loaded.join_error if loaded is not None else None,
            "error": error,
        })


def _column(frame: pd.DataFrame, name: str, dataset: str) -> pd.Series:
    if name not in frame.columns:
        sample = ", ".join(str(c) for c in list(frame.columns)[:12])
        raise ChartDataError(f"column {name!r} is not in {dataset} (columns: {sample} …)")
    return frame[name]


def _numeric(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64")
    text = series.astype("string").str.replace(",", "", regex=False).str.strip()
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _apply_filter(frame: pd.DataFrame, flt: dict | None, dataset: str) -> pd.DataFrame:
    for column, wanted in (flt or {}).items():
        series = _column(frame, column, dataset)
        values = wanted if isinstance(wanted, list) else [wanted]
        frame = frame[series.astype("string").isin([str(v) for v in values])]
    return frame


def _args(spec) -> dict:
    return dict(getattr(spec, "args", None) or {})


def _resources(spec) -> list[str | None]:
    return list(getattr(spec, "resources", None) or [spec.resource])


# ---------------------------------------------------------------------------- borough names
def normalise_name(name: object) -> str:
    text = str(name or "").lower().replace("&", " and ")
    text = re.sub(r"^(london borough of|royal borough of|city of westminster$)", lambda m: (
        "westminster" if m.group(0) == "city of westminster" else ""), text)
    return re.sub(r"[^a-z]+", " ", text).strip()


def borough_lookup(inputs: Inputs) -> dict[str, tuple[str, str]]:
    """Normalised borough name → (LAD22CD, LAD22NM), from the ONS 2022 borough boundaries."""
    frame, _ = inputs.load(*BOROUGH_BOUNDARIES, join=False, role="lookup")
    codes = frame["LAD22CD"].astype("string")
    names = frame["LAD22NM"].astype("string")
    return {normalise_name(n): (str(c), str(n)) for c, n in zip(codes, names)}


def match_borough(name: object, lookup: dict) -> tuple[str, str] | None:
    key = normalise_name(name)
    if key in lookup:
        return lookup[key]
    if key.startswith("london "):
        return lookup.get(key[len("london "):])
    return None


_SMALL_AREA_SUFFIX = re.compile(r"\s+\d{3}[A-Z]?$")


def borough_codes(frame: pd.DataFrame, how: str, inputs: Inputs, dataset: str) -> pd.Series:
    """Borough codes per row: from a code column, a name column, or the small-area name prefix."""
    if how == "from_name":
        names = frame["area_name"].astype("string").str.replace(_SMALL_AREA_SUFFIX, "", regex=True)
    else:
        series = _column(frame, how, dataset).astype("string")
        if series.str.match(r"^E0[69]\d{6}$").fillna(False).mean() > 0.5:
            return series
        names = series
    lookup = borough_lookup(inputs)
    return names.map(lambda n: (match_borough(n, lookup) or (None,))[0]).astype("string")


# ---------------------------------------------------------------------------- measures
def measure(inputs: Inputs, m: dict, dataset: str | None, resource: str | None) -> pd.DataFrame:
    """One value per place: columns code, name, value (and borough_code when asked).

    ``m`` keys: dataset, resource (default: the chart's), value (column), filter, code (default
    area_code), label (default area_name), by (group column: aggregate to it), by_label (its name
    column), agg (sum | mean | median | count | share_le | share_gt | share_ge), threshold, scale,
    borough (code/name column or ``from_name``).
    """
    ds = m.get("dataset") or dataset
    res = m.get("resource", resource if not m.get("dataset") else None)
    frame, loaded = inputs.load(ds, res)
    frame = _apply_filter(frame, m.get("filter"), ds)
    value_col = resolve_column(m.get("value", "{value_column}"), loaded.resource)
    values = _numeric(_column(frame, value_col, ds))
    scale = float(m.get("scale", 1))
    by = m.get("by")
    if by:
        by = resolve_column(by, loaded.resource)
        keys = _column(frame, by, ds).astype("string")
        agg = m.get("agg", "sum")
        threshold = m.get("threshold")
        grouped = values.groupby(keys)
        if agg in ("sum", "mean", "median", "count", "min", "max"):
            out = getattr(grouped, agg)()
        elif agg in ("share_le", "share_gt", "share_ge", "share_lt"):
            if threshold is None:
                raise ChartDataError(f"agg {agg!r} needs a threshold")
            op = {"share_le": values.le, "share_gt": values.gt, "share_ge": values.ge,
                  "share_lt": values.lt}[agg](float(threshold))
            out = op.where(values.notna()).groupby(keys).mean() * 100
        else:
            raise ChartDataError(f"unknown agg {agg!r}")
        result = pd.DataFrame({"code": out.index.astype("string"), "value": out.to_numpy() * scale})
        if m.get("by_label"):
            names = frame.groupby(keys)[_column(frame, m["by_label"], ds).name].first()
            result["name"] = result["code"].map(names).astype("string")
        else:
            lookup = {code: name for code, name in borough_lookup(inputs).values()}
            result["name"] = result["code"].map(lookup).astype("string")
        result["n"] = result["code"].map(grouped.count()).astype("int64")
        return result.reset_index(drop=True)
    code_col = m.get("code", "area_code")
    label_col = m.get("label", "area_name" if "area_name" in frame.columns else code_col)
    result = pd.DataFrame({
        "code": _column(frame, code_col, ds).astype("string").to_numpy(),
        "name": _column(frame, label_col, ds).astype("string").to_numpy(),
        "value": values.to_numpy() * scale,
    })
    if m.get("borough"):
        result["borough_code"] = borough_codes(frame, m["borough"], inputs, ds).to_numpy()
    return result


def _place_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.rename(columns={"code": "area_code", "name": "area_name"})
    return out.reset_index(drop=True)


def _result(inputs: Inputs, frame: pd.DataFrame, notes=None, stats=None) -> ChartData:
    if frame.empty:
        raise ChartDataError("no rows left to chart")
    return ChartData(frame=frame.reset_index(drop=True), used=list(inputs.used),
                     sources=list(inputs.sources), notes=list(notes or []), stats=dict(stats or {}))


# ============================================================================ transforms
@transform("values", args=("value", "label", "code", "filter", "borough", "by", "by_label", "agg",
                           "threshold", "scale", "top", "exclude_zero", "require_code"))
def values_transform(service, spec, inputs: Inputs | None = None) -> ChartData:
    """One value per place (or per group with ``by``): area_code, area_name, value."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    df = measure(inputs, args, spec.dataset, spec.resource)
    notes = []
    if args.get("require_code"):
        nocode = df["code"].isna() | (df["code"].astype("string").str.strip() == "")
        if nocode.any():
            names = ", ".join(sorted({str(n) for n in df.loc[nocode, "name"]}))
            notes.append(f"{int(nocode.sum()):,} rows without a code ({names}) are left out.")
        df = df[~nocode.fillna(True)]
    if args.get("exclude_zero"):
        zero = int((df["value"] == 0).sum())
        if zero:
            notes.append(f"{zero:,} rows with a value of 0 (not recorded) are left out.")
        df = df[df["value"] != 0]
    missing = int(df["value"].isna().sum())
    if missing:
        notes.append(f"{missing:,} rows without a value are left out.")
    df = df[df["value"].notna()]
    if args.get("top"):
        df = df.nlargest(int(args["top"]), "value")
    return _result(inputs, _place_frame(df), notes)


@transform("resource_series", args=("value", "x", "series", "facet", "label", "code", "borough"))
def resource_series(service, spec, inputs: Inputs | None = None) -> ChartData:
    """The same measure from several resources (e.g. one file per year): x from a resource option."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    parts = []
    for res in _resources(spec):
        df = measure(inputs, {k: v for k, v in args.items() if k not in ("x", "series", "facet")},
                     spec.dataset, res)
        _, loaded = inputs.load(spec.dataset, res)
        x = resolve_column(args.get("x", "{year}"), loaded.resource)
        df["x"] = int(x) if str(x).isdigit() else x
        if args.get("facet"):
            df["facet"] = resolve_column(args["facet"], loaded.resource)
        if args.get("series"):
            df["series"] = resolve_column(args["series"], loaded.resource)
        parts.append(df)
    frame = _place_frame(pd.concat(parts, ignore_index=True))
    return _result(inputs, frame[frame["value"].notna()])


@transform("threshold_shares", args=("thresholds",))
def threshold_shares(service, spec, inputs: Inputs | None = None) -> ChartData:
    """Share of places above each threshold: label, value (%), count, n."""
    inputs = inputs or Inputs(service)
    rows = []
    for item in _args(spec).get("thresholds") or []:
        df = measure(inputs, item, spec.dataset, item.get("resource", spec.resource))
        values = df["value"].dropna()
        above = int((values > float(item["threshold"])).sum())
        rows.append({"label": item.get("name") or f"above {item['threshold']}",
                     "value": above / len(values) * 100 if len(values) else math.nan,
                     "count": above, "n": int(len(values)), "threshold": float(item["threshold"])})
    return _result(inputs, pd.DataFrame(rows))


@transform("ratio", args=("numerator", "denominator", "scale", "borough"))
def ratio_transform(service, spec, inputs: Inputs | None = None) -> ChartData:
    """numerator ÷ denominator per place (e.g. green space per person, price ÷ income)."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    num = measure(inputs, args["numerator"], spec.dataset, spec.resource)
    den = measure(inputs, args["denominator"], spec.dataset, spec.resource)
    merged = num.merge(den[["code", "value"]], on="code", how="inner", suffixes=("_num", "_den"))
    merged["value"] = merged["value_num"] / merged["value_den"].where(merged["value_den"] != 0) * float(args.get("scale", 1))
    notes = []
    lost = len(num) - len(merged)
    if lost:
        notes.append(f"{lost:,} places of the numerator have no denominator and are left out.")
    frame = _place_frame(merged.rename(columns={"value_num": "numerator", "value_den": "denominator"}))
    return _result(inputs, frame[frame["value"].notna()], notes)


def _fit(x: pd.Series, y: pd.Series) -> dict:
    mask = x.notna() & y.notna()
    x, y = x[mask].astype(float), y[mask].astype(float)
    n = int(len(x))
    if n < 3 or x.std() == 0 or y.std() == 0:
        return {"n": n, "r": math.nan, "slope": math.nan, "intercept": math.nan, "r2": math.nan}
    slope, intercept = np.polyfit(x.to_numpy(), y.to_numpy(), 1)
    r = float(np.corrcoef(x.to_numpy(), y.to_numpy())[0, 1])
    return {"n": n, "r": r, "slope": float(slope), "intercept": float(intercept), "r2": r * r}


@transform("scatter", args=("x", "y", "borough"))
def scatter_transform(service, spec, inputs: Inputs | None = None) -> ChartData:
    """Two measures per place joined on the place code: area_code, area_name, x, y (+ fit stats)."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    xs = _measure_or_ratio(inputs, args["x"], spec)
    ys = _measure_or_ratio(inputs, args["y"], spec)
    merged = xs.merge(ys[["code", "value"]], on="code", how="inner", suffixes=("_x", "_y"))
    merged = merged.rename(columns={"value_x": "x", "value_y": "y"})
    merged = merged[merged["x"].notna() & merged["y"].notna()]
    notes = []
    dropped = max(len(xs), len(ys)) - len(merged)
    if dropped:
        notes.append(f"{dropped:,} places are in only one of the two datasets and are left out.")
    stats = _fit(merged["x"], merged["y"])
    return _result(inputs, _place_frame(merged), notes, stats)


def _measure_or_ratio(inputs: Inputs, m: dict, spec) -> pd.DataFrame:
    if "numerator" in m:
        num = _measure_or_ratio(inputs, m["numerator"], spec)
        den = _measure_or_ratio(inputs, m["denominator"], spec)
        merged = num.merge(den[["code", "value"]], on="code", suffixes=("", "_den"))
        merged["value"] = merged["value"] / merged["value_den"].where(merged["value_den"] != 0) * float(m.get("scale", 1))
        return merged.drop(columns=["value_den"])
    return measure(inputs, m, spec.dataset, spec.resource)


@transform("grouped", args=("value", "group", "agg", "labels"))
def grouped_transform(service, spec, inputs: Inputs | None = None) -> ChartData:
    """A measure averaged over groups given by another measure (e.g. NO₂ by IMD decile)."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    vals = measure(inputs, args["value"], spec.dataset, spec.resource)
    groups = measure(inputs, args["group"], spec.dataset, spec.resource)
    merged = vals.merge(groups[["code", "value"]], on="code", suffixes=("", "_group"))
    merged = merged[merged["value"].notna() & merged["value_group"].notna()]
    agg = args.get("agg", "mean")
    g = merged.groupby("value_group")["value"]
    out = pd.DataFrame({"group": g.agg(agg).index, "value": g.agg(agg).to_numpy(), "n": g.size().to_numpy()})
    labels = args.get("labels") or {}
    out["label"] = [str(labels.get(int(k) if float(k).is_integer() else k, _fmt_group(k))) for k in out["group"]]
    stats = _fit(merged["value_group"], merged["value"])
    return _result(inputs, out.sort_values("group"), stats=stats)


def _fmt_group(value) -> str:
    try:
        f = float(value)
        return str(int(f)) if f.is_integer() else f"{f:g}"
    except (TypeError, ValueError):
        return str(value)


@transform("group_correlation", args=("x", "y", "group"))
def group_correlation(service, spec, inputs: Inputs | None = None) -> ChartData:
    """Pearson r between two measures within each group (e.g. each borough): area_code, value=r, n."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    xs = measure(inputs, args["x"], spec.dataset, spec.resource)
    ys = measure(inputs, args["y"], spec.dataset, spec.resource)
    group = dict(args["group"])
    gds = group.get("dataset") or spec.dataset
    frame, loaded = inputs.load(gds, group.get("resource", spec.resource if not group.get("dataset") else None))
    key = _column(frame, resolve_column(group["value"], loaded.resource), gds).astype("string")
    codes = _column(frame, group.get("code", "area_code"), gds).astype("string")
    gmap = dict(zip(codes, key))
    merged = xs.merge(ys[["code", "value"]], on="code", suffixes=("_x", "_y"))
    merged["group"] = merged["code"].map(gmap)
    rows = []
    names = {code: name for code, name in borough_lookup(inputs).values()}
    for g, part in merged.groupby("group"):
        fit = _fit(part["value_x"], part["value_y"])
        rows.append({"area_code": str(g), "area_name": names.get(str(g), str(g)), "value": fit["r"],
                     "n": fit["n"], "slope": fit["slope"]})
    overall = _fit(merged["value_x"], merged["value_y"])
    out = pd.DataFrame(rows)
    return _result(inputs, out[out["value"].notna()], stats={"overall_r": overall["r"], "n": overall["n"]})


_YEAR = re.compile(r"(\d{4})")


def _wide_columns(frame: pd.DataFrame, pattern: str, dataset: str) -> list[tuple[str, object]]:
    rx = re.compile(pattern)
    found = []
    for c in frame.columns:
        m = rx.search(str(c))
        if m:
            x = m.group(1) if m.groups() else str(c)
            found.append((str(c), int(x) if str(x).isdigit() else x))
    if not found:
        raise ChartDataError(f"no column of {dataset} matches {pattern!r}")
    return found


@transform("wide_series", args=("columns", "by", "by_label", "agg", "series", "facet", "total", "reference_row",
                                "label", "code", "scale", "filter"))
def wide_series(service, spec, inputs: Inputs | None = None) -> ChartData:
    """Columns per time step (e.g. '2011' … '2021') to long rows: area_code, area_name, x, value, series.

    ``columns`` is a regular expression whose first group is the x value (e.g. a year); ``by``
    aggregates places to a grouping column (``agg``: sum, mean, median); ``total: true`` sums all
    places into one London line; ``series`` labels each resource (e.g. "{category}");
    ``reference_row`` adds one row of the unjoined table (e.g. London, E12000007) as an emphasised line.
    """
    inputs = inputs or Inputs(service)
    args = _args(spec)
    parts = []
    notes: list[str] = []
    for res in _resources(spec):
        frame, loaded = inputs.load(spec.dataset, res)
        frame = _apply_filter(frame, args.get("filter"), spec.dataset)
        cols = _wide_columns(frame, args["columns"], spec.dataset)
        data = pd.DataFrame({c: _numeric(frame[c]) for c, _ in cols}) * float(args.get("scale", 1))
        series = resolve_column(args.get("series", ""), loaded.resource) or None
        agg = args.get("agg", "sum")
        if args.get("total"):
            vals = getattr(data, agg)()
            df = pd.DataFrame({"area_code": "london", "area_name": "London", "x": [x for _, x in cols],
                               "value": vals.to_numpy()})
        else:
            if args.get("by"):
                keys = _column(frame, args["by"], spec.dataset).astype("string")
                data = getattr(data.groupby(keys), agg)()
                codes = data.index.astype("string")
                if args.get("by_label"):
                    names = frame.groupby(keys)[args["by_label"]].first().reindex(data.index).astype("string")
                else:
                    lookup = {code: name for code, name in borough_lookup(inputs).values()}
                    names = pd.Series([lookup.get(c, c) for c in codes], index=data.index)
            else:
                codes = _column(frame, args.get("code", "area_code"), spec.dataset).astype("string")
                names = _column(frame, args.get("label", "area_name"), spec.dataset).astype("string")
                data.index = codes
                names = pd.Series(names.to_numpy(), index=codes.to_numpy())
            long = data.reset_index(drop=True)
            long["area_code"] = list(data.index.astype("string"))
            long["area_name"] = list(names.to_numpy())
            long = long.melt(id_vars=["area_code", "area_name"], var_name="column", value_name="value")
            xmap = dict(cols)
            long["x"] = long["column"].map(xmap)
            df = long.drop(columns=["column"])
        if series:
            df["series"] = series
        if args.get("facet"):
            df["facet"] = resolve_column(args["facet"], loaded.resource)
        parts.append(df)
    ref = args.get("reference_row")
    if ref:
        raw, loaded = inputs.load(spec.dataset, spec.resource, join=False)
        codes = _column(raw, ref["code_column"], spec.dataset).astype("string")
        row = raw[codes == str(ref["code"])]
        if row.empty:
            notes.append(f"no row {ref['code']} in {spec.dataset} for the reference line")
        else:
            cols = _wide_columns(raw, args["columns"], spec.dataset)
            parts.append(pd.DataFrame({
                "area_code": str(ref["code"]), "area_name": ref.get("label", str(ref["code"])),
                "x": [x for _, x in cols],
                "value": [float(_numeric(row[c]).iloc[0]) * float(args.get("scale", 1)) for c, _ in cols],
                "emphasis": True,
            }))
    frame = pd.concat(parts, ignore_index=True)
    if "emphasis" in frame.columns:
        frame["emphasis"] = frame["emphasis"].astype("boolean").fillna(False).astype(bool)
    return _result(inputs, frame[frame["value"].notna()], notes)


@transform("change_between", args=("series", "percent"))
def change_between(service, spec, inputs: Inputs | None = None) -> ChartData:
    """Change of each measure between two columns, per place: area_code, area_name, series, value.

    ``series`` is a list of {name, dataset, resource, from, to, by, agg}: each measure is aggregated
    to ``by`` (when given) and its change from ``from`` to ``to`` computed (in % unless percent: false).
    """
    inputs = inputs or Inputs(service)
    args = _args(spec)
    parts = []
    for item in args["series"]:
        start = measure(inputs, {**item, "value": item["from"]}, spec.dataset, spec.resource)
        end = measure(inputs, {**item, "value": item["to"]}, spec.dataset, spec.resource)
        merged = start.merge(end[["code", "value"]], on="code", suffixes=("_from", "_to"))
        if args.get("percent", True):
            merged["value"] = (merged["value_to"] / merged["value_from"] - 1) * 100
        else:
            merged["value"] = merged["value_to"] - merged["value_from"]
        merged["series"] = item.get("name", item["to"])
        parts.append(merged)
    frame = _place_frame(pd.concat(parts, ignore_index=True))
    return _result(inputs, frame[frame["value"].notna()])


@transform("category_counts", args=("category", "lookup", "top", "other", "filter", "weight"))
def category_counts(service, spec, inputs: Inputs | None = None) -> ChartData:
    """How many rows fall in each category (optionally summing ``weight``): label, value, share (%)."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    frame, loaded = inputs.load(spec.dataset, spec.resource)
    frame = _apply_filter(frame, args.get("filter"), spec.dataset)
    cats = _column(frame, args["category"], spec.dataset).astype("string")
    lookup = args.get("lookup")
    notes = []
    if lookup:
        lframe, _ = inputs.load(lookup.get("dataset", spec.dataset), lookup.get("resource"))
        keys = _column(lframe, lookup["key"], lookup.get("dataset", spec.dataset)).astype("string")
        labels = _column(lframe, lookup["label"], lookup.get("dataset", spec.dataset)).astype("string")
        mapping = dict(zip(keys, labels))
        mapped = cats.map(mapping)
        unmatched = int(mapped.isna().sum())
        if unmatched:
            notes.append(f"{unmatched:,} rows have a category not in the look-up and are counted as 'Unknown'.")
        cats = mapped.fillna("Unknown")
    cats = cats.fillna("Not stated")
    if args.get("weight"):
        counts = _numeric(_column(frame, args["weight"], spec.dataset)).groupby(cats).sum()
    else:
        counts = cats.value_counts()
    counts = counts.sort_values(ascending=False)
    total = float(counts.sum())
    top = int(args.get("top") or 0)
    if top and len(counts) > top:
        rest = counts.iloc[top:]
        counts = counts.iloc[:top]
        if args.get("other", True):
            counts = pd.concat([counts, pd.Series({f"Other ({len(rest)} more)": rest.sum()})])
    out = pd.DataFrame({"label": counts.index.astype("string"), "value": counts.to_numpy(dtype=float)})
    out["share"] = out["value"] / total * 100
    return _result(inputs, out, notes, {"total": total, "categories": int(cats.nunique())})


@transform("site_means", args=("pollutant", "pollutant_column", "value", "year", "site", "site_name",
                               "site_type", "capture", "min_capture", "filter", "years"))
def site_means(service, spec, inputs: Inputs | None = None) -> ChartData:
    """Annual means at monitoring sites for one pollutant: x=year, value, site, site type, borough.

    Sites are linked to boroughs by the borough name that starts their site name ("Camden - …");
    years whose rows all fall below ``min_capture`` (% data capture) are left out with a note.
    """
    inputs = inputs or Inputs(service)
    args = _args(spec)
    frame, _ = inputs.load(spec.dataset, spec.resource)
    ds = spec.dataset
    frame = _apply_filter(frame, args.get("filter"), ds)
    pol = _column(frame, args.get("pollutant_column", "pollutant"), ds).astype("string").str.lower()
    frame = frame[pol == str(args["pollutant"]).lower()]
    values = _numeric(_column(frame, args.get("value", "mean"), ds))
    years = _numeric(_column(frame, args.get("year", "date"), ds))
    capture = _numeric(_column(frame, args.get("capture", "capture_rate"), ds))
    names = _column(frame, args.get("site_name", "site"), ds).astype("string")
    lookup = borough_lookup(inputs)
    prefixes = names.str.split(" - ").str[0].str.strip()
    boroughs = prefixes.map(lambda n: match_borough(n, lookup))
    out = pd.DataFrame({
        "site": _column(frame, args.get("site", "code"), ds).astype("string").to_numpy(),
        "site_name": names.str.replace(r"^-\s*", "", regex=True).to_numpy(),
        "site_type": _column(frame, args.get("site_type", "site.type"), ds).astype("string").to_numpy(),
        "x": years.to_numpy(), "value": values.to_numpy(), "capture": capture.to_numpy(),
        "area_code": [b[0] if b else None for b in boroughs],
        "borough": [b[1] if b else None for b in boroughs],
    })
    out["area_code"] = out["area_code"].astype("string")
    notes = []
    min_capture = args.get("min_capture")
    if min_capture is not None:
        low = out["capture"] < float(min_capture)
        for year, part in out[low].groupby("x"):
            if len(part) == int((out["x"] == year).sum()):
                notes.append(f"{int(year)} is left out: no site reached {min_capture:g}% data capture "
                             f"(median {part['capture'].median():.0f}%), so it is a partial year.")
        if low.any():
            notes.append(f"{int(low.sum()):,} site-years with less than {min_capture:g}% data capture are left out.")
        out = out[~low]
    if args.get("years"):
        out = out[out["x"].isin([int(y) for y in args["years"]])]
    out = out[out["value"].notna()]
    out["x"] = out["x"].astype(int)
    unlinked = out.loc[out["area_code"].isna(), "site"].nunique()
    if unlinked:
        notes.append(f"{unlinked} of {out['site'].nunique()} sites could not be linked to a London borough by name.")
    return _result(inputs, out, notes)


def _sentence_case(series: pd.Series) -> pd.Series:
    """'VIOLENCE AGAINST THE PERSON' → 'Violence against the person' (mixed-case text is kept)."""
    text = series.astype("string")
    upper = text.str.upper() == text
    return text.where(~upper.fillna(False), text.str.capitalize())


_MONTH_NAMES = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                            "sep", "oct", "nov", "dec"], start=1)}


def _parse_months(labels: pd.Series) -> tuple[pd.Series, list[str]]:
    """'Jan-08' style labels to month starts; a duplicate that breaks a monthly run is relabelled."""
    parsed = pd.to_datetime(labels.astype("string"), format="%b-%y", errors="coerce")
    notes = []
    if parsed.notna().all() and len(parsed) > 2:
        expected = pd.date_range(parsed.iloc[0], periods=len(parsed), freq="MS")
        wrong = parsed.to_numpy() != expected.to_numpy()
        if 0 < wrong.sum() <= max(1, len(parsed) // 50):
            for i in np.flatnonzero(wrong):
                notes.append(f"row {i + 2} is labelled {labels.iloc[i]!r} but sits between "
                             f"{labels.iloc[i - 1]!r} and {labels.iloc[i + 1] if i + 1 < len(labels) else 'the end'!r}; "
                             f"it is read as {expected[i]:%b %Y}.")
            parsed = pd.Series(expected, index=labels.index)
    return parsed, notes


@transform("monthly_columns", args=("date", "series_columns"))
def monthly_columns(service, spec, inputs: Inputs | None = None) -> ChartData:
    """A table with one row per month and one column per series: x (month), value, series."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    frame, _ = inputs.load(spec.dataset, spec.resource)
    dates, notes = _parse_months(_column(frame, args.get("date", "Month"), spec.dataset))
    parts = []
    for name, column in args["series_columns"].items():
        parts.append(pd.DataFrame({"x": dates.to_numpy(), "value": _numeric(_column(frame, column, spec.dataset)).to_numpy(),
                                   "series": name}))
    out = pd.concat(parts, ignore_index=True)
    missing = int(out["value"].isna().sum())
    if missing:
        notes.append(f"{missing} monthly values are missing in the source and shown as gaps.")
    return _result(inputs, out[out["x"].notna()], notes)


_YYYYMM = r"^(\d{6})$"


def _month_columns(frame: pd.DataFrame, dataset: str, min_share: float) -> tuple[list[str], list[str]]:
    cols = [c for c, _ in _wide_columns(frame, _YYYYMM, dataset)]
    totals = pd.DataFrame({c: _numeric(frame[c]) for c in cols}).sum()
    median = float(totals.median())
    keep, notes = [], []
    for c in cols:
        if median and totals[c] < min_share * median:
            notes.append(f"{c[:4]}-{c[4:]} is left out: it holds only {int(totals[c]):,} crimes against a "
                         f"monthly median of {int(median):,}, so the month is incomplete.")
        else:
            keep.append(c)
    return keep, notes


def _month_label(col: str) -> pd.Timestamp:
    return pd.Timestamp(year=int(col[:4]), month=int(col[4:]), day=1)


@transform("month_totals", args=("min_share", "filter", "category"))
def month_totals(service, spec, inputs: Inputs | None = None) -> ChartData:
    """Sum of YYYYMM columns over all rows per month (optionally per ``category``): x, value, series."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    frame, _ = inputs.load(spec.dataset, spec.resource)
    frame = _apply_filter(frame, args.get("filter"), spec.dataset)
    cols, notes = _month_columns(frame, spec.dataset, float(args.get("min_share", 0.1)))
    data = pd.DataFrame({c: _numeric(frame[c]) for c in cols})
    if args.get("category"):
        data["series"] = _sentence_case(_column(frame, args["category"], spec.dataset)).to_numpy()
        sums = data.groupby("series").sum()
        out = sums.reset_index().melt(id_vars="series", var_name="column", value_name="value")
    else:
        out = pd.DataFrame({"column": cols, "value": data.sum().to_numpy()})
    out["x"] = out["column"].map(_month_label)
    return _result(inputs, out.drop(columns="column").sort_values("x"), notes,
                   {"first_month": cols[0], "last_month": cols[-1]})


@transform("period_totals", args=("last", "by", "by_label", "borough", "category", "top", "min_share",
                                  "other", "filter", "exclude"))
def period_totals(service, spec, inputs: Inputs | None = None) -> ChartData:
    """Sum of the last N months per place (``by``), optionally split by ``category`` (stacked bars)."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    ds = spec.dataset
    frame, _ = inputs.load(ds, spec.resource)
    frame = _apply_filter(frame, args.get("filter"), ds)
    cols, notes = _month_columns(frame, ds, float(args.get("min_share", 0.1)))
    last = int(args.get("last", 12))
    cols = cols[-last:]
    first, final = _month_label(cols[0]), _month_label(cols[-1])
    total = pd.DataFrame({c: _numeric(frame[c]) for c in cols}).sum(axis=1)
    keys = _column(frame, args["by"], ds).astype("string")
    exclude = [str(e) for e in args.get("exclude") or []]
    lookup = borough_lookup(inputs)
    names = (_column(frame, args["by_label"], ds).astype("string") if args.get("by_label") else keys)
    base = pd.DataFrame({"code": keys.to_numpy(), "name": names.to_numpy(), "value": total.to_numpy()})
    if args.get("category"):
        base["series"] = _sentence_case(_column(frame, args["category"], ds)).to_numpy()
    if args.get("borough"):
        borough_names = _column(frame, args["borough"], ds).astype("string")
        base["borough"] = borough_names.to_numpy()
        excluded = base["borough"].isin(exclude)
        if excluded.any():
            notes.append(f"{int(base.loc[excluded, 'value'].sum()):,} crimes recorded under "
                         f"{', '.join(sorted(set(base.loc[excluded, 'borough'])))} are left out (not a borough).")
        base = base[~excluded]
    group_cols = ["code", "name"] + (["borough"] if "borough" in base.columns else [])
    if "series" in base.columns:
        out = base.groupby(group_cols + ["series"], as_index=False)["value"].sum()
        totals = out.groupby("series")["value"].sum().sort_values(ascending=False)
        top_series = int(args.get("top") or 0)
        if top_series and len(totals) > top_series:
            keep = set(totals.index[:top_series])
            out["series"] = out["series"].where(out["series"].isin(keep), "Other")
            out = out.groupby(group_cols + ["series"], as_index=False)["value"].sum()
    else:
        out = base.groupby(group_cols, as_index=False)["value"].sum()
        if args.get("top"):
            out = out.nlargest(int(args["top"]), "value")
    if "borough" in out.columns:
        out["borough_code"] = out["borough"].map(lambda n: (match_borough(n, lookup) or (None,))[0]).astype("string")
        if args.get("by") == args.get("borough"):   # places are boroughs named in the file: use their codes
            out["code"] = out["borough_code"]
            out = out.drop(columns=["borough"])
    notes.append(f"Totals for {first:%B %Y} to {final:%B %Y} ({len(cols)} months).")
    return _result(inputs, _place_frame(out), notes, {"first": f"{first:%Y-%m}", "last": f"{final:%Y-%m}"})


@transform("long_values", args=("value", "year", "code", "label", "series_columns", "filter", "total",
                                "require_code"))
def long_values(service, spec, inputs: Inputs | None = None) -> ChartData:
    """A long table (one row per place and year): x from the ``year`` column, value(s) per place or in total."""
    inputs = inputs or Inputs(service)
    args = _args(spec)
    ds = spec.dataset
    frame, _ = inputs.load(ds, spec.resource)
    frame = _apply_filter(frame, args.get("filter"), ds)
    code = _column(frame, args.get("code", "area_code"), ds).astype("string")
    notes = []
    if args.get("require_code", True):
        keep = code.str.match(GSS_RE).fillna(False)
        if (~keep).any():
            notes.append(f"{int((~keep).sum()):,} rows without a GSS code (e.g. London or unapportioned totals) are left out.")
        frame, code = frame[keep], code[keep]
    columns = args.get("series_columns") or {"value": args.get("value", "{value_column}")}
    parts = []
    for name, column in columns.items():
        part = pd.DataFrame({
            "area_code": code.to_numpy(),
            "area_name": _column(frame, args.get("label", "area_name"), ds).astype("string").to_numpy(),
            "x": _numeric(_column(frame, args.get("year", "year"), ds)).to_numpy(),
            "value": _numeric(_column(frame, column, ds)).to_numpy(),
            "series": name,
        })
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    if args.get("total"):
        out = out.groupby(["x", "series"], as_index=False)["value"].sum()
        out["area_code"], out["area_name"] = "london", "London (sum of boroughs)"
    out = out[out["value"].notna() & out["x"].notna()]
    out["x"] = out["x"].astype(int)
    if len(columns) == 1:
        out = out.drop(columns="series")
    return _result(inputs, out, notes)


# ============================================================================ headline computations
@dataclass
class HeadlineValue:
    value: float | None
    used: list[tuple[str, str]]
    sources: list[dict]
    detail: str = ""


def _headline_measure(inputs: Inputs, spec) -> pd.Series:
    args = _args(spec)
    m = {k: v for k, v in args.items() if k not in ("threshold", "below")}
    df = _measure_or_ratio(inputs, m, spec)
    return df["value"].dropna()


def _compare(vals: pd.Series, args: dict) -> pd.Series:
    threshold = float(args["threshold"])
    return vals < threshold if args.get("below") else vals > threshold


@computation("share_above", args=("value", "threshold", "below", "filter", "label", "code", "by", "agg",
                                  "numerator", "denominator", "scale"))
def share_above(service, spec) -> HeadlineValue:
    """Percentage of places whose value is above ``threshold`` (below it with ``below: true``)."""
    inputs = Inputs(service)
    vals = _headline_measure(inputs, spec)
    hits = int(_compare(vals, _args(spec)).sum())
    return HeadlineValue(hits / len(vals) * 100 if len(vals) else None, inputs.used, inputs.sources,
                         f"{hits:,} of {len(vals):,}")


@computation("count_above", args=("value", "threshold", "below", "filter", "by", "agg",
                                  "numerator", "denominator", "scale"))
def count_above(service, spec) -> HeadlineValue:
    """Number of places whose value is above ``threshold`` (below it with ``below: true``)."""
    inputs = Inputs(service)
    vals = _headline_measure(inputs, spec)
    hits = int(_compare(vals, _args(spec)).sum())
    return HeadlineValue(float(hits), inputs.used, inputs.sources, f"of {len(vals):,}")


@computation("total_ratio", args=("numerator", "denominator", "scale"))
def total_ratio(service, spec) -> HeadlineValue:
    """Sum of the numerator over sum of the denominator (places in both), times ``scale``."""
    inputs = Inputs(service)
    args = _args(spec)
    num = measure(inputs, args["numerator"], spec.dataset, spec.resource)
    den = measure(inputs, args["denominator"], spec.dataset, spec.resource)
    merged = num.merge(den[["code", "value"]], on="code", suffixes=("_n", "_d"))
    value = merged["value_n"].sum() / merged["value_d"].sum() * float(args.get("scale", 1))
    return HeadlineValue(float(value), inputs.used, inputs.sources, f"{len(merged):,} areas")


@computation("median_change", args=("from", "to", "resource_from", "resource_to", "value"))
def median_change(service, spec) -> HeadlineValue:
    """Median % change across places between two resources (or two columns) of a dataset."""
    inputs = Inputs(service)
    args = _args(spec)
    start = measure(inputs, {"value": args.get("from", args.get("value", "{value_column}"))}, spec.dataset,
                    args.get("resource_from", spec.resource))
    end = measure(inputs, {"value": args.get("to", args.get("value", "{value_column}"))}, spec.dataset,
                  args.get("resource_to", spec.resource))
    merged = start.merge(end[["code", "value"]], on="code", suffixes=("_a", "_b"))
    change = (merged["value_b"] / merged["value_a"] - 1) * 100
    return HeadlineValue(float(change.median()), inputs.used, inputs.sources, f"{len(merged):,} areas")


@computation("total_change", args=("from", "to", "filter"))
def total_change(service, spec) -> HeadlineValue:
    """% change of the sum over all rows between two columns (e.g. crimes 2011 → 2021)."""
    inputs = Inputs(service)
    args = _args(spec)
    frame, loaded = inputs.load(spec.dataset, spec.resource)
    frame = _apply_filter(frame, args.get("filter"), spec.dataset)
    a = _numeric(_column(frame, resolve_column(args["from"], loaded.resource), spec.dataset)).sum()
    b = _numeric(_column(frame, resolve_column(args["to"], loaded.resource), spec.dataset)).sum()
    return HeadlineValue(float((b / a - 1) * 100) if a else None, inputs.used, inputs.sources,
                         f"{a:,.0f} → {b:,.0f}")


@computation("row_value", args=("code_column", "row", "value", "join"))
def row_value(service, spec) -> HeadlineValue:
    """One cell: the ``value`` column of the row whose ``code_column`` equals ``row``."""
    inputs = Inputs(service)
    args = _args(spec)
    frame, loaded = inputs.load(spec.dataset, spec.resource, join=bool(args.get("join", False)))
    codes = _column(frame, args["code_column"], spec.dataset).astype("string")
    row = frame[codes == str(args["row"])]
    if row.empty:
        raise ChartDataError(f"no row {args['row']} in {spec.dataset}")
    value = _numeric(_column(row, resolve_column(args["value"], loaded.resource), spec.dataset)).iloc[0]
    return HeadlineValue(float(value), inputs.used, inputs.sources)


@computation("correlation", args=("x", "y"))
def correlation(service, spec) -> HeadlineValue:
    """Pearson r between two measures joined on place code."""
    inputs = Inputs(service)
    args = _args(spec)
    xs = _measure_or_ratio(inputs, args["x"], spec)
    ys = _measure_or_ratio(inputs, args["y"], spec)
    merged = xs.merge(ys[["code", "value"]], on="code", suffixes=("_x", "_y"))
    fit = _fit(merged["value_x"], merged["value_y"])
    return HeadlineValue(fit["r"], inputs.used, inputs.sources, f"n = {fit['n']:,}")


@computation("group_difference", args=("value", "group", "high", "low"))
def group_difference(service, spec) -> HeadlineValue:
    """Mean of ``value`` in group ``high`` minus its mean in group ``low`` (groups from another measure)."""
    inputs = Inputs(service)
    args = _args(spec)
    vals = measure(inputs, args["value"], spec.dataset, spec.resource)
    groups = measure(inputs, args["group"], spec.dataset, spec.resource)
    merged = vals.merge(groups[["code", "value"]], on="code", suffixes=("", "_g"))
    hi = merged.loc[merged["value_g"] == float(args["high"]), "value"].mean()
    lo = merged.loc[merged["value_g"] == float(args["low"]), "value"].mean()
    return HeadlineValue(float(hi - lo), inputs.used, inputs.sources, f"{hi:.1f} vs {lo:.1f}")


@computation("row_count", args=("filter",))
def row_count(service, spec) -> HeadlineValue:
    """Number of rows (e.g. trees recorded)."""
    inputs = Inputs(service)
    frame, _ = inputs.load(spec.dataset, spec.resource)
    frame = _apply_filter(frame, _args(spec).get("filter"), spec.dataset)
    return HeadlineValue(float(len(frame)), inputs.used, inputs.sources)


@computation("period_sum", args=("last", "min_share", "filter"))
def period_sum(service, spec) -> HeadlineValue:
    """Sum of the last N complete YYYYMM month columns over all rows."""
    inputs = Inputs(service)
    args = _args(spec)
    frame, _ = inputs.load(spec.dataset, spec.resource)
    frame = _apply_filter(frame, args.get("filter"), spec.dataset)
    cols, _ = _month_columns(frame, spec.dataset, float(args.get("min_share", 0.1)))
    cols = cols[-int(args.get("last", 12)):]
    total = pd.DataFrame({c: _numeric(frame[c]) for c in cols}).to_numpy().sum()
    return HeadlineValue(float(total), inputs.used, inputs.sources,
                         f"{_month_label(cols[0]):%b %Y} – {_month_label(cols[-1]):%b %Y}")


@computation("row_change", args=("code_column", "row", "from", "to", "multiple"))
def row_change(service, spec) -> HeadlineValue:
    """Change between two columns of one row of the unjoined table (``multiple: true`` for ×, else %)."""
    inputs = Inputs(service)
    args = _args(spec)
    frame, loaded = inputs.load(spec.dataset, spec.resource, join=False)
    codes = _column(frame, args["code_column"], spec.dataset).astype("string")
    row = frame[codes == str(args["row"])]
    if row.empty:
        raise ChartDataError(f"no row {args['row']} in {spec.dataset}")
    a = float(_numeric(_column(row, args["from"], spec.dataset)).iloc[0])
    b = float(_numeric(_column(row, args["to"], spec.dataset)).iloc[0])
    value = b / a if args.get("multiple") else (b / a - 1) * 100
    return HeadlineValue(value, inputs.used, inputs.sources, f"{a:,.0f} → {b:,.0f}")


@computation("median_of", args=("value", "numerator", "denominator", "scale", "by", "agg", "filter"))
def median_of(service, spec) -> HeadlineValue:
    """Median across places of a measure (or of a ratio of two measures)."""
    inputs = Inputs(service)
    vals = _headline_measure(inputs, spec)
    return HeadlineValue(float(vals.median()) if len(vals) else None, inputs.used, inputs.sources,
                         f"median of {len(vals):,}")


@computation("year_change", args=("value", "year", "start", "end", "filter", "code", "require_code"))
def year_change(service, spec) -> HeadlineValue:
    """% change of the sum of ``value`` between two years of a long table (rows without a code dropped)."""
    inputs = Inputs(service)
    args = _args(spec)
    frame, loaded = inputs.load(spec.dataset, spec.resource)
    frame = _apply_filter(frame, args.get("filter"), spec.dataset)
    if args.get("require_code", True) and args.get("code"):
        frame = frame[_column(frame, args["code"], spec.dataset).astype("string").str.match(GSS_RE).fillna(False)]
    years = _numeric(_column(frame, args.get("year", "year"), spec.dataset))
    values = _numeric(_column(frame, resolve_column(args.get("value", "{value_column}"), loaded.resource), spec.dataset))
    a = values[years == float(args["start"])].sum()
    b = values[years == float(args["end"])].sum()
    return HeadlineValue(float((b / a - 1) * 100) if a else None, inputs.used, inputs.sources, f"{a:,.0f} → {b:,.0f}")
