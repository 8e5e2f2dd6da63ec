"""Class breaks for choropleths and coloured points: quantiles, equal intervals, natural breaks
(Fisher–Jenks) and fixed thresholds with meaning (air-quality objectives and guidelines).

A :class:`Classification` holds *display* breaks: the numbers the legend shows are the numbers
values are classified by. A value ``v`` is in class ``i`` when ``breaks[i-1] < v <= breaks[i]``
(the first class is ``v <= breaks[0]``, the last ``v > breaks[-1]``), the rule the map's
JavaScript style function applies to the same breaks.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

import numpy as np

METHODS = {
    "quantile": "Quantiles",
    "equal": "Equal intervals",
    "jenks": "Natural breaks (Jenks)",
    "thresholds": "Fixed thresholds",
}
MIN_CLASSES = 2
MAX_CLASSES = 9
CLASS_COUNTS = range(MIN_CLASSES, MAX_CLASSES + 1)   # what a link may ask for and the menu offers
JENKS_EXACT_LIMIT = 800    # distinct values classified exactly; more are summarised first


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str


@dataclass
class Classification:
    method: str
    k: int
    breaks: list[float]          # upper edges of classes 1..k-1
    counts: list[int]
    labels: list[str]
    min: float
    max: float
    no_data: int
    thresholds: list[Threshold] = field(default_factory=list)

    def class_of(self, value) -> int | None:
        """The class index of one value (None for no data)."""
        if value is None:
            return None
        try:
            v = float(value)
        except (TypeError, ValueError):
            return None
        if math.isnan(v):
            return None
        return int(np.searchsorted(np.asarray(self.breaks, dtype=float), v, side="left"))

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("min", "max"):
            if isinstance(data[key], float) and math.isnan(data[key]):
                data[key] = None
        return data


# ------------------------------------------------------------------------------------------------
# Thresholds with meaning
# ------------------------------------------------------------------------------------------------
_CONCENTRATION_UNITS = {"µg/m³", "μg/m³", "ug/m3", "µg/m3", "μg/m3", "ug/m³", "ug m-3", "µg m-3",
                        "μg m-3", "micrograms per cubic metre", "microgram per cubic metre"}

_POLLUTANT_THRESHOLDS: dict[str, list[Threshold]] = {
    # the WHO's interim targets between its guideline and the UK objective: London's small areas
    # all lie between 10 and 40, so two classes alone would paint the city one colour
    "NO2": [Threshold(10, "WHO 2021 guideline"), Threshold(20, "WHO interim target 3"),
            Threshold(30, "WHO interim target 2"), Threshold(40, "UK annual objective")],
    "PM2.5": [Threshold(5, "WHO 2021 guideline"), Threshold(10, "UK 2040 target"),
              Threshold(20, "UK limit value")],
    "PM10": [Threshold(15, "WHO 2021 guideline"), Threshold(40, "UK annual objective")],
    "NOx": [Threshold(30, "UK critical level for vegetation")],
    "PM10d": [Threshold(35, "UK objective: 35 days a year")],
}

# Order matters: the more specific names first (PM10 days before PM10, NOx before NO2).
_POLLUTANT_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("PM10d", re.compile(r"pm[\s_.-]*10[\s_.-]*d(?:ays?)?(?![a-z])|pm[\s_.-]*10.*(?:exceed|days)", re.I)),
    ("PM2.5", re.compile(r"pm[\s_.-]*2[\s_.,-]*5(?!\d)|fine particulate", re.I)),
    ("PM10", re.compile(r"pm[\s_.-]*10(?!\d)", re.I)),
    ("NOx", re.compile(r"(?<![a-z])nox(?![a-z])|oxides? of nitrogen|nitrogen oxides", re.I)),
    ("NO2", re.compile(r"(?<![a-z])no[\s_-]*2(?!\d)|no₂|nitrogen dioxide", re.I)),
]


def detect_pollutant(*texts: str | None) -> str | None:
    """The pollutant named by the first text that names one: NO2, NOx, PM10, PM10d or PM2.5."""
    for text in texts:
        if not text:
            continue
        for name, pattern in _POLLUTANT_PATTERNS:
            if pattern.search(str(text)):
                return name
    return None


def _is_concentration_unit(unit: str) -> bool:
    text = unit.strip().replace(" ", "").lower()
    return any(text == u.replace(" ", "").lower() for u in _CONCENTRATION_UNITS)


def thresholds_for(variable: str, pollutant: str | None = None, unit: str | None = None) -> list[Threshold]:
    """Fixed thresholds with meaning for a variable, or [] when none are known.

    The pollutant comes from ``pollutant`` (a resource option or a filter value such as ``no2``)
    when it names one, else from the variable name. A unit that is not a concentration
    (µg/m³) gets no concentration thresholds: a mismatch would draw a wrong legend.
    """
    name = detect_pollutant(pollutant, variable)
    if name is None:
        return []
    if name == "PM10d":
        if unit and "day" not in unit.lower():
            return []
    elif unit and not _is_concentration_unit(unit):
        return []
    # Statistics that are not annual means (standard deviation, capture rate …) get none.
    if variable and re.search(r"(?<![a-z])(std|sd|stdev|capture|rank|decile)(?![a-z])", str(variable), re.I):
        return []
    return list(_POLLUTANT_THRESHOLDS[name])


# ------------------------------------------------------------------------------------------------
# Number formatting and rounding for display
# ------------------------------------------------------------------------------------------------
def format_number(value: float) -> str:
    """A break as the legend shows it: no trailing zeros, thousands separated."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no data"
    v = float(value)
    if v == 0:
        return "0"
    if abs(v) >= 1e15 or abs(v) < 1e-6:
        return f"{v:.3g}"
    if float(v).is_integer():
        return f"{int(v):,}"
    text = repr(v)
    if "e" in text:
        text = f"{v:.10f}".rstrip("0").rstrip(".")
    whole, _, frac = text.partition(".")
    whole_int = int(whole) if whole not in ("-0", "") else 0
    sign = "-" if v < 0 else ""
    return f"{sign}{abs(whole_int):,}" + (f".{frac}" if frac else "")


