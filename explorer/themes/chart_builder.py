"""The chart builder: any table of the registry as a chart, chosen with a few plain choices.

A dataset page's builder, its exports and ``explorer export dataset-chart`` share this module:

* :func:`parse_query` reads the choices from a page address (``?chart=line&y=…&area=…``) as
  hostile input: bounded lengths and counts, known words only, numbers checked. It raises
  :class:`BuilderError` naming the field.
* :func:`describe` looks at a loaded table once (kept per data service): its places (a GSS code
  column and a name column, the London row), its measures (numeric columns with readable labels
  and the unit), its categories, and whether it holds one column per period (house prices' "Year
  ending Dec 1995" …, crime's ``202403`` …; read with the map's own year parser) or a year column.
* :func:`resolve` checks a spec against the table (unknown column, text as a measure, a filter
  value that is not there: a :class:`BuilderError` whose message says what there is) and fills in
  what was left open with the proposed default (:func:`propose`: periods → line; places → ranked
  bar with London marked; two measures → scatter).
* :func:`chart_data` turns a resolved spec into the tidy frame the theme charts draw
  (``explorer.themes.charts``): one chart machinery, one look, one set of number formats.
* :func:`build` does it all and returns an ``explorer.themes.charts.ChartResult`` (never raises for a bad
  choice: the result's ``error`` says what to change).

Nothing here touches Dash; file reads happen only through the data service (cached).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Iterable, Mapping
from urllib.parse import urlencode

import numpy as np
import pandas as pd

# ------------------------------------------------------------------------------------ vocabulary
TYPES = {
    "bar": "Ranked bar",
    "grouped": "Grouped bar",
    "line": "Line over time",
    "scatter": "Scatter (two measures)",
    "distribution": "Distribution",
}
THEME_TYPES = {"bar": "ranked_bar", "grouped": "ranked_bar", "line": "time_series",
               "scatter": "scatter_trend", "distribution": "distribution"}
SORTS = {"desc": "Highest first", "asc": "Lowest first", "name": "By name"}
AGGS = {"sum": "Sum", "mean": "Average", "median": "Median"}

PERIODS = "~periods"       # measure: the values of a column-per-period table
ROWS = "~rows"             # measure: the number of rows
AREA = "~area"             # axis / group: the rows' own places
PERIOD = "~period"         # group: one bar per period (grouped bars)

LONDON_CODES = ("E12000007",)
LONDON_NAMES = ("london", "greater london", "london (greater)", "london region")

MAX_VALUE = 200            # characters of one URL value
MAX_AREAS = 40             # places picked at once
MAX_FILTERS = 4            # filter columns
MAX_FILTER_VALUES = 50     # values of one filter
MAX_N = 500                # top / bottom N
MAX_SERIES_LINES = 7       # named lines; more places are drawn as thin context lines
MAX_CONTEXT_LINES = 60     # more than this and the places are summed into one line
MAX_GROUPS = 8             # series of a grouped bar
MAX_PERIOD_GROUPS = 6
MAX_BARS = 60              # bars of a ranked bar before only the top 20 are shown by default
DEFAULT_TOP = 20
MAX_CATEGORY_VALUES = 400  # a text column with more distinct values is not offered as a category

LEVEL_THINGS = {"E01": "LSOAs", "E02": "MSOAs", "E05": "wards", "E09": "boroughs", "E12": "regions",
                "E13": "sub-regions", "E06": "local authorities", "E07": "local authorities",
                "E08": "local authorities"}
COUNT_WORDS = ("crime", "people", "person", "count", "number", "households", "homes", "trees",
               "tonnes", "kt", "gwh", "mwh", "hectares", "sites", "days", "population")


class BuilderError(ValueError):
    """A choice that cannot be drawn; ``field`` names the choice, the message what to do."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        self.reason = message
        super().__init__(message)


# ------------------------------------------------------------------------------------ the spec
@dataclass(frozen=True)
class BuilderSpec:
    """Every choice of the builder; ``None`` (or empty) means "as proposed for this table"."""

    dataset: str
    resource: str | None = None
    type: str | None = None
    y: str | None = None
    x: str | None = None
    group: str | None = None
    areas: tuple[str, ...] = ()
    start: int | None = None
    end: int | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sort: str | None = None
    top: int | None = None
    bottom: int | None = None
    agg: str | None = None

    def query(self) -> list[tuple[str, str]]:
        """The choices as URL parameters (only those made), in a fixed order."""
        out: list[tuple[str, str]] = []
        for key, value in (("resource", self.resource), ("chart", self.type), ("y", self.y), ("x", self.x),
                           ("group", self.group)):
            if value:
                out.append((key, value))
        if self.areas:
            out.append(("area", ",".join(self.areas)))
        if self.start is not None:
            out.append(("from", str(self.start)))
        if self.end is not None:
            out.append(("to", str(self.end)))
        for column, values in self.filters:
            out.append(("filter", f"{column}={','.join(values)}"))
        for key, value in (("sort", self.sort), ("top", self.top), ("bottom", self.bottom), ("agg", self.agg)):
            if value is not None and value != "":
                out.append((key, str(value)))
        return out

    def search(self) -> str:
        """``?chart=…&y=…`` (empty when nothing was chosen)."""
        q = self.query()
        return "?" + urlencode(q, safe=",~:") if q else ""

    def path(self) -> str:
        """The dataset page showing this chart."""
        from urllib.parse import quote

        return f"/dataset/{quote(self.dataset)}" + self.search()


QUERY_KEYS = ("resource", "chart", "y", "x", "group", "area", "from", "to", "filter", "sort", "top", "bottom", "agg")
PAGE_KEYS = ("embed",)      # allowed beside the choices, not part of them
EXPORT_KEYS = ("preset", "width", "height", "scale")


def _text(key: str, raw, limit: int = MAX_VALUE) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    if len(text) > limit:
        raise BuilderError(key, f"{key} is too long ({len(text):,} characters; at most {limit})")
    if any(ord(ch) < 32 for ch in text):
        raise BuilderError(key, f"{key} holds control characters")
    return text