def _round_to(value: float, unit: float) -> float:
    """``value`` rounded to a multiple of ``unit`` without binary noise (24.700000000000003)."""
    if unit >= 1:
        return float(round(value / unit) * unit)
    decimals = max(0, -int(math.floor(math.log10(unit) + 1e-9)))
    return round(round(value / unit) * unit, decimals + 1)


def _ceil_to(value: float, unit: float) -> float:
    steps = math.ceil(value / unit - 1e-9)
    result = _round_to(steps * unit, unit)
    if result < value:               # float noise in the other direction
        result = _round_to((steps + 1) * unit, unit)
    return result


def _sig_unit(value: float, figures: int) -> float:
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    return 10.0 ** (magnitude - figures + 1)


def _nice_in_gap(low: float, high: float, finest: float) -> float | None:
    """The roundest number r with low <= r < high, on a grid no finer than ``finest``."""
    if not high > low:
        return None
    span = max(abs(low), abs(high), high - low)
    exponent = math.floor(math.log10(span)) + 1 if span > 0 else 0
    while True:
        for mult in (5.0, 2.0, 1.0):
            unit = mult * 10.0 ** exponent
            if unit < finest * 0.999:
                return None
            r = _ceil_to(low, unit)
            if low <= r < high:
                return r
        exponent -= 1


def _display_unit(raw: float, lo: float, hi: float, figures: int = 3) -> float:
    """The finest grid a break may sit on: ``figures`` significant figures of the data's range,
    or of the break itself when that is finer (skewed data with small breaks)."""
    units = [_sig_unit(hi - lo, figures)] if hi > lo else []
    if raw:
        units.append(_sig_unit(raw, figures))
    return min(units) if units else 1.0


def _display_break(raw: float, next_value: float | None, unit: float) -> float:
    """A break the legend can show with few digits that classifies like ``raw``.

    When the next data value above ``raw`` is known, the roundest number in [raw, next) on a
    grid no finer than ``unit`` keeps every value in its class; when the values are closer
    than that, ``raw`` is rounded to ``unit`` and a few values may change class.
    """
    if next_value is not None and next_value > raw:
        nice = _nice_in_gap(raw, next_value, unit)
        if nice is not None:
            return nice
    return _round_to(raw, unit)


# ------------------------------------------------------------------------------------------------
# Break methods (raw breaks; values <= break go in the lower class)
# ------------------------------------------------------------------------------------------------
def _quantile_breaks(sorted_values: np.ndarray, k: int) -> list[int]:
    """Positions (into the sorted values) of the last value of classes 1..k-1."""
    n = len(sorted_values)
    return [int(math.ceil(i * n / k)) - 1 for i in range(1, k)]


def _equal_breaks(lo: float, hi: float, k: int) -> list[float]:
    width = (hi - lo) / k
    return [lo + i * width for i in range(1, k)]


def _fisher_jenks(values: np.ndarray, weights: np.ndarray, k: int) -> list[int]:
    """Optimal classes of sorted distinct ``values`` with ``weights`` (Fisher 1958).

    Minimises the weighted sum of squared deviations from the class means by dynamic
    programming over the m×m table of segment costs; returns the index of the last value of
    classes 1..k-1.
    """
    m = len(values)
    k = min(k, m)
    w = weights.astype(float)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cx = np.concatenate([[0.0], np.cumsum(w * values)])
    cxx = np.concatenate([[0.0], np.cumsum(w * values * values)])
    # cost[j, i]: squared deviations of values j..i (inclusive) from their mean; inf for j > i.
    with np.errstate(divide="ignore", invalid="ignore"):
        sw = cw[None, 1:] - cw[:-1, None]
        sx = cx[None, 1:] - cx[:-1, None]
        cost = (cxx[None, 1:] - cxx[:-1, None]) - sx * sx / sw
    np.maximum(cost, 0.0, out=cost)
    cost[np.tril_indices(m, -1)] = np.inf
    best = cost[0].copy()                 # one class covering 0..i
    columns = np.arange(m)
    buffer = np.empty((m - 1, m))
    choices = []
    for _ in range(1, k):
        # The last class starts at j >= 1, after the best split of 0..j-1.
        np.add(cost[1:], best[:-1, None], out=buffer)
        start = buffer.argmin(axis=0)
        best = buffer[start, columns]
        choices.append(start + 1)
    ends: list[int] = []
    end = m - 1
    for start in reversed(choices):
        s = int(start[end])
        ends.append(s - 1)
        end = s - 1
    return sorted(ends)