def _int(key: str, raw, low: int, high: int) -> int | None:
    text = _text(key, raw, 12)
    if text is None:
        return None
    if not re.fullmatch(r"-?\d+", text):
        raise BuilderError(key, f"{key} must be a whole number, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise BuilderError(key, f"{key} must be between {low} and {high}, got {value}")
    return value


def _list(key: str, raw: str | None, limit: int) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [v.strip() for v in raw.split(",") if v.strip()]
    if len(items) > limit:
        raise BuilderError(key, f"{key} has {len(items)} values; at most {limit}")
    return tuple(dict.fromkeys(items))


def parse_query(dataset: str, params: Mapping[str, Iterable[str] | str], allow=PAGE_KEYS + EXPORT_KEYS) -> BuilderSpec:
    """A spec from URL parameters ({key: [values]} as ``parse_qs`` gives, or {key: value}).

    Unknown keys, repeated single keys, over-long or malformed values raise :class:`BuilderError`;
    whether the columns exist is checked later against the data (:func:`resolve`)."""
    def values(key) -> list[str]:
        raw = params.get(key)
        if raw is None:
            return []
        return [raw] if isinstance(raw, str) else list(raw)

    unknown = [k for k in params if k not in QUERY_KEYS and k not in allow]
    if unknown:
        raise BuilderError(unknown[0], f"unknown choice {str(unknown[0])[:40]!r}; the chart builder reads "
                                       f"{', '.join(QUERY_KEYS)}")

    def one(key, limit: int = MAX_VALUE) -> str | None:
        got = values(key)
        if len(got) > 1:
            raise BuilderError(key, f"{key} is given {len(got)} times; give it once")
        return _text(key, got[0], limit) if got else None

    chart = one("chart")
    if chart is not None and chart not in TYPES:
        raise BuilderError("chart", f"unknown chart type {chart[:40]!r}; choose one of {', '.join(TYPES)}")
    sort = one("sort")
    if sort is not None and sort not in SORTS:
        raise BuilderError("sort", f"unknown sort {sort[:40]!r}; choose one of {', '.join(SORTS)}")
    agg = one("agg")
    if agg is not None and agg not in AGGS:
        raise BuilderError("agg", f"unknown way to combine rows {agg[:40]!r}; choose one of {', '.join(AGGS)}")
    filters: list[tuple[str, tuple[str, ...]]] = []
    raw_filters = values("filter")
    if len(raw_filters) > MAX_FILTERS:
        raise BuilderError("filter", f"{len(raw_filters)} filters; at most {MAX_FILTERS}")
    for raw in raw_filters:
        text = _text("filter", raw, MAX_VALUE * 4)
        if text is None:
            continue
        column, sep, rest = text.partition("=")
        if not sep or not column.strip():
            raise BuilderError("filter", f"a filter is COLUMN=VALUE[,VALUE…], got {text[:60]!r}")
        column = _text("filter", column) or ""
        picked = _list("filter", rest, MAX_FILTER_VALUES)
        if not picked:
            raise BuilderError("filter", f"the filter on {column!r} names no value")
        if any(c == column for c, _ in filters):
            raise BuilderError("filter", f"{column!r} is filtered twice; give its values in one filter")
        filters.append((column, picked))
    top, bottom = _int("top", one("top"), 1, MAX_N), _int("bottom", one("bottom"), 1, MAX_N)
    if top and bottom:
        raise BuilderError("top", "choose the top N or the bottom N, not both")
    start, end = _int("from", one("from"), 1000, 2999), _int("to", one("to"), 1000, 2999)
    if start is not None and end is not None and start > end:
        raise BuilderError("from", f"the first year ({start}) is after the last ({end})")
    return BuilderSpec(
        dataset=dataset, resource=one("resource"), type=chart, y=one("y"), x=one("x"), group=one("group"),
        areas=_list("area", one("area", MAX_AREAS * 80), MAX_AREAS), start=start, end=end, filters=tuple(filters),
        sort=sort, top=top, bottom=bottom, agg=agg,
    )


def spec_from_options(dataset: str, resource=None, type=None, y=None, x=None, group=None, areas=(),
                      start=None, end=None, filters=(), sort=None, top=None, bottom=None, agg=None) -> BuilderSpec:
    """A spec from separate values (the CLI's options, the builder's controls), checked as a URL is."""
    params: dict[str, list[str]] = {}
    for key, value in (("resource", resource), ("chart", type), ("y", y), ("x", x), ("group", group),
                       ("from", start), ("to", end), ("sort", sort), ("top", top), ("bottom", bottom),
                       ("agg", agg)):
        if value is not None and value != "":
            params[key] = [str(value)]
    if areas:
        params["area"] = [",".join(str(a) for a in areas)]
    if filters:
        params["filter"] = [f if isinstance(f, str) else f"{f[0]}={','.join(f[1])}" for f in filters]
    return parse_query(dataset, params, allow=())


# ------------------------------------------------------------------------------------ the table
@dataclass
class Period:
    column: str
    x: object            # int year, or a Timestamp (month resolution)
    year: int
    label: str


@dataclass
class Measure:
    key: str
    label: str
    unit: str


@dataclass
class TableInfo:
    dataset_id: str
    resource_id: str
    title: str
    frame: pd.DataFrame
    code_col: str | None
    name_col: str | None
    level: str | None                 # GSS prefix of most rows (E09 …)
    things: str                       # "boroughs", "wards", "rows" …
    area_rows: np.ndarray             # bool: rows at the main level (the places to chart)
    london_row: int | None            # position of London's own row
    periods: list[Period]
    measures: dict[str, Measure]
    categories: list[str]
    time_col: str | None
    time_x: pd.Series | None          # the year (int) or month (Timestamp) of each row
    unit: str
    count_like: bool
    provenance: dict = field(default_factory=dict)
    themes: tuple = ()
    lookups: list = field(default_factory=list)    # where names came from (boundaries)
    source: dict = field(default_factory=dict)     # as ChartData.sources items

    @property
    def has_places(self) -> bool:
        return self.code_col is not None or self.name_col is not None

    @cached_property
    def n_places(self) -> int:
        """Distinct places among the rows at the main level (a long table repeats them)."""
        col = self.code_col or self.name_col
        if col is None:
            return int(self.area_rows.sum())
        return int(self.frame.loc[self.area_rows, col].nunique())

    def years(self) -> list[int]:
        if self.periods:
            return sorted({p.year for p in self.periods})
        if self.time_x is not None:
            xs = self.time_x.dropna()
            return sorted({int(v.year) if isinstance(v, pd.Timestamp) else int(v) for v in xs.unique()})
        return []

    def label_of(self, key: str | None) -> str:
        if key is None:
            return ""
        if key in self.measures:
            return self.measures[key].label
        if key == AREA:
            return self.things[:1].upper() + self.things[1:-1] if self.things.endswith("s") else "Place"
        if key == PERIOD:
            return "Period"
        if key == self.borough_col:
            return "Borough"
        return column_label(key)

    @cached_property
    def borough_col(self) -> str | None:
        return _borough_column(self)

    def place_options(self) -> list[dict]:
        """The places a person can pick: code → name, London first (worked out once per table)."""
        return self._places

    @cached_property
    def _places(self) -> list[dict]:
        if not self.has_places:
            return []
        key_col = self.code_col or self.name_col
        name_col = self.name_col or self.code_col
        rows = self.frame.loc[self.area_rows, [key_col] + ([name_col] if name_col != key_col else [])]
        rows = rows.drop_duplicates(key_col).head(2000)
        keys = rows[key_col].astype("string")
        names = rows[name_col].astype("string").fillna(keys) if name_col != key_col else keys
        out = [{"value": str(k), "label": str(n)} for k, n in zip(keys, names) if not pd.isna(k)]
        out.sort(key=lambda o: o["label"].lower())
        if self.london_row is not None:
            out.insert(0, {"value": self._place_key(self.london_row), "label": "London"})
        return out

    @cached_property
    def place_lookup(self) -> dict[str, str]:
        """Lower-case code or name → the place's key (what the places' choice holds)."""
        out = {}
        for o in self._places:
            out.setdefault(o["label"].lower(), o["value"])
            out[o["value"].lower()] = o["value"]
        return out

    def _place_key(self, i: int) -> str:
        col = self.code_col or self.name_col
        return str(self.frame[col].iloc[i])

    def _place_name(self, i: int) -> str:
        col = self.name_col or self.code_col
        value = self.frame[col].iloc[i]
        return str(value) if not pd.isna(value) else self._place_key(i)

    def category_values(self, column: str, limit: int = MAX_CATEGORY_VALUES) -> list[str]:
        memo = self.__dict__.setdefault("_category_values", {})
        if (column, limit) not in memo:
            counts = self.frame[column].astype("string").str.strip().dropna().value_counts()
            memo[(column, limit)] = sorted(map(str, counts.index[:limit]), key=str.lower)
        return memo[(column, limit)]


def _shared_labels():
    """The pages' own label and number rules (``explorer.labels``), when this checkout has them."""
    try:
        from explorer.labels.numbers import format_value
        from explorer.labels.variables import variable_label
    except ImportError:
        return None, None
    return variable_label, format_value


def format_number(value: float, decimals: int, unit: str) -> str:
    """£72,310 · 38.2 µg/m³ · 12 %: the pages' rules (the theme charts' where those are missing)."""
    _, format_value = _shared_labels()
    if format_value is not None:
        return format_value(value, unit or None, None if unit in ("£", "µg/m³") else decimals)
    from explorer.themes.charts import fmt_number

    return fmt_number(value, decimals, unit)


def column_label(name: str) -> str:
    """'Population_density_per_hectare_2015' → 'Population density per hectare 2015';
    'NO2-2019-mean' → 'NO₂ annual mean, 2019' (``explorer.labels`` where it is there)."""
    variable_label, _ = _shared_labels()
    if variable_label is not None:
        text = variable_label(str(name))
        words = text.split(" ")
        return _plain(" ".join(w for i, w in enumerate(words) if i == 0 or w.lower() != words[i - 1].lower()))
    m = re.fullmatch(r"([A-Za-z0-9.]+)[-_ ]((?:19|20)\d\d)[-_ ]([A-Za-z]+)", str(name))
    if m:
        return _plain(f"{m.group(1)} {m.group(3)}, {m.group(2)}")
    text = re.sub(r"[_]+", " ", str(name)).strip()
    text = re.sub(r"\s+", " ", text)
    words = text.split(" ")
    text = " ".join(w for i, w in enumerate(words) if i == 0 or w.lower() != words[i - 1].lower())
    if text and text.islower():
        text = text[0].upper() + text[1:]
    return _plain(text)


def _plain(text: str) -> str:
    """Text from data or a catalogue as plotly shows it: its tags (<b>, <a …>) made harmless."""
    return str(text).replace("<", "‹").replace(">", "›")


def _unit_in_name(name: str) -> str:
    low = name.lower()
    if "%" in low or re.search(r"(^|[_\s])(percent|pct|percentage)([_\s]|$)", low):
        return "%"
    if "£" in name:
        return "£"
    return ""


_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"], start=1)}
_MONTH_WORD = re.compile(r"(?<![a-z])(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*(?![a-z])", re.I)
_YYYYMM = re.compile(r"^((?:18|19|20)\d{2})(0[1-9]|1[0-2])$")


def period_columns(columns: list[str]) -> tuple[list[Period], str]:
    """Columns named by a period, as the map's year slider reads them
    (``explorer.maps.time_steps.YEAR_RE``): the largest group of columns that differ only by their year (and month) with at least two
    periods. Returns (periods in time order, the columns' common stem as a label)."""
    from explorer.maps.time_steps import MONTH_RE, YEAR_RE

    groups: dict[str, list[tuple[str, re.Match]]] = {}
    for name in columns:
        found = list(YEAR_RE.finditer(name))
        if len(found) != 1:
            continue
        stem = name[:found[0].start()] + "\0" + name[found[0].end():]
        stem = re.sub(r"\s+", " ", MONTH_RE.sub("", stem)).strip().lower()
        groups.setdefault(stem, []).append((name, found[0]))
    best_stem, best = "", []
    for stem, items in groups.items():
        if len(items) >= 2 and len(items) > len(best):
            best_stem, best = stem, items
    if not best:
        return [], ""
    periods = []
    monthly = any(_YYYYMM.match(name) or _MONTH_WORD.search(name) for name, _ in best)
    for name, match in best:
        year = int(match.group(1))
        if monthly:
            m = _YYYYMM.match(name)
            if m:
                month = int(m.group(2))
            else:
                word = _MONTH_WORD.search(name)
                month = _MONTHS[word.group(1).lower()[:3]] if word else 12
            x: object = pd.Timestamp(year=year, month=month, day=1)
            label = f"{x:%b %Y}"
        else:
            x, label = year, str(year)
        periods.append(Period(name, x, year, label))
    periods.sort(key=lambda p: (p.x if isinstance(p.x, pd.Timestamp) else pd.Timestamp(year=p.year, month=1, day=1)))
    xs = [p.x for p in periods]
    if len(set(xs)) != len(xs):      # two columns for one period: not a plain series
        return [], ""
    label = best_stem.replace("\0", " ").strip(" _-:")
    return periods, label


def _is_count_like(unit: str, label: str) -> bool:
    text = f"{unit} {label}".lower()
    if unit in ("£", "%") or "µg" in text or "mean" in text or "median" in text or "average" in text or "rate" in text:
        return False
    return any(w in text for w in COUNT_WORDS)


def _period_label(entry, resource, stem: str) -> str:
    options = resource.options or {}
    extras = entry.extras or {}
    stat = extras.get("statistic") or options.get("statistic")
    if isinstance(stat, str) and stat.strip():
        text = stat.split(",")[0].strip()
        return _plain(text[:1].upper() + text[1:])
    if stem and re.search(r"[a-z]{3}", stem, re.I):
        return column_label(stem)
    category = options.get("category")
    if isinstance(category, str) and category.strip():
        return _plain(category.strip()[:1].upper() + category.strip()[1:].lower())
    title = re.split(r"\s+(?:by|in|for)\s+|,|\(", entry.title or "", maxsplit=1)[0].strip()
    return _plain(title or "Value")


def _time_column(frame: pd.DataFrame, options: dict, skip: set[str]) -> tuple[str | None, pd.Series | None]:
    from explorer.maps.time_steps import years_of

    fmt = options.get("date_format") if isinstance(options.get("date_format"), str) else None
    if fmt and isinstance(options.get("date_column"), str) and options["date_column"] in frame.columns \
            and not pd.api.types.is_datetime64_any_dtype(frame[options["date_column"]]):
        parsed = pd.to_datetime(frame[options["date_column"]].astype("string"), format=fmt, errors="coerce")
        if parsed.notna().mean() >= 0.9 and parsed.nunique() >= 2:
            months = parsed.dt.to_period("M").dt.to_timestamp()
            return options["date_column"], (months if months.dt.month.nunique() > 1 else parsed.dt.year.astype("Int64"))
    names = [options.get(k) for k in ("year_column", "date_column") if isinstance(options.get(k), str)]
    names += [c for c in frame.columns if re.search(r"(^|[_\s])(year|date|month)([_\s]|$)", str(c).lower())]
    for name in dict.fromkeys(names):
        if name not in frame.columns or name in skip:
            continue
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            months = series.dt.to_period("M").dt.to_timestamp()
            if months.nunique() >= 2:
                if months.dt.month.nunique() == 1:
                    return name, series.dt.year.astype("Int64")
                return name, months
        years = years_of(series)
        if years.notna().mean() >= 0.9 and years.nunique() >= 2:
            return name, years
    return None, None


def describe_loaded(loaded) -> TableInfo:
    """What a loaded table offers the builder (pure: reads only the frame and the catalogue)."""
    from explorer.geo.geography import detect_code_columns
    from explorer.maps.columns import is_coordinate, is_identifier

    entry, resource = loaded.entry, loaded.resource
    frame = loaded.frame
    if "geometry" in getattr(frame, "columns", []):
        frame = pd.DataFrame(frame.drop(columns="geometry"))
    frame = pd.DataFrame(frame).reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    frame = frame.loc[:, ~pd.Index(frame.columns).duplicated()]
    options = dict(resource.options or {})
    unit = str(options.get("unit") or (entry.extras or {}).get("unit") or "")
    # places
    code_col = options.get("code_column") if options.get("code_column") in frame.columns else None
    codes_found = detect_code_columns(frame)
    if code_col is None and codes_found:
        code_col = codes_found[0].column
    level = None
    if code_col is not None:
        found = next((c for c in codes_found if c.column == code_col), None)
        level = found.prefix if found else None
    name_col = options.get("name_column") if options.get("name_column") in frame.columns else None
    if name_col is None:
        from explorer.geo.geometry_payload import name_column
        guess = name_column(frame)
        name_col = guess if guess in frame.columns and not pd.api.types.is_numeric_dtype(frame[guess]) else None
    n = len(frame)
    area_rows = np.ones(n, dtype=bool)
    london_row = None
    if code_col is not None:
        codes = frame[code_col].astype("string")
        if level:
            area_rows = codes.str.startswith(level).fillna(False).to_numpy(dtype=bool)
        hits = np.flatnonzero(codes.isin(LONDON_CODES).fillna(False).to_numpy(dtype=bool))
        if len(hits):
            london_row = int(hits[0])
    if london_row is None and name_col is not None and (code_col is None or level != "E12"):
        names = frame[name_col].astype("string").str.strip().str.lower()
        hits = np.flatnonzero(names.isin(LONDON_NAMES).fillna(False).to_numpy(dtype=bool))
        if len(hits) == 1:
            london_row = int(hits[0])
            area_rows[london_row] = False
    if london_row is not None:
        area_rows[london_row] = False
    things = LEVEL_THINGS.get(level or "", "places" if (code_col or name_col) else "rows")
    if name_col is None and code_col is None:
        area_rows = np.ones(n, dtype=bool)
    # measures
    from explorer.data.loaders import numeric_columns

    periods, stem = period_columns([c for c in numeric_columns(frame)])
    period_cols = {p.column for p in periods}
    time_col, time_x = (None, None) if periods else _time_column(frame, options, {code_col, name_col})
    measures: dict[str, Measure] = {}
    if periods:
        label = _period_label(entry, resource, stem)
        measures[PERIODS] = Measure(PERIODS, label, unit)
    hint = options.get("value_column") if isinstance(options.get("value_column"), str) else None
    singles = []
    for name in numeric_columns(frame):
        if name in period_cols or name == time_col or is_coordinate(name, options) or is_identifier(name, options):
            continue
        if frame[name].nunique(dropna=True) <= 1:
            continue
        singles.append(name)
    # ranks and deciles are orders, not amounts: offered, but not first
    singles.sort(key=lambda c: bool(re.search(r"rank|decile|quintile", c.lower())))
    if hint in singles:
        singles.remove(hint)
        singles.insert(0, hint)
    pollutant = options.get("pollutant") if isinstance(options.get("pollutant"), str) else ""
    for name in singles:
        own = _unit_in_name(name)
        label = column_label(name)
        plain = label.translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")).lower().replace(".", "")
        if name == hint and pollutant and pollutant.lower().replace(".", "") not in plain:
            label = f"{pollutant} {label[:1].lower() + label[1:]}"
        measures[name] = Measure(name, label, own or (unit if name == hint or len(singles) == 1 else ""))
    measures[ROWS] = Measure(ROWS, "Number of records", "")
    # categories: text columns with a few distinct values
    categories = []
    for name in frame.columns:
        if name in (code_col,) or name in measures or name == time_col:
            continue
        s = frame[name]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        try:
            k = s.nunique(dropna=True)
        except TypeError:
            continue
        if 2 <= k <= MAX_CATEGORY_VALUES and k < max(3, n):
            categories.append(name)
    label = measures[PERIODS].label if periods else (measures[singles[0]].label if singles else "")
    prov = loaded.provenance.to_dict()
    source = {"dataset_id": entry.id, "resource_id": resource.id, "role": "data", "title": entry.title,
              "resource_title": resource.title, "provenance": prov,
              "geography": loaded.geography.to_dict() if loaded.geography is not None else None,
              "join_error": loaded.join_error, "error": None}
    return TableInfo(
        dataset_id=entry.id, resource_id=resource.id, title=entry.title, frame=frame, code_col=code_col,
        name_col=name_col, level=level, things=things, area_rows=area_rows, london_row=london_row,
        periods=periods, measures=measures, categories=categories, time_col=time_col, time_x=time_x,
        unit=unit, count_like=_is_count_like(unit, label), provenance=prov, themes=tuple(entry.themes or ()),
        source=source)


def describe(service, dataset_id: str, resource_id: str | None = None) -> TableInfo:
    """:func:`describe_loaded` of the table as published (not joined), kept in the app's memos."""
    from explorer.data.cache import cache_key

    entry = service.entry(dataset_id)
    guard = getattr(service, "access_guard", None)
    if guard is not None and entry.access_level != "open":
        # asked before the memo, as DataService.load asks: a table kept after one person was let
        # read it is never handed to the next without asking again (raises DatasetError)
        guard(entry)
    try:
        resource = entry.resource(resource_id)
    except LookupError as exc:
        raise BuilderError("resource", str(exc)) from None
    key = cache_key("chart-builder-table", 1, entry.id, resource.id, entry.content_hash())

    def compute() -> TableInfo:
        loaded = service.load(dataset_id, resource.id, join=False)
        info = describe_loaded(loaded)
        if info.name_col is None and info.code_col is not None:
            _names_from_boundaries(service, info, dataset_id, resource.id)
        return info

    return service.memos.table("chart_builder.tables", 16).get(key, compute)


def _names_from_boundaries(service, info: TableInfo, dataset_id: str, resource_id: str) -> None:
    """A table of codes without names (LAEI by borough): the names of the boundaries its codes were
    matched to (the data service's joined load, cached), credited as a look-up."""
    from explorer.geo.joins import DatasetError

    try:
        joined = service.load(dataset_id, resource_id)
    except DatasetError:
        return
    frame, geo = joined.frame, joined.geography
    if geo is None or "area_name" not in getattr(frame, "columns", []) or "area_code" not in frame.columns:
        return
    names = dict(zip(frame["area_code"].astype("string"), frame["area_name"].astype("string")))
    column = "Name"
    while column in info.frame.columns:
        column += " "
    info.frame[column] = info.frame[info.code_col].astype("string").map(names)
    if info.frame[column].notna().sum() == 0:
        info.frame.drop(columns=column, inplace=True)
        return
    info.name_col = column
    try:
        boundary = service.boundaries.get(geo.boundary_set)
        entry = service.entry(boundary.dataset_id)
        info.lookups.append({"dataset_id": entry.id, "resource_id": boundary.resource_id or "", "role": "lookup",
                             "title": entry.title, "resource_title": None, "provenance": None, "geography": None,
                             "join_error": None, "error": None})
    except Exception:  # noqa: BLE001 - a derived or unknown set: the names are still right
        pass


def chartable(info: TableInfo) -> str | None:
    """None when the table can be charted, else why not (for a person); worked out once per table
    (it counts the distinct values of every category column: a few ms of each redraw)."""
    if "_chartable" not in info.__dict__:
        info.__dict__["_chartable"] = _chartable(info)
    return info.__dict__["_chartable"]


def _chartable(info: TableInfo) -> str | None:
    if len(info.frame) == 0:
        return "the table has no rows"
    if "boundaries" in info.themes and not info.periods:
        return "it holds boundaries (shapes of areas), not figures about them"
    countable = [c for c in info.categories if 2 <= info.frame[c].nunique() <= 60]
    if len(info.measures) <= 1 and not (countable and len(info.frame) >= 20):
        return "the table has no numbers to chart and no categories to count"
    return None


# ------------------------------------------------------------------------------------ resolving
@dataclass
class Resolved:
    spec: BuilderSpec                  # with every choice filled in
    info: TableInfo
    measure: Measure
    x_measure: Measure | None
    axis: str                          # AREA or a category column (bar, grouped, scatter, distribution)
    group: str | None                  # grouped / line series: AREA, PERIOD or a category column
    periods: list[Period]              # periods in the chosen years
    agg: str
    proposed: bool                     # nothing was chosen: the builder's own proposal


def propose(info: TableInfo) -> BuilderSpec:
    """The first chart of a table, from its shape: periods → line; places → ranked bar with London
    marked; two measures → scatter; categories only → a count per category."""
    base = BuilderSpec(dataset=info.dataset_id, resource=info.resource_id)
    singles = [k for k in info.measures if k not in (PERIODS, ROWS)]
    if info.periods:
        return replace(base, type="line", y=PERIODS)
    if info.time_x is not None and singles:
        return replace(base, type="line", y=singles[0])
    if info.has_places and singles and info.n_places >= 2:
        return replace(base, type="bar", y=singles[0])
    if len(singles) >= 2:
        return replace(base, type="scatter", y=singles[0], x=singles[1])
    if singles:
        return replace(base, type="distribution", y=singles[0])
    if info.categories:
        return replace(base, type="bar", y=ROWS, x=info.categories[0])
    raise BuilderError("dataset", chartable(info) or "nothing to chart")


def _check_column(info: TableInfo, key: str, field_name: str, what: str) -> None:
    if key in info.frame.columns or key in (AREA, PERIOD):
        return
    cols = ", ".join(list(info.frame.columns)[:15])
    raise BuilderError(field_name, f"there is no column {key[:60]!r} in this table to use as {what}; "
                                   f"its columns are: {cols}{' …' if len(info.frame.columns) > 15 else ''}")


def _check_measure(info: TableInfo, key: str, field_name: str) -> Measure:
    if key in info.measures:
        return info.measures[key]
    _check_column(info, key, field_name, "a measure")
    numbers = [m.label for k, m in info.measures.items() if k != ROWS][:8]
    hint = f"; choose a measure such as {', '.join(numbers)}" if numbers else "; this table has no numbers, only rows to count"
    if key in {p.column for p in info.periods}:
        raise BuilderError(field_name, f"{key!r} is one of this table's periods: choose {info.measures[PERIODS].label!r} "
                                       "and the years instead")
    raise BuilderError(field_name, f"{column_label(key)!r} holds text, not numbers, so it cannot be a measure{hint}")


def _match_places(info: TableInfo, wanted: tuple[str, ...]) -> np.ndarray:
    """Rows of the picked places (by code or name, any case); an unknown place is an error."""
    frame = info.frame
    mask = np.zeros(len(frame), dtype=bool)
    cols = [c for c in (info.code_col, info.name_col) if c]
    if not cols:
        raise BuilderError("area", "this table has no place column, so places cannot be picked")
    lowered = {c: frame[c].astype("string").str.strip().str.lower() for c in cols}
    missing = []
    for want in wanted:
        w = want.strip().lower()
        hit = np.zeros(len(frame), dtype=bool)
        for c in cols:
            hit |= (lowered[c] == w).fillna(False).to_numpy(dtype=bool)
        if w == "london" and info.london_row is not None:
            hit[info.london_row] = True
        if not hit.any():
            missing.append(want)
        mask |= hit
    if missing:
        examples = ", ".join(o["label"] for o in info.place_options()[:6])
        raise BuilderError("area", f"no place called {', '.join(repr(m[:60]) for m in missing)} in this table "
                                   f"(places are named like {examples})")
    return mask


def _filter_mask(info: TableInfo, spec: BuilderSpec) -> np.ndarray:
    frame = info.frame
    mask = np.ones(len(frame), dtype=bool)
    for column, wanted in spec.filters:
        _check_column(info, column, "filter", "a filter")
        if column in (AREA, PERIOD):
            raise BuilderError("filter", "pick places with 'area' and years with 'from' and 'to'")
        series = frame[column].astype("string").str.strip()
        present = set(series.dropna().unique())
        missing = [w for w in wanted if w not in present]
        if missing:
            examples = ", ".join(sorted(map(str, present))[:8])
            raise BuilderError("filter", f"{column_label(column)!r} has no value {missing[0][:60]!r}; "
                                         f"its values include {examples}")
        mask &= series.isin(list(wanted)).fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        raise BuilderError("filter", "no rows are left after these filters together; remove one")
    return mask


def resolve(spec: BuilderSpec, info: TableInfo) -> Resolved:
    """Check ``spec`` against the table and fill in every open choice. Raises BuilderError."""
    chosen = any(v for k, v in spec.__dict__.items() if k not in ("dataset", "resource"))
    default = propose(info)
    singles = [k for k in info.measures if k not in (ROWS, PERIODS)]
    kind, y = spec.type, spec.y
    if kind is None and y is None:
        kind, y = default.type, default.y
        if default.x and not spec.x:
            spec = replace(spec, x=default.x)
    elif kind is None:
        kind = "line" if (y == PERIODS or (info.time_x is not None and y != ROWS)) else "bar"
    elif y is None:
        if kind == default.type:
            y = default.y
        elif kind in ("line", "grouped") and info.periods:
            y = PERIODS
        elif kind == "distribution" or kind == "scatter" or kind == "line":
            y = PERIODS if info.periods and kind == "distribution" else (singles[0] if singles else None)
        else:
            y = PERIODS if info.periods else (singles[0] if singles else ROWS)
        if y is None and kind == "scatter":
            raise BuilderError("x", "a scatter needs two measures and this table has only one; "
                                    "choose a ranked bar or a line instead")
        if y is None:
            raise BuilderError("y", "this table has no measure for that chart; choose a ranked bar to count rows")
    measure = _check_measure(info, y, "y")
    x_measure = None
    axis = AREA if info.has_places else None
    group = spec.group
    if kind == "scatter":
        xkey = spec.x or (default.x if default.type == "scatter" else next(
            (k for k in info.measures if k not in (ROWS, PERIODS, y)), None))
        if xkey is None:
            raise BuilderError("x", "a scatter needs two measures and this table has only one; "
                                    "choose a ranked bar or a line instead")
        x_measure = _check_measure(info, xkey, "x")
        if PERIODS in (y, xkey) or ROWS in (y, xkey):
            raise BuilderError("x", "a scatter compares two measure columns of each row; choose two columns")
        if xkey == y:
            raise BuilderError("x", "choose two different measures for a scatter")
        spec = replace(spec, x=xkey)
    elif kind == "line":
        if not info.periods and info.time_x is None:
            raise BuilderError("chart", "a line over time needs years or months, and this table has neither a "
                                        "column per period nor a year or date column; choose a ranked bar")
        if spec.x and spec.x not in (info.time_col,):
            raise BuilderError("x", f"a line's axis is time ({info.time_col or 'the periods'}); "
                                    "choose a category with 'group'")
        if y == PERIODS and not info.periods:
            raise BuilderError("y", "this table has no column per period")
        if y != PERIODS and info.time_x is None:
            raise BuilderError("y", f"{measure.label!r} is one number per row, with no years: choose "
                                    f"{info.measures[PERIODS].label!r} for a line over time")
    else:
        if spec.x and spec.x != AREA:
            _check_column(info, spec.x, "x", "the category axis")
            if spec.x in info.measures or pd.api.types.is_numeric_dtype(info.frame[spec.x]):
                raise BuilderError("x", f"{column_label(spec.x)!r} holds numbers: choose a text column (a place "
                                        "or a category) for the axis, or a scatter to compare two measures")
            axis = spec.x
        elif spec.x == AREA and not info.has_places:
            raise BuilderError("x", "this table has no places; choose a category column for the axis")
        elif axis is None:
            if not info.categories:
                raise BuilderError("x", "this table has no places and no category column for the bars")
            axis = info.categories[0]
        elif kind in ("bar", "grouped") and not spec.areas and info.n_places > MAX_BARS:
            # many small areas: one bar per borough when the table says which borough each is in
            borough = info.borough_col
            if borough and not spec.x:
                axis = borough
    if group is not None:
        if group not in (AREA, PERIOD):
            _check_column(info, group, "group", "the grouping")
            if pd.api.types.is_numeric_dtype(info.frame[group]):
                raise BuilderError("group", f"{column_label(group)!r} holds numbers; group by a text column")
        elif group == PERIOD and not (info.periods or info.time_x is not None):
            raise BuilderError("group", "this table has no periods to group by")
        elif group == AREA and not info.has_places:
            raise BuilderError("group", "this table has no places to group by")
    if kind == "grouped" and group is None:
        if info.periods or info.time_x is not None:
            group = PERIOD
        elif len(info.categories) > (1 if axis in info.categories else 0):
            group = next(c for c in info.categories if c != axis)
        else:
            raise BuilderError("group", "a grouped bar needs a second category (or periods) to group by")
    if group is not None and group == axis and kind != "line":
        raise BuilderError("group", "group by a different column than the bars' axis")
    # years
    years = info.years()
    if (spec.start is not None or spec.end is not None) and not years:
        raise BuilderError("from", "this table has no years to choose from")
    if years:
        lo, hi = years[0], years[-1]
        for key, value in (("from", spec.start), ("to", spec.end)):
            if value is not None and not lo <= value <= hi:
                raise BuilderError(key, f"{value} is outside the table's years ({lo}–{hi})")
    periods = [p for p in info.periods if (spec.start is None or p.year >= spec.start)
               and (spec.end is None or p.year <= spec.end)]
    if info.periods and not periods:
        raise BuilderError("from", "no period falls in the chosen years")
    # filters and places are checked now, so a bad one is named before anything is drawn
    _filter_mask(info, spec)
    if spec.areas:
        _match_places(info, spec.areas)
    agg = spec.agg or ("sum" if (info.count_like or measure.key == ROWS) and measure.unit not in ("£", "%") else "mean")
    if measure.key == ROWS:
        agg = "sum"
    sort = spec.sort or "desc"
    top, bottom = spec.top, spec.bottom
    if kind == "bar" and top is None and bottom is None and not spec.areas and info.n_places > MAX_BARS \
            and axis == AREA:
        top = DEFAULT_TOP
    filled = replace(spec, type=kind, y=y, sort=sort, top=top, bottom=bottom, agg=agg,
                     group=group, x=spec.x if kind == "scatter" else (axis if axis not in (AREA, None) and kind != "line" else spec.x))
    return Resolved(filled, info, measure, x_measure, axis or AREA, group, periods, agg, proposed=not chosen)


def _borough_column(info: TableInfo) -> str | None:
    """A column that says which borough each small area is in (codes E09…, or its name column)."""
    if info.level in (None, "E09", "E12"):
        return None
    frame = info.frame
    for name in info.categories:
        if name in (info.name_col,):
            continue
        values = frame[name].astype("string")
        if values.str.match(r"^E09\d{6}$").fillna(False).mean() > 0.8:
            names = [c for c in info.categories if c != name and re.search(r"(lad|borough|la)\w*(nm|name)", c.lower())]
            return names[0] if names else name
    for name in info.categories:
        low = name.lower()
        if name != info.name_col and re.search(r"(borough|lad\d*nm|la_?name|local authority)", low) \
                and 20 <= frame[name].nunique() <= 40:
            return name
    return None


# ------------------------------------------------------------------------------------ data
def _decimals(values: pd.Series, unit: str) -> int:
    if unit == "£":
        return 0
    v = values.abs().median() if len(values) else 0
    if pd.isna(v) or v >= 1000:
        return 0
    if v >= 10:
        return 1
    return 2


def _agg(series_or_frame, how: str):
    return getattr(series_or_frame, how)()


def _rows_mask(r: Resolved) -> np.ndarray:
    info = r.info
    mask = _filter_mask(info, r.spec)
    if r.spec.areas:
        mask &= _match_places(info, r.spec.areas)
    elif info.has_places:
        mask &= info.area_rows
    if not mask.any():
        raise BuilderError("filter", "no rows are left to chart")
    return mask


def _row_values(r: Resolved, frame: pd.DataFrame, at_period: Period | None = None, key=None) -> pd.Series:
    """One number per row of ``frame``: the measure (at a period for column-per-period tables)."""
    key = key or r.measure.key
    if key == ROWS:
        return pd.Series(1.0, index=frame.index)
    if key == PERIODS:
        col = (at_period or r.periods[-1]).column
        return pd.to_numeric(frame[col], errors="coerce").astype(float)
    return pd.to_numeric(frame[key], errors="coerce").astype(float)


def _names(r: Resolved, frame: pd.DataFrame, axis: str) -> tuple[pd.Series, pd.Series | None]:
    """(label per row, code per row or None) of the axis."""
    info = r.info
    if axis == AREA and not info.has_places:
        names = pd.Series([f"Row {i + 1:,}" for i in frame.index], index=frame.index, dtype="string")
        return names, None
    if axis == AREA:
        names = _plain_column(info, info.name_col or info.code_col, "(no name)").loc[frame.index]
        codes = _plain_column(info, info.code_col, "").loc[frame.index] if info.code_col else None
        return names, codes
    return _plain_column(info, axis, "(not stated)").loc[frame.index], None


def _plain_column(info: TableInfo, column: str, missing: str) -> pd.Series:
    """A text column of the table as charts show it (kept per table: worked out once)."""
    memo = info.__dict__.setdefault("_plain_columns", {})
    if column not in memo:
        text = info.frame[column].astype("string").fillna(missing)
        memo[column] = text.str.replace("<", "‹", regex=False).str.replace(">", "›", regex=False)
    return memo[column]


def _time_rows(r: Resolved, frame: pd.DataFrame) -> pd.Series:
    """The x (year or month) of each row of a long table, limited to the chosen years."""
    xs = r.info.time_x.loc[frame.index]
    return xs


def _in_years(r: Resolved, xs: pd.Series) -> pd.Series:
    years = xs.map(lambda v: v.year if isinstance(v, pd.Timestamp) else (int(v) if not pd.isna(v) else None))
    ok = years.notna()
    if r.spec.start is not None:
        ok &= years >= r.spec.start
    if r.spec.end is not None:
        ok &= years <= r.spec.end
    return ok.fillna(False).astype(bool)


def _last_x(r: Resolved, frame: pd.DataFrame):
    xs = _time_rows(r, frame)
    xs = xs[_in_years(r, xs)]
    if xs.dropna().empty:
        raise BuilderError("from", "no rows fall in the chosen years")
    return xs.dropna().max()


def _fmt_x(x) -> str:
    if isinstance(x, pd.Timestamp):
        return f"{x:%b %Y}"
    return str(int(x)) if isinstance(x, (int, float, np.integer, np.floating)) and float(x).is_integer() else str(x)


def _period_phrase(r: Resolved) -> str:
    if r.periods:
        return r.periods[-1].label if r.periods[-1].label[:1].isalpha() else r.periods[-1].label
    return ""


def _london_value(r: Resolved, at_period: Period | None = None, when=None) -> float | None:
    info = r.info
    if info.london_row is None or r.measure.key == ROWS:
        return None
    row = info.frame.iloc[[info.london_row]]
    if info.time_x is not None and not info.periods:
        return None
    if r.spec.filters:
        return None
    value = _row_values(r, row, at_period).iloc[0]
    return None if pd.isna(value) else float(value)


def _reference(r: Resolved, values: pd.Series, unit: str, decimals: int, axis: str, at_period=None) -> list[dict]:
    fmt_number = format_number
    london = _london_value(r, at_period)
    if london is not None:
        return [{"label": "London", "value": london, "axis": axis,
                 "text": f"London {fmt_number(london, decimals, unit)}"}]
    if r.axis == AREA and r.info.has_places and len(values) >= 3 and r.agg != "sum":
        mean = float(values.mean())
        return [{"label": "Average", "value": mean, "axis": axis,
                 "text": f"Average of the {len(values):,} {r.info.things}: {fmt_number(mean, decimals, unit)}"}]
    return []


@dataclass
class Prepared:
    frame: pd.DataFrame
    params: dict
    reference_lines: list[dict]
    title: str
    subtitle: str
    notes: list[str]
    unit: str


def _places_phrase(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) <= 4:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return f"{len(names)} places"


def _years_phrase(r: Resolved, xs: list) -> str:
    if not xs:
        return ""
    a, b = _fmt_x(min(xs)), _fmt_x(max(xs))
    return a if a == b else f"{a} to {b}"


def _ranked(r: Resolved) -> Prepared:
    info = r.info
    mask = _rows_mask(r)
    frame = info.frame[mask]
    notes: list[str] = []
    at = r.periods[-1] if info.periods else None
    when = ""
    if at is not None:
        when = at.label
    if info.time_x is not None and not info.periods and r.measure.key != ROWS:
        last = _last_x(r, frame)
        frame = frame[(_time_rows(r, frame) == last).to_numpy()]
        when = _fmt_x(last)
    names, codes = _names(r, frame, r.axis)
    keys = codes if codes is not None else names
    if r.spec.type == "grouped":
        return _grouped(r, frame, names, codes, when)
    values = _row_values(r, frame, at)
    data = pd.DataFrame({"key": keys.to_numpy(), "name": names.to_numpy(), "value": values.to_numpy()})
    if data["key"].duplicated().any():
        grouped = data.groupby("key", sort=False)
        out = pd.DataFrame({"name": grouped["name"].first(), "value": _agg(grouped["value"], r.agg),
                            "n": grouped.size()}).reset_index()
        notes.append(f"{len(data):,} rows combined into {len(out):,} {_what(r)} ({AGGS[r.agg].lower()} of each).")
        data = out
    missing = int(data["value"].isna().sum())
    if missing:
        notes.append(f"{missing:,} without a value left out.")
    data = data[data["value"].notna()]
    if data.empty:
        raise BuilderError("y", f"{r.measure.label!r} has no values for these choices")
    all_values = data["value"]
    unit = r.measure.unit
    d = _decimals(all_values, unit)
    refs = _reference(r, all_values, unit, d, "x", at)
    total = len(data)
    if r.spec.top:
        data = data.nlargest(r.spec.top, "value")
    elif r.spec.bottom:
        data = data.nsmallest(r.spec.bottom, "value")
    sort = r.spec.sort
    if sort == "asc":
        data = data.sort_values("value", ascending=True)
    elif sort == "name":
        data = data.sort_values("name", key=lambda s: s.str.lower())
    frame_out = pd.DataFrame({"area_name": _unique_names(data["name"], data["key"]), "value": data["value"].to_numpy()})
    if codes is not None and r.axis == AREA:
        frame_out["area_code"] = data["key"].to_numpy()
    if "n" in data.columns:
        frame_out["n"] = data["n"].to_numpy()
    what = _what(r)
    which = ""
    if r.spec.top and total > len(data):
        which = f"the {len(data)} highest of {total:,} {what}"
    elif r.spec.bottom and total > len(data):
        which = f"the {len(data)} lowest of {total:,} {what}"
    label = _measure_title(r)
    title = f"{label} by {_singular(what)}" + (f", {when}" if when else "")
    if which:
        title = f"{label}: {which}" + (f", {when}" if when else "")
    subtitle = _subtitle(r, len(data), what)
    params = {"sort": "value" if sort == "desc" else "given", "things": what,
              "label_title": r.info.label_of(r.axis) if r.axis != AREA else _singular(what).capitalize()}
    return Prepared(frame_out, params, refs, title, subtitle, notes, unit)


def _grouped(r: Resolved, frame: pd.DataFrame, names, codes, when: str) -> Prepared:
    info = r.info
    notes: list[str] = []
    keys = codes if codes is not None else names
    parts = []
    if r.group == PERIOD:
        if info.periods:
            chosen = _spread(r.periods, MAX_PERIOD_GROUPS)
            for p in chosen:
                parts.append(pd.DataFrame({"key": keys.to_numpy(), "name": names.to_numpy(),
                                           "series": p.label, "value": _row_values(r, frame, p).to_numpy()}))
            order = [p.label for p in chosen]
            when = ""
        else:
            full = info.frame.loc[frame.index]
            xs = _time_rows(r, full)
            ok = _in_years(r, xs).to_numpy()
            frame, xs, names = frame[ok], xs[ok], names[ok]
            keys = keys[ok]
            uniq = sorted(xs.dropna().unique())
            chosen_x = _spread(uniq, MAX_PERIOD_GROUPS)
            pick = xs.isin(chosen_x).to_numpy()
            parts.append(pd.DataFrame({"key": keys.to_numpy()[pick], "name": names.to_numpy()[pick],
                                       "series": [_fmt_x(v) for v in xs.to_numpy()[pick]],
                                       "value": _row_values(r, frame[pick]).to_numpy()}))
            order = [_fmt_x(v) for v in chosen_x]
            when = ""
    else:
        series = _plain_column(info, r.group, "(not stated)").loc[frame.index]
        counts = series.value_counts()
        if len(counts) > MAX_GROUPS:
            raise BuilderError("group", f"{column_label(r.group)!r} has {len(counts)} values; a grouped bar shows at "
                                        f"most {MAX_GROUPS}: filter it to a few values first")
        order = list(counts.index)
        at = r.periods[-1] if info.periods else None
        parts.append(pd.DataFrame({"key": keys.to_numpy(), "name": names.to_numpy(), "series": series.to_numpy(),
                                   "value": _row_values(r, frame, at).to_numpy()}))
    data = pd.concat(parts, ignore_index=True)
    if data.duplicated(["key", "series"]).any():
        data = data.groupby(["key", "series"], as_index=False, sort=False).agg(
            name=("name", "first"), value=("value", r.agg))
        notes.append(f"Rows combined per bar ({AGGS[r.agg].lower()}).")
    data = data[data["value"].notna()]
    if data.empty:
        raise BuilderError("y", f"{r.measure.label!r} has no values for these choices")
    n_keys = data["key"].nunique()
    if n_keys > MAX_BARS and not (r.spec.top or r.spec.bottom):
        first = data[data["series"] == order[0]].nlargest(DEFAULT_TOP, "value")["key"]
        data = data[data["key"].isin(set(first))]
        notes.append(f"Only the {DEFAULT_TOP} highest of {n_keys:,} {_what(r)} (by {order[0]}) are shown.")
    elif r.spec.top or r.spec.bottom:
        first = data[data["series"] == order[0]]
        first = first.nlargest(r.spec.top, "value") if r.spec.top else first.nsmallest(r.spec.bottom, "value")
        data = data[data["key"].isin(set(first["key"]))]
    if data.groupby("name")["key"].nunique().gt(1).any():
        data = data.assign(name=data["name"].astype("string") + " (" + data["key"].astype("string") + ")")
    out = pd.DataFrame({"area_name": data["name"].to_numpy(), "series": data["series"].to_numpy(),
                        "value": data["value"].to_numpy()})
    if codes is not None and r.axis == AREA:
        out["area_code"] = data["key"].to_numpy()
    unit = r.measure.unit
    what = _what(r)
    group_label = "period" if r.group == PERIOD else _phrase_of(info.label_of(r.group))
    title = f"{_measure_title(r)} by {_singular(what)} and {group_label}" + (f", {when}" if when else "")
    params = {"sort": "value" if r.spec.sort == "desc" else "given", "series_order": [o for o in order if o in set(out["series"])],
              "things": what, "label_title": _singular(what).capitalize()}
    if r.spec.sort == "name":
        out = out.sort_values("area_name")
    return Prepared(out, params, [], title, _subtitle(r, out["area_name"].nunique(), what), notes, unit)


def _unique_names(names: pd.Series, keys: pd.Series) -> np.ndarray:
    """Names to label bars with: two places of one name (two "High Street"s) get their code added."""
    names = names.astype("string").reset_index(drop=True)
    keys = keys.astype("string").reset_index(drop=True)
    twice = names.duplicated(keep=False)
    if twice.any():
        names = names.where(~twice, names + " (" + keys + ")")
        names = names.where(~names.duplicated(keep="first"), names + " #" + names.index.astype(str))
    return names.to_numpy()


def _spread(items: list, k: int) -> list:
    if len(items) <= k:
        return list(items)
    idx = np.unique(np.round(np.linspace(0, len(items) - 1, k)).astype(int))
    return [items[i] for i in idx]


def _line(r: Resolved) -> Prepared:
    info = r.info
    mask = _rows_mask(r)
    frame = info.frame[mask]
    notes: list[str] = []
    unit = r.measure.unit
    # long form: key (series), name, x, value
    if info.periods and r.measure.key == PERIODS:
        cols = [p.column for p in r.periods]
        xs = [p.x for p in r.periods]
        matrix = frame[cols].apply(pd.to_numeric, errors="coerce")
        row_x = None
    else:
        xs = None
        row_x = _time_rows(r, frame)
        ok = _in_years(r, row_x).to_numpy()
        frame, row_x = frame[ok], row_x[ok]
        if frame.empty:
            raise BuilderError("from", "no rows fall in the chosen years")
    group = r.group
    series_key = None
    names = None
    if group in (None, AREA) and info.has_places and (r.spec.areas or group == AREA or info.n_places <= MAX_CONTEXT_LINES):
        names, codes = _names(r, frame, AREA)
        series_key = codes if codes is not None else names
    elif group not in (None, AREA, PERIOD):
        names = _plain_column(info, group, "(not stated)").loc[frame.index]
        series_key = names
        if names.nunique() > MAX_CONTEXT_LINES:
            raise BuilderError("group", f"{column_label(group)!r} has {names.nunique()} values; group by a column "
                                        f"with at most {MAX_CONTEXT_LINES}, or filter it")
    if series_key is None:
        # one line for all rows
        if row_x is None:
            values = _agg(matrix, r.agg).to_numpy()
            data = pd.DataFrame({"x": xs, "value": values})
        else:
            v = _row_values(r, frame)
            data = v.groupby(row_x.to_numpy()).agg(r.agg).rename_axis("x").reset_index(name="value")
        n_rows = len(frame)
        scope = f"all {n_rows:,} rows" if not info.has_places else f"all {info.n_places:,} {info.things}"
        if n_rows > 1:
            notes.append(f"{AGGS[r.agg]} over {scope}" + (" after the filters" if r.spec.filters else "") + ".")
        out = data
        per_area = False
        label_where = f"{'total' if r.agg == 'sum' else AGGS[r.agg].lower()} of {scope}" if n_rows > 1 else ""
    else:
        if row_x is None:
            long = matrix.copy()
            long.columns = range(len(cols))
            long["key"] = series_key.to_numpy()
            long["name"] = names.to_numpy()
            if long["key"].duplicated().any():
                long = long.groupby(["key"], sort=False).agg(
                    {**{i: r.agg for i in range(len(cols))}, "name": "first"}).reset_index()
                notes.append(f"Rows of each line combined ({AGGS[r.agg].lower()}).")
            melted = long.melt(id_vars=["key", "name"], var_name="i", value_name="value")
            melted["x"] = [xs[i] for i in melted["i"]]
            data = melted.drop(columns="i")
        else:
            v = _row_values(r, frame)
            data = pd.DataFrame({"key": series_key.to_numpy(), "name": names.to_numpy(), "x": row_x.to_numpy(),
                                 "value": v.to_numpy()})
            if data.duplicated(["key", "x"]).any():
                data = data.groupby(["key", "x"], as_index=False, sort=False).agg(name=("name", "first"),
                                                                                  value=("value", r.agg))
                notes.append(f"Rows of each line and year combined ({AGGS[r.agg].lower()}).")
        n_lines = data["key"].nunique()
        per_area = n_lines > MAX_SERIES_LINES
        if per_area:
            out = pd.DataFrame({"area_code": data["key"].astype("string").to_numpy(),
                                "area_name": data["name"].to_numpy(), "x": data["x"].to_numpy(),
                                "value": data["value"].to_numpy()})
        else:
            order = list(dict.fromkeys(data["name"]))
            out = pd.DataFrame({"series": data["name"].to_numpy(), "x": data["x"].to_numpy(),
                                "value": data["value"].to_numpy()})
            if group in (None, AREA) and info.code_col:
                out["area_code"] = data["key"].astype("string").to_numpy()
        label_where = ""
    out = out[out["value"].notna()]
    if out.empty:
        raise BuilderError("y", f"{r.measure.label!r} has no values for these choices")
    # London as the emphasised or the last named line
    if series_key is not None and group in (None, AREA) and info.london_row is not None and row_x is None \
            and not r.spec.filters and not any(a.strip().lower() == "london" for a in r.spec.areas):
        london = info.frame.iloc[info.london_row]
        lv = pd.to_numeric(london[[p.column for p in r.periods]], errors="coerce").to_numpy(dtype=float)
        if per_area:
            extra = pd.DataFrame({"area_code": str(london[info.code_col]) if info.code_col else "london",
                                  "area_name": "London", "x": xs, "value": lv, "emphasis": True})
            out["emphasis"] = False
        else:
            extra = pd.DataFrame({"series": "London", "x": xs, "value": lv})
            if "area_code" in out.columns:
                extra["area_code"] = str(london[info.code_col]) if info.code_col else "london"
        out = pd.concat([out, extra[extra["value"].notna()]], ignore_index=True)
    xs_all = list(out["x"].dropna().unique())
    what = _what(r)
    d = _decimals(out["value"], unit)
    years = _years_phrase(r, xs_all)
    if "series" in out.columns:
        named = [n for n in dict.fromkeys(out["series"]) if n != "London"]
        places = _places_phrase(named) if named else ""
        title = f"{_measure_title(r)}" + (f" in {places}" if places and group in (None, AREA) else
                                          f" by {_phrase_of(info.label_of(group))}" if places else "")
        if "London" in set(out["series"]) and named:
            title += ", with London"
    elif per_area:
        title = f"{_measure_title(r)}, each of {out.loc[~out.get('emphasis', pd.Series(False, index=out.index)).astype(bool), 'area_code'].nunique()} {what}"
        if "emphasis" in out.columns and out["emphasis"].any():
            title += " and London"
    else:
        title = f"{_measure_title(r)}" + (f", {label_where}" if label_where else "")
    title += f", {years}" if years else ""
    params = {"things": what, "context_label": f"Each of the {what}" if per_area else "",
              "series_order": None, "label_title": _singular(what).capitalize(),
              "x_label": "Month" if any(isinstance(x, pd.Timestamp) for x in xs_all[:1]) else "Year",
              "zero": not (unit == "£" and False)}
    if "series" in out.columns:
        order = [s for s in dict.fromkeys(out["series"]) if s != "London"] + (["London"] if "London" in set(out["series"]) else [])
        params["series_order"] = order
        params["series_label"] = _singular(what).capitalize() if group in (None, AREA) else info.label_of(group)
    params = {k: v for k, v in params.items() if v not in (None, "")}
    if "emphasis" in out.columns:
        out["emphasis"] = out["emphasis"].astype("boolean").fillna(False).astype(bool)
    return Prepared(out.reset_index(drop=True), params, [], title, _subtitle(r, None, what), notes, unit)


def _scatter(r: Resolved) -> Prepared:
    info = r.info
    mask = _rows_mask(r)
    frame = info.frame[mask]
    notes: list[str] = []
    if info.time_x is not None and not info.periods:
        last = _last_x(r, frame)
        frame = frame[(_time_rows(r, frame) == last).to_numpy()]
        notes.append(f"Values of {_fmt_x(last)}.")
    names, codes = _names(r, frame, r.axis)
    keys = codes if codes is not None else names
    data = pd.DataFrame({"key": keys.to_numpy(), "name": names.to_numpy(),
                         "x": _row_values(r, frame, key=r.x_measure.key).to_numpy(),
                         "y": _row_values(r, frame).to_numpy()})
    if data["key"].duplicated().any():
        data = data.groupby("key", as_index=False, sort=False).agg(name=("name", "first"), x=("x", r.agg),
                                                                   y=("y", r.agg))
        notes.append(f"Rows combined per {_singular(_what(r))} ({AGGS[r.agg].lower()}).")
    lost = int((data["x"].isna() | data["y"].isna()).sum())
    if lost:
        notes.append(f"{lost:,} without both values left out.")
    data = data[data["x"].notna() & data["y"].notna()]
    if len(data) < 2:
        raise BuilderError("x", "fewer than two rows have both measures; choose other measures")
    from explorer.themes.chart_data import _fit

    out = pd.DataFrame({"area_code": data["key"].astype("string").to_numpy(), "area_name": data["name"].to_numpy(),
                        "x": data["x"].to_numpy(), "y": data["y"].to_numpy()})
    what = _what(r)
    title = f"{r.measure.label} against {_phrase_of(r.x_measure.label)}, each of {len(out):,} {what}"
    params = {"things": what, "x_label": r.x_measure.label, "x_unit": r.x_measure.unit,
              "y_label": r.measure.label, "y_unit": r.measure.unit, "label_title": _singular(what).capitalize()}
    prepared = Prepared(out, params, [], title, _subtitle(r, len(out), what), notes, r.measure.unit)
    prepared.params["_stats"] = _fit(out["x"], out["y"])
    return prepared


def _distribution(r: Resolved) -> Prepared:
    info = r.info
    mask = _rows_mask(r)
    frame = info.frame[mask]
    notes: list[str] = []
    at = r.periods[-1] if info.periods else None
    when = at.label if at else ""
    if info.time_x is not None and not info.periods:
        last = _last_x(r, frame)
        frame = frame[(_time_rows(r, frame) == last).to_numpy()]
        when = _fmt_x(last)
    if r.measure.key == ROWS:
        raise BuilderError("y", "a distribution needs a measure; the number of rows is one number")
    values = _row_values(r, frame, at)
    out = pd.DataFrame({"value": values.to_numpy()})
    if info.code_col:
        out["area_code"] = frame[info.code_col].astype("string").to_numpy()
    out = out[out["value"].notna()]
    if len(out) < 2:
        raise BuilderError("y", "fewer than two values to show a distribution")
    unit = r.measure.unit
    d = _decimals(out["value"], unit)
    width = _nice_width(out["value"])
    what = _what(r)
    refs = _reference(r, out["value"], unit, d, "x", at)
    title = f"How {_phrase_of(_measure_title(r))} is spread across {len(out):,} {what}" + (f", {when}" if when else "")
    params = {"bin_width": width, "things": what}
    return Prepared(out.reset_index(drop=True), params, refs, title, _subtitle(r, len(out), what), notes, unit)


def _nice_width(values: pd.Series, bins: int = 25) -> float:
    span = float(values.max() - values.min())
    if span <= 0 or math.isnan(span):
        return 1.0
    raw = span / bins
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        if raw <= step * power:
            return step * power
    return 10 * power


def _what(r: Resolved) -> str:
    if r.axis == AREA:
        return r.info.things
    if r.axis == r.info.borough_col:
        return "boroughs"
    return _plural(_phrase_of(r.info.label_of(r.axis)))


def _plural(word: str) -> str:
    return word if word.endswith("s") else word + "s"


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _phrase_of(label: str) -> str:
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def _measure_title(r: Resolved) -> str:
    label = r.measure.label
    if r.measure.key == ROWS:
        return "Number of records"
    return label


def _subtitle(r: Resolved, n: int | None, what: str) -> str:
    parts = []
    unit = r.measure.unit
    if unit:
        parts.append(f"In {unit}" if unit != "%" else "In per cent")
    for column, values in r.spec.filters:
        parts.append(f"{column_label(column)}: {', '.join(_plain(v) for v in values[:5])}"
                     + (f" and {len(values) - 5} more" if len(values) > 5 else ""))
    parts.append(f"Data: {_plain(r.info.title)}")
    return ". ".join(parts) + "."


def chart_data(r: Resolved) -> Prepared:
    kind = r.spec.type
    if kind in ("bar", "grouped"):
        return _ranked(r)
    if kind == "line":
        return _line(r)
    if kind == "scatter":
        return _scatter(r)
    return _distribution(r)


# ------------------------------------------------------------------------------------ the chart
def chart_spec(r: Resolved, prepared: Prepared):
    """The theme chart spec the chart module draws (``explorer.themes.theme_files.ChartSpec``)."""
    from explorer.themes.theme_files import ChartSpec

    params = {k: v for k, v in prepared.params.items() if not k.startswith("_")}
    values = prepared.frame["value"] if "value" in prepared.frame.columns else prepared.frame.get("y")
    params.setdefault("decimals", _decimals(values if values is not None else pd.Series(dtype=float), prepared.unit))
    params["value_label"] = r.measure.label
    params["caveat_note"] = ""
    params["click_codes"] = False      # a builder's chart has no click action (a theme page's maps it)
    return ChartSpec(id=f"builder-{r.spec.type}", type=THEME_TYPES[r.spec.type], title=_plain(prepared.title),
                     subtitle=prepared.subtitle, dataset=r.info.dataset_id, resource=r.info.resource_id,
                     params=params, unit=prepared.unit, reference_lines=prepared.reference_lines, line=0)


@dataclass
class Built:
    spec: BuilderSpec            # every choice, filled in
    resolved: Resolved | None
    chart_spec: object | None
    result: object               # explorer.themes.charts.ChartResult
    error: str | None = None
    field: str | None = None


def build(service, spec: BuilderSpec, titled: bool = False, footer: bool = True, highlight=None) -> Built:
    """The chart of ``spec``: never raises for a bad choice (``Built.error`` says what to change)."""
    from explorer.themes.charts import ChartResult, build_from_data, error_figure
    from explorer.themes.chart_data import ChartData
    from explorer.geo.joins import DatasetError

    try:
        info = describe(service, spec.dataset, spec.resource)
        why = chartable(info)
        if why:
            raise BuilderError("dataset", f"this table cannot be charted: {why}")
        r = resolve(spec, info)
        prepared = chart_data(r)
    except (BuilderError, DatasetError) as exc:
        reason = exc.reason
        empty = ChartResult(figure=error_figure(reason), data=pd.DataFrame(), summary=reason, sources=[],
                            highlight_keys=None, error=reason)
        return Built(spec, None, None, empty, reason, getattr(exc, "field", "dataset"))
    cspec = chart_spec(r, prepared)
    stats = prepared.params.get("_stats") or {}
    cd = ChartData(frame=prepared.frame, used=[(info.dataset_id, info.resource_id)], sources=[info.source, *info.lookups],
                   notes=prepared.notes, stats=stats)
    result = build_from_data(cspec, cd, service, highlight=highlight, titled=titled, footer=footer)
    return Built(r.spec, r, cspec, result, result.error, None if not result.error else "chart")


def options_for(info: TableInfo) -> dict:
    """The builder's choices for this table: [{label, value}] lists a panel can show (worked out
    once per table)."""
    if "_options" not in info.__dict__:
        info.__dict__["_options"] = _options_for(info)
    return info.__dict__["_options"]


def _options_for(info: TableInfo) -> dict:
    measures = []
    for key, m in info.measures.items():
        label = m.label + (f" ({m.unit})" if m.unit and m.unit not in m.label else "")
        if key == PERIODS:
            label += f", {info.periods[0].label} – {info.periods[-1].label}"
        measures.append({"label": label, "value": key})
    axes = ([{"label": info.label_of(AREA) if info.has_places else "Place", "value": AREA}] if info.has_places else [])
    axes += [{"label": column_label(c), "value": c} for c in info.categories if c not in (info.name_col,)]
    groups = ([{"label": "Period", "value": PERIOD}] if info.periods or info.time_x is not None else [])
    groups += ([{"label": info.label_of(AREA), "value": AREA}] if info.has_places else [])
    groups += [{"label": column_label(c), "value": c} for c in info.categories if c not in (info.name_col,)]
    years = [{"label": str(y), "value": y} for y in info.years()]
    return {"types": [{"label": v, "value": k} for k, v in TYPES.items()], "measures": measures,
            "axes": axes, "groups": groups, "years": years, "places": info.place_options(),
            "filters": [{"label": column_label(c), "value": c} for c in info.categories],
            "sorts": [{"label": v, "value": k} for k, v in SORTS.items()],
            "aggs": [{"label": v, "value": k} for k, v in AGGS.items()]}