def _summarise(sorted_values: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(representative values, weights, upper edges) for Fisher–Jenks.

    Up to ``limit`` distinct values are used as they are (weight = how often each occurs). More
    are grouped, in order, into ``limit`` runs of about equal counts (ties never split): each run
    is represented by its mean with its count as weight, and a class break after a run sits at
    the run's largest value. Deterministic, unlike a random sample.
    """
    distinct, counts = np.unique(sorted_values, return_counts=True)
    if len(distinct) <= limit:
        return distinct, counts, distinct
    cum = np.cumsum(counts)
    targets = np.linspace(0, cum[-1], limit + 1)[1:]
    ends = np.unique(np.minimum(np.searchsorted(cum, targets, side="left"), len(distinct) - 1))
    sums = np.cumsum(distinct * counts)
    run_counts = np.diff(np.concatenate([[0], cum[ends]]))
    run_sums = np.diff(np.concatenate([[0.0], sums[ends]]))
    return run_sums / run_counts, run_counts, distinct[ends]


# ------------------------------------------------------------------------------------------------
def _clean_values(values: Iterable) -> tuple[np.ndarray, int]:
    out = []
    missing = 0
    for v in values:
        if v is None:
            missing += 1
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            missing += 1
            continue
        if math.isnan(f) or math.isinf(f):
            missing += 1
            continue
        out.append(f)
    return np.asarray(out, dtype=float), missing


def _check_k(k) -> int:
    if isinstance(k, bool):
        raise ValueError(f"k (the number of classes) must be a whole number, got {k!r}")
    if isinstance(k, float) and k.is_integer():
        k = int(k)
    if isinstance(k, str) and k.strip().isdigit():
        k = int(k.strip())
    if not isinstance(k, (int, np.integer)):
        raise ValueError(f"k (the number of classes) must be a whole number from {MIN_CLASSES} to "
                         f"{MAX_CLASSES}, got {k!r}")
    return int(min(MAX_CLASSES, max(MIN_CLASSES, int(k))))


def _labels(breaks: list[float], lo: float, hi: float, thresholds: list[Threshold] | None = None) -> list[str]:
    if not breaks:
        if math.isnan(lo):
            return []
        return [format_number(lo) if lo == hi else f"{format_number(lo)} – {format_number(hi)}"]
    names = {}
    for t in thresholds or []:
        names.setdefault(float(t.value), t.label)
    labels = []
    for i in range(len(breaks) + 1):
        if i == 0:
            text = f"≤ {format_number(breaks[0])}"
            name = names.get(breaks[0])
        elif i == len(breaks):
            text = f"> {format_number(breaks[-1])}"
            name = f"above {names[breaks[-1]]}" if breaks[-1] in names else None
        else:
            text = f"{format_number(breaks[i - 1])} – {format_number(breaks[i])}"
            name = names.get(breaks[i])
        labels.append(f"{text} ({name})" if name else text)
    return labels


def classify(values: Sequence, method: str = "quantile", k: int = 5,
             thresholds: list[Threshold] | None = None) -> Classification:
    """Classify ``values`` (numbers, None or NaN for no data) into at most ``k`` classes."""
    if method not in METHODS:
        raise ValueError(f"unknown classification method {method!r}; choose one of {', '.join(METHODS)}")
    k = _check_k(k)
    data, missing = _clean_values(values)
    data.sort()
    lo = float(data[0]) if len(data) else math.nan
    hi = float(data[-1]) if len(data) else math.nan

    if method == "thresholds":
        if not thresholds:
            raise ValueError("method 'thresholds' needs thresholds: none are known for this variable")
        cleaned = sorted({float(t.value): t for t in thresholds}.values(), key=lambda t: t.value)
        breaks = [float(t.value) for t in cleaned]
        return _finish("thresholds", breaks, data, lo, hi, missing, cleaned)

    if len(data) == 0:
        return Classification(method, 0, [], [], [], lo, hi, missing)
    distinct = np.unique(data)
    if len(distinct) == 1:
        return _finish(method, [], data, lo, hi, missing)

    if method == "quantile":
        positions = sorted(set(_quantile_breaks(data, k)))
        raw, nexts = _breaks_with_next(data, [float(data[p]) for p in positions])
    elif method == "equal":
        raw = _equal_breaks(lo, hi, k)
        nexts = [None] * len(raw)
    else:  # jenks
        points, weights, uppers = _summarise(data, JENKS_EXACT_LIMIT)
        ends = _fisher_jenks(points, weights, min(k, len(points)))
        raw, nexts = _breaks_with_next(data, [float(uppers[e]) for e in ends])

    if method == "equal":
        unit = _sig_unit((hi - lo) / k, 2)
        shown = [_round_to(b, unit) for b in raw]
    else:
        shown = [_display_break(b, n, _display_unit(b, lo, hi)) for b, n in zip(raw, nexts)]
    breaks = sorted({b for b in shown if lo <= b < hi})
    return _finish(method, breaks, data, lo, hi, missing)


def _breaks_with_next(sorted_data: np.ndarray, candidates: list[float]) -> tuple[list[float], list]:
    """Breaks that leave some data above them, each with the smallest value above it (the
    rounding of a shown break must not cross it)."""
    raw, nexts = [], []
    for value in candidates:
        i = int(np.searchsorted(sorted_data, value, side="right"))
        if i < len(sorted_data):
            raw.append(value)
            nexts.append(float(sorted_data[i]))
    return raw, nexts


def _finish(method: str, breaks: list[float], data: np.ndarray, lo: float, hi: float, missing: int,
            thresholds: list[Threshold] | None = None) -> Classification:
    edges = np.asarray(breaks, dtype=float)
    classes = np.searchsorted(edges, data, side="left")
    k = len(breaks) + 1
    counts = np.bincount(classes, minlength=k).tolist() if len(data) else [0] * k
    return Classification(
        method=method, k=k, breaks=[float(b) for b in breaks], counts=[int(c) for c in counts],
        labels=_labels(breaks, lo, hi, thresholds), min=lo, max=hi, no_data=int(missing),
        thresholds=list(thresholds or []),
    )


def class_colours(classification: Classification, palette: str) -> list[str]:
    """One colour per class from ``palette`` (light → dark)."""
    from explorer.maps.palettes import palette_colours

    return palette_colours(palette, classification.k)


# ------------------------------------------------------------------------------------------------
# A map layer's style: one rule for the map explorer, the theme maps and the exported map images
# ------------------------------------------------------------------------------------------------
OUTLINE_COLOUR = "#1d2b36"   # boundaries drawn as outlines: dark enough to read over a choropleth


def layer_style(kind: str | None, variable: str | None, method: str | None, classes, palette: str | None,
                values, pollutant: str | None = None, unit: str | None = None, themes=()
                ) -> tuple[dict, Classification | None]:
    """(style, classification) of a layer: an outline (areas) or one colour (points, lines) when
    no variable is shown, else classes with breaks, colours, labels and the no-data colour. Fixed
    thresholds fall back to quantiles when none are known for the variable. The style is plain
    JSON (it travels to the browser's ``hideout``); the classification is for callers that need
    its details."""
    from explorer.maps.palettes import NO_DATA_COLOUR, palette_colours, resolve_palette

    # "auto" (the default): the layer's palette family (explorer/maps/palettes.py FAMILIES)
    palette = resolve_palette(palette, kind, themes,
                              air=detect_pollutant(pollutant, variable) is not None if variable else False)
    if not variable:
        # boundaries are outlines; other areas without a variable (parks, water) are filled in
        # their family's colour, not drawn as dark outlines
        if kind == "polygons" and (not themes or "boundaries" in themes):
            return {"mode": "outline", "line": OUTLINE_COLOUR}, None
        if kind == "polygons":
            return {"mode": "single", "colour": palette_colours(palette or "blues", 5)[3]}, None
        return {"mode": "single", "colour": palette_colours(palette or "blues", 5)[3]}, None
    thresholds = None
    if method == "thresholds":
        thresholds = thresholds_for(variable, pollutant=pollutant, unit=unit)
        if not thresholds:
            method = "quantile"
    result = classify(values or [], method=method or "quantile", k=int(classes or 5), thresholds=thresholds)
    label = METHODS.get(result.method, result.method)
    if thresholds:
        label += ": " + "; ".join(f"{t.value:g} {t.label}" for t in thresholds)
    return {"mode": "classes", "breaks": result.breaks, "colours": class_colours(result, palette or "blues"),
            "labels": result.labels, "nodata": NO_DATA_COLOUR, "no_data": result.no_data,
            "method_label": label}, result
