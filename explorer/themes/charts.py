"""Chart builders: a theme's chart spec → a plotly figure, its data table and a text summary.

``build_chart`` never raises for a data problem: a chart whose data cannot be loaded or prepared
comes back with ``error`` set and an empty figure saying so, so one failing chart does not break its
page. Every bar and point carries its place's ``area_code`` in ``customdata`` so a click can be
mapped back to the map; ``highlight`` draws the given places (area or borough codes) in the
highlight colour with the others muted.
"""

from __future__ import annotations

import logging
import math
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.themes import design
from explorer.themes.chart_data import COMPUTATIONS, TRANSFORMS, ChartData, ChartDataError

log = logging.getLogger(__name__)

MINUS = "\u2212"


@dataclass
class ChartResult:
    figure: go.Figure
    data: pd.DataFrame                 # the "show data" table (column ids; see ``labels`` for headers)
    summary: str                       # text for screen readers: what it shows, extremes, n
    sources: list[dict]                # dataset_id, resource_id, provenance, geography, role, …
    highlight_keys: str | None         # column of ``data`` holding the codes used for linking
    error: str | None = None
    labels: dict = field(default_factory=dict)   # data column → readable header (with units)
    notes: list[str] = field(default_factory=list)  # what was done to the data for this chart
    stats: dict = field(default_factory=dict)       # r, slope, n … where the chart computes them
    chart_id: str = ""
    title: str = ""
    subtitle: str = ""
    caveat_note: str = ""


# ============================================================================ formatting
def fmt_number(value, decimals: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no value"
    if unit == "£":
        text = f"£{value:,.0f}"
    elif unit == "%":
        text = f"{value:,.{decimals}f}%"
    else:
        text = f"{value:,.{decimals}f}" + (f" {unit}" if unit else "")
    return text.replace("-", MINUS) if value < 0 else text


def axis_title(label: str, unit: str) -> str:
    if not unit:
        return label
    if not label:
        return unit
    return f"{label} ({unit})"


def _phrase(label: str) -> str:
    """'Share of small areas' → 'share of small areas' inside a sentence (acronyms kept)."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def _value_title(spec) -> str:
    return axis_title(spec.get("value_label") or "Value", spec.unit)


def _decimals(spec, default: int = 1) -> int:
    return int(spec.get("decimals", default))


def _highlight_mask(frame: pd.DataFrame, highlight) -> pd.Series:
    keys = {str(h) for h in (highlight or [])}
    mask = pd.Series(False, index=frame.index)
    if not keys:
        return mask
    for col in ("area_code", "borough_code"):
        if col in frame.columns:
            mask |= frame[col].astype("string").isin(keys).fillna(False).astype(bool)
    return mask


def _wrap(text: str, width: int = 60) -> str:
    """Plotly text lines of at most ``width`` characters (a longer word keeps its own line)."""
    return "<br>".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))


def _legend_rows(fig: go.Figure, width: int = 640) -> int:
    """Rough number of rows a horizontal legend takes at a given width (0 when there is none)."""
    names = []
    for trace in fig.data:
        if trace.showlegend is False or not trace.name:
            continue
        if trace.legendgroup and any(trace.legendgroup == g for g, _ in names):
            continue
        names.append((trace.legendgroup, trace.name))
    if len(names) < 2 and fig.layout.showlegend is not True:
        return 0
    total = sum(len(str(n)) * 7.5 + 45 for _, n in names)
    return max(1, math.ceil(total / width))


def _base_layout(fig: go.Figure, spec, titled: bool, height: int | None = None) -> None:
    design.register_template()
    fig.update_layout(template=design.TEMPLATE_NAME, autosize=True, hovermode="closest",
                      dragmode="select" if spec.type in ("scatter_trend",) else "zoom")
    rows = _legend_rows(fig)
    top = 40 + 22 * max(0, rows - 1) + (8 if rows else 0)   # legend and reference-line labels
    stacked = [int(str(a.name)[len(REF_STACK):]) + str(a.text).count("<br>") + 1
               for a in fig.layout.annotations if str(a.name or "").startswith(REF_STACK)]
    top += REF_ROW * max(0, max(stacked, default=0) - 1)     # labels stacked above the plot
    title_height = 0
    if titled:
        title = _wrap(spec.title, 62)
        text = f"<b>{title}</b>"
        lines = title.count("<br>") + 1
        sub_lines = 0
        if spec.subtitle:
            sub = _wrap(spec.subtitle, 90)
            sub_lines = sub.count("<br>") + 1
            text += f"<br><span style='font-size:13px;color:{design.TEXT_MUTED}'>{sub}</span>"
        title_height = 12 + 18 * (lines - 1) + 24 * lines + 18 * sub_lines + 8
    fig.update_layout(margin=dict(t=top + title_height))
    if height:
        fig.update_layout(height=height + title_height + (top - 48))
    if titled:
        total = fig.layout.height or 450
        # plotly lifts a title of several lines by about 12 px a line: a one-line title over a
        # subtitle went off the top of the image
        offset = 12 + 18 * (lines - 1) if lines > 1 or not sub_lines else 12 + 12 * sub_lines
        fig.update_layout(title=dict(text=text, yref="container", y=1 - offset / total, yanchor="top"))


REF_ROW = 17                    # px between stacked reference-line labels
REF_CHAR_PX = 6.6               # average width of a 12 px label character
PHONE_PLOT_PX = 300             # a chart's plot area on a 390 px phone: labels must fit in it
REF_STACK = "reference-label-"  # the name of a label stacked above the plot (its row after the dash)


def _reference_lines(fig: go.Figure, spec, axis: str = "y", row=None, col=None, facet=None,
                     outside: bool = False, axis_max: float | None = None) -> None:
    """Dashed guideline lines, each labelled with its name, value and unit.

    Vertical lines (``axis='x'``) are labelled above the plot when ``outside`` (bar charts, whose
    bars fill the plot), else inside near the top; the label sits on the side with more room.
    """
    stacked = 0      # vertical lines' labels, one row each: on a phone they would run together
    for ref in spec.reference_lines:
        if ref.get("facet") is not None and facet is not None and str(ref["facet"]) != str(facet):
            continue
        if ref.get("facet") is not None and facet is None:
            continue
        on = ref.get("axis", axis)
        value = float(ref["value"])
        unit = ref.get("unit", spec.unit)
        # ``text``: a label already formatted by the caller (the chart builder's "London £458,465")
        label = ref.get("text") or f"{ref['label']} {value:g} {unit}".strip()
        line = dict(color=design.REFERENCE, width=1.5, dash=ref.get("dash", "dash"))
        font = dict(color=design.REFERENCE, size=12)
        where = dict(row=row, col=col) if row is not None else {}
        if on == "y" and where:
            fig.add_hline(y=value, line=line, annotation=dict(text=label, font=font, bgcolor="rgba(255,255,255,0.85)"),
                          annotation_position="top left", **where)
        elif on == "y":
            # what add_hline draws on a chart of one plot, without its search of the subplot grid
            # (a quarter of a simple chart's drawing time)
            fig.add_shape(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=value, y1=value, line=line)
            fig.add_annotation(text=label, font=font, bgcolor="rgba(255,255,255,0.85)", showarrow=False,
                               xref="x domain", x=0, xanchor="left", yref="y", y=value, yanchor="bottom")
        else:
            # the label sits beside the line on the side with room for it on a phone; a label
            # too long for either side is wrapped on the side with more room
            share = min(max(value / axis_max, 0.0), 1.0) if axis_max else 0.5
            need = len(label) * REF_CHAR_PX
            room_right, room_left = (1 - share) * PHONE_PLOT_PX, share * PHONE_PLOT_PX
            right_half = (value > axis_max * 0.6 if axis_max is not None else False) if need <= room_right \
                else room_left > room_right
            room = room_left if right_half else room_right
            if need > room:
                label = _wrap(label, max(14, int(room / REF_CHAR_PX)))
            lines = label.count("<br>") + 1
            if where:
                fig.add_vline(x=value, line=line, **where)
            else:
                fig.add_shape(type="line", xref="x", x0=value, x1=value, yref="y domain", y0=0, y1=1, line=line)
            fig.add_annotation(x=value, xref="x", yref="paper", y=1 if outside else 0.98,
                               yanchor="bottom" if outside else "top", xanchor="right" if right_half else "left",
                               xshift=-3 if right_half else 3, text=label, showarrow=False, font=font,
                               bgcolor="rgba(255,255,255,0.85)",
                               yshift=(REF_ROW if outside else -REF_ROW) * stacked,
                               name=f"{REF_STACK}{stacked}" if outside else None)
            stacked += lines


def _ref_values(spec, facet=None) -> list[float]:
    return [float(r["value"]) for r in spec.reference_lines
            if (facet is None and r.get("facet") is None) or (facet is not None and str(r.get("facet", facet)) == str(facet))]


def _readable_table(frame: pd.DataFrame, labels: dict, decimals: int) -> pd.DataFrame:
    cols = [c for c in labels if c in frame.columns]
    table = frame[cols].copy()
    for c in cols:
        if pd.api.types.is_float_dtype(table[c].dtype):
            table[c] = table[c].round(decimals)
        elif pd.api.types.is_datetime64_any_dtype(table[c].dtype):
            table[c] = table[c].dt.strftime("%Y-%m")
    return table.reset_index(drop=True)


def _name_col(frame: pd.DataFrame) -> str:
    if "area_name" in frame.columns and frame["area_name"].notna().any():
        return "area_name"
    return "label"


def _codes(frame: pd.DataFrame) -> list:
    if "area_code" in frame.columns:
        return [None if pd.isna(v) else str(v) for v in frame["area_code"]]
    return [None] * len(frame)


def _text_array(values: pd.Series) -> np.ndarray:
    """Texts of a trace of many points as an array: plotly checks a list's items one by one (a third
    of a second for 30,000 places), an array at once, and copies an array of fixed-width text
    without visiting each item; the JSON sent is the same (a missing text is null)."""
    text = values.astype("string")
    if text.isna().any():
        return text.to_numpy(dtype=object, na_value=None)
    return text.to_numpy(dtype=str)


def _code_array(frame: pd.DataFrame) -> np.ndarray:
    """``_codes`` as an array (see :func:`_text_array`)."""
    if "area_code" in frame.columns:
        return _text_array(frame["area_code"])
    return np.full(len(frame), None, dtype=object)


def _whole(values: pd.Series):
    """Many whole numbers held as floats (ranks, counts) as integers: the same points, sent as
    "29199" rather than "29199.0" (a tenth fewer bytes for a scatter of 30,000 places)."""
    a = values.to_numpy()
    if len(a) > 1000 and a.dtype.kind == "f" and np.isfinite(a).all() and (np.abs(a) < 2**53).all() \
            and (a == np.floor(a)).all():
        return a.astype(np.int64)
    return values


def _each(values: list):
    """One value for every bar when they are all the same (what is drawn is the same; plotly checks
    a list of colours item by item, a few ms for 300 bars), else the list."""
    return values[0] if values and all(v == values[0] for v in values) else values


# ---------------------------------------------------------------------------- selection hints
# A page highlights the places picked (a borough from the picker, a bar, a click on the map) in the
# browser, without asking the server to draw the chart again (assets/theme_selection.js). Each trace
# that can show a selection carries in ``meta.hl`` what the browser needs to restyle it as
# ``highlight=`` would draw it here: its points' place codes and the colours of each state
# ("none": nothing selected in this chart, "on": a selected point, "off": the others meanwhile).
HINT_AREAS_MAX = 600      # a histogram lists each row's area code only up to this many rows


def _hinted(spec) -> bool:
    return bool(getattr(spec, "highlight_by", None))


def _groups(frame: pd.DataFrame) -> dict | None:
    """Each row's borough code, as an index into the distinct codes (compact for 5,000 rows)."""
    if "borough_code" not in frame.columns:
        return None
    codes = frame["borough_code"].astype("string")
    distinct = sorted({str(c) for c in codes.dropna()})
    where = {c: i for i, c in enumerate(distinct)}
    return {"codes": distinct, "index": [-1 if pd.isna(c) else where[str(c)] for c in codes]}


def _point_hint(kind: str, frame: pd.DataFrame, **states) -> dict:
    """``meta`` for a trace with one point per row of ``frame``, in order (customdata holds each
    point's area code unless ``codes`` is given)."""
    hint = {"hl": kind, **states}
    groups = _groups(frame)
    if groups is not None:
        hint["groups"] = groups
    return hint


# ============================================================================ builders
def _ranked_bar(spec, cd: ChartData, highlight, titled):
    frame = cd.frame.copy()
    name = _name_col(frame)
    d = _decimals(spec)
    vt = _value_title(spec)
    sort = spec.get("sort", "value")
    if spec.get("top"):
        frame = frame.nlargest(int(spec.get("top")), "value") if "series" not in frame.columns else frame
    multi = "series" in frame.columns and frame["series"].nunique() > 1
    if multi:
        order_series = spec.get("series_order") or list(dict.fromkeys(frame["series"]))
        first = frame[frame["series"] == order_series[0]]
        order = list(first.sort_values("value", ascending=False)[name]) if sort == "value" else list(dict.fromkeys(first[name]))
    else:
        order = list(frame.sort_values("value", ascending=False)[name]) if sort == "value" else list(frame[name])
    # a catch-all "Other (…)" bar goes last whatever its size
    order = [o for o in order if not str(o).startswith("Other")] + [o for o in order if str(o).startswith("Other")]
    mask = _highlight_mask(frame, highlight)
    any_hl = bool(mask.any())
    fig = go.Figure()
    groups = [(s, frame[frame["series"] == s]) for s in order_series] if multi else [(None, frame)]
    wrapped = {o: _wrap(str(o), 26) for o in order}
    for i, (series, part) in enumerate(groups):
        part = part.set_index(name).reindex(order).reset_index()
        labels_y = [wrapped[o] for o in part[name]]
        pmask = _highlight_mask(part, highlight)
        base = design.series_colour(i) if multi else design.DATA
        colours = [design.HIGHLIGHT if (h and not multi) else (design.MUTED if any_hl and not multi else base)
                   for h in pmask]
        fig.add_trace(go.Bar(
            x=part["value"], y=labels_y, orientation="h", name=str(series) if multi else vt,
            marker=dict(color=_each(colours),
                        opacity=_each([1.0 if (not any_hl or h) else 0.35 for h in pmask]) if multi else 1.0,
                        line=dict(color=_each([design.HIGHLIGHT_OUTLINE if h else "rgba(0,0,0,0)" for h in pmask]),
                                  width=_each([2 if h else 0 for h in pmask]))),
            customdata=_code_array(part) if "area_code" in part.columns else part[name].to_numpy(dtype=object),
            meta=_point_hint("bars", part, none={"color": base, "opacity": 1},
                             on={"color": base if multi else design.HIGHLIGHT, "opacity": 1,
                                 "line": design.HIGHLIGHT_OUTLINE, "width": 2},
                             off={"color": base if multi else design.MUTED, "opacity": 0.35 if multi else 1})
            if _hinted(spec) and "area_code" in part.columns else None,
            text=[fmt_number(v, d, spec.unit if spec.unit in ("%", "£") else "") for v in part["value"]] if not multi else None,
            textposition="outside", cliponaxis=False, textfont=dict(color=design.TEXT, size=12),
            hovertemplate=f"%{{y}}<br>{vt}: %{{x:,.{d}f}}<extra>{series or ''}</extra>",
        ))
    negative = (frame["value"] < 0).any()
    fig.update_xaxes(title_text=vt, rangemode="normal" if negative else "tozero",
                     zeroline=True, zerolinecolor=design.AXIS_LINE)
    # the category names speak for themselves; their heading is in the data table
    fig.update_yaxes(title_text="", autorange="reversed", automargin=True,
                     categoryorder="array", categoryarray=[wrapped[o] for o in order], type="category")
    axis_max = None
    if not negative:
        top = float(frame["value"].max()) if len(frame) else 1
        axis_max = max(top, *(_ref_values(spec) or [0])) * 1.12
        fig.update_xaxes(range=[0, axis_max])
    _reference_lines(fig, spec, axis="x", outside=True, axis_max=axis_max)
    per_row = 18 * (len(groups) if multi else 1) + 8
    per_row += 12 * max(w.count("<br>") for w in wrapped.values()) if wrapped else 0
    _base_layout(fig, spec, titled, height=max(260, per_row * len(order) + 110))
    if not multi:
        fig.update_layout(margin=dict(r=48))   # room for the value printed after the longest bar
    if multi:
        fig.update_layout(barmode="group", legend_title_text="")
    # table
    if multi:
        table = frame.pivot_table(index=[c for c in ("area_code", name) if c in frame.columns],
                                  columns="series", values="value").reset_index()
        table = table.set_index(name).reindex(order).reset_index()
        labels = {name: spec.get("label_title") or ("Area" if name == "area_name" else "Category")}
        labels.update({s: axis_title(str(s), spec.unit) for s in order_series})
        if "area_code" in table.columns:
            labels["area_code"] = "Code"
    else:
        table = frame.set_index(name).reindex(order).reset_index()
        labels = {name: spec.get("label_title") or ("Area" if name == "area_name" else "Category"), "value": vt}
        for extra, title in (("n", f"Number of {spec.get('n_label', 'places')}"), ("count", "Count"), ("share", "Share (%)"),
                             ("numerator", spec.get("numerator_label", "")), ("denominator", spec.get("denominator_label", ""))):
            if extra in table.columns and title:
                labels[extra] = title
        if "area_code" in table.columns:
            labels["area_code"] = "Code"
    ranked = (first if multi else frame)
    ranked = ranked[~ranked[name].astype("string").str.startswith("Other").fillna(False)]
    hi = ranked.loc[ranked["value"].idxmax()]
    lo = ranked.loc[ranked["value"].idxmin()]
    what = _phrase(spec.get("value_label") or "value")
    series_txt = f" ({order_series[0]})" if multi else ""
    summary = (f"{spec.title}. Bar chart of {what}{series_txt} for {len(order)} "
               f"{spec.get('things', 'areas')}{', sorted from highest to lowest' if sort == 'value' else ''}. "
               f"Highest: {hi[name]}, {fmt_number(hi['value'], d, spec.unit)}; "
               f"lowest: {lo[name]}, {fmt_number(lo['value'], d, spec.unit)}.")
    if multi:
        summary += " Series: " + ", ".join(map(str, order_series)) + "."
    return fig, _readable_table(table, labels, d), labels, summary, "area_code" if "area_code" in table.columns else None


def _bins(values: pd.Series, width: float, start: float | None = None) -> np.ndarray:
    lo = math.floor(values.min() / width) * width if start is None else float(start)
    hi = math.ceil(values.max() / width) * width
    if hi <= values.max():
        hi += width
    return np.arange(lo, hi + width / 2, width)


def _distribution(spec, cd: ChartData, highlight, titled):
    frame = cd.frame
    d = _decimals(spec)
    vt = _value_title(spec)
    if "x" in frame.columns:
        return _distribution_by_group(spec, cd, highlight, titled)
    values = frame["value"].astype(float)
    width = float(spec.get("bin_width") or max((values.max() - values.min()) / 30, 1e-9))
    edges = _bins(values, width)
    counts, _ = np.histogram(values, bins=edges)
    mask = _highlight_mask(frame, highlight)
    fig = go.Figure()
    centres = (edges[:-1] + edges[1:]) / 2
    ranges = [f"{a:g}–{b:g}" for a, b in zip(edges[:-1], edges[1:])]
    things = spec.get("things", "areas")
    fig.add_trace(go.Bar(x=centres, y=counts, width=width * 0.95, name=f"All {things}",
                         marker=dict(color=design.MUTED if mask.any() else design.DATA),
                         meta=_histogram_hint(frame, values, edges, vt) if _hinted(spec) else None,
                         customdata=ranges,
                         hovertemplate=f"{vt}: %{{customdata}}<br>%{{y:,}} {things}<extra></extra>"))
    if mask.any():
        hcounts, _ = np.histogram(values[mask], bins=edges)
        fig.add_trace(go.Bar(x=centres, y=hcounts, width=width * 0.95, name=f"Selected ({int(mask.sum()):,})",
                             marker=dict(color=design.HIGHLIGHT, line=dict(color=design.HIGHLIGHT_OUTLINE, width=1)),
                             customdata=ranges,
                             hovertemplate=f"Selected, {vt}: %{{customdata}}<br>%{{y:,}}<extra></extra>"))
        fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text=vt)
    y_title = spec.get("y_label") or f"Number of {things}"
    fig.update_yaxes(title_text=y_title, rangemode="tozero")
    _reference_lines(fig, spec, axis="x", axis_max=float(max(edges[-1], *(_ref_values(spec) or [0]))))
    _base_layout(fig, spec, titled, height=360)
    table = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "count": counts,
                          "share": counts / max(counts.sum(), 1) * 100})
    labels = {"from": axis_title("From", spec.unit), "to": axis_title("To", spec.unit),
              "count": y_title, "share": f"Share of {things} (%)"}
    parts = [f"{spec.title}. Histogram of {_phrase(spec.get('value_label') or 'values')} across {len(values):,} {things}, "
             f"in bins of {width:g} {spec.unit}. Values run from {fmt_number(values.min(), d, spec.unit)} to "
             f"{fmt_number(values.max(), d, spec.unit)}; the median is {fmt_number(values.median(), d, spec.unit)}."]
    for ref in spec.reference_lines:
        share = float((values > float(ref["value"])).mean() * 100)
        parts.append(f"{share:.1f}% are above the {ref['label']} ({ref['value']:g} {spec.unit}).")
    if mask.any():
        parts.append(f"{int(mask.sum()):,} selected {things} are shown in the highlight colour.")
    return fig, _readable_table(table, labels, 2), labels, " ".join(parts), None


def _histogram_hint(frame: pd.DataFrame, values: pd.Series, edges: np.ndarray, vt: str) -> dict:
    """Each row's bin (and borough, and area code when there are few rows): the browser counts
    the selected rows per bin and draws them over the muted bars, as ``highlight=`` does."""
    bins = np.searchsorted(edges, values.to_numpy(), side="right") - 1
    bins[values.to_numpy() == edges[-1]] = len(edges) - 2
    bins[(bins < 0) | (bins > len(edges) - 2) | values.isna().to_numpy()] = -1
    hint = {"hl": "hist", "bins": [int(b) for b in bins], "none": {"color": design.DATA},
            "off": {"color": design.MUTED},
            "on": {"color": design.HIGHLIGHT, "line": design.HIGHLIGHT_OUTLINE, "width": 1},
            "hover": f"Selected, {vt}: %{{customdata}}<br>%{{y:,}}<extra></extra>"}
    if "area_code" in frame.columns and len(frame) <= HINT_AREAS_MAX:
        hint["codes"] = _codes(frame)
    groups = _groups(frame)
    if groups is not None:
        hint["groups"] = groups
    return hint


def _jitter(n: int, spread: float = 0.28) -> np.ndarray:
    # deterministic spread so the same data draws the same way every time
    return (((np.arange(n) * 0.6180339887) % 1.0) - 0.5) * 2 * spread


def _distribution_by_group(spec, cd: ChartData, highlight, titled):
    frame = cd.frame.sort_values("x")
    d = _decimals(spec)
    vt = _value_title(spec)
    mask = _highlight_mask(frame, highlight)
    any_hl = bool(mask.any())
    groups = list(dict.fromkeys(frame["x"]))
    fig = go.Figure()
    for g in groups:
        part = frame[frame["x"] == g]
        fig.add_trace(go.Box(x=[g] * len(part), y=part["value"], name=str(g), boxpoints=False,
                             line=dict(color=design.BRAND["dark"]), fillcolor="rgba(0,174,239,0.12)",
                             showlegend=False, hoverinfo="skip"))
    jit = _jitter(len(frame))
    xs = frame["x"].astype(float).to_numpy() + jit
    hover = frame["site_name"] if "site_name" in frame.columns else frame.get("area_name", frame["x"])
    for sel, name, colour, size in ((False, spec.get("points_label", "Each site"), design.MUTED if any_hl else design.DATA, 6),
                                    (True, "Selected", design.HIGHLIGHT, 9)):
        m = mask.to_numpy() == sel
        if sel and not m.any():
            continue
        part = frame[m]
        fig.add_trace(go.Scatter(
            x=xs[m], y=part["value"], mode="markers", name=name,
            meta=_point_hint("points", part, none={"color": design.DATA}, off={"color": design.MUTED},
                             on={"color": design.HIGHLIGHT, "size": 9, "opacity": 1,
                                 "line": design.HIGHLIGHT_OUTLINE, "width": 1})
            if _hinted(spec) and not sel and "area_code" in part.columns else None,
            marker=dict(color=colour, size=size, opacity=0.75 if not sel else 1,
                        line=dict(color=design.HIGHLIGHT_OUTLINE, width=1) if sel else dict(width=0)),
            customdata=_codes(part), hovertext=list(hover[m]) if hasattr(hover, "__getitem__") else None,
            hovertemplate=f"%{{hovertext}}<br>{vt}: %{{y:,.{d}f}}<extra></extra>"))
    fig.update_xaxes(title_text=spec.get("x_label") or "Year", tickmode="array", tickvals=groups,
                     ticktext=[str(g) for g in groups])
    fig.update_yaxes(title_text=vt, rangemode="tozero")
    _reference_lines(fig, spec, axis="y")
    _base_layout(fig, spec, titled, height=420)
    g = frame.groupby("x")["value"]
    table = pd.DataFrame({"x": groups, "n": g.size().reindex(groups).to_numpy(),
                          "median": g.median().reindex(groups).to_numpy(),
                          "max": g.max().reindex(groups).to_numpy()})
    labels = {"x": spec.get("x_label") or "Year", "n": f"Number of {spec.get('things', 'sites')}",
              "median": axis_title("Median", spec.unit), "max": axis_title("Highest", spec.unit)}
    for ref in spec.reference_lines:
        col = f"above_{ref['value']:g}"
        table[col] = [float((frame.loc[frame["x"] == x, "value"] > float(ref["value"])).mean() * 100) for x in groups]
        labels[col] = f"Share above {ref['label']} {ref['value']:g} {spec.unit} (%)"
    parts = [f"{spec.title}. Box plots with every {spec.get('thing', 'site')} as a dot, one per "
             f"{(spec.get('x_label') or 'year').lower()}, {groups[0]} to {groups[-1]}."]
    for ref in spec.reference_lines[:1]:
        col = f"above_{ref['value']:g}"
        parts.append(f"Share above the {ref['label']} ({ref['value']:g} {spec.unit}): "
                     f"{table[col].iloc[0]:.0f}% in {groups[0]}, {table[col].iloc[-1]:.0f}% in {groups[-1]}.")
    parts.append(f"Medians: {fmt_number(table['median'].iloc[0], d, spec.unit)} in {groups[0]}, "
                 f"{fmt_number(table['median'].iloc[-1], d, spec.unit)} in {groups[-1]}.")
    return fig, _readable_table(table, labels, d), labels, " ".join(parts), None


_DASHES = ["solid", "dash", "dot", "dashdot", "longdash"]


def _line_traces(fig, spec, frame, highlight, row=None, col=None, show_legend=True) -> dict:
    """Lines per area (context, emphasis, highlight) or per series. Returns legend bookkeeping."""
    d = _decimals(spec)
    vt = _value_title(spec)
    traces: list = []
    add = traces.append          # added in one call at the end: plotly re-checks all data per add
    per_area = "area_code" in frame.columns and frame["area_code"].nunique() > 1 and "series" not in frame.columns
    mask = _highlight_mask(frame, highlight)
    any_hl = bool(mask.any())
    info = {"per_area": per_area}
    if per_area:
        emphasis = frame["emphasis"] if "emphasis" in frame.columns else pd.Series(False, index=frame.index)
        context_shown = False
        for code, part in frame.groupby("area_code", sort=False):
            part = part.sort_values("x")
            is_hl = bool(mask[part.index].any())
            is_em = bool(emphasis[part.index].any())
            if is_hl or is_em:
                continue
            add(go.Scatter(x=part["x"], y=part["value"], mode="lines", name=spec.get("context_label", "Each borough"),
                           legendgroup="context", showlegend=show_legend and not context_shown,
                           meta={"hl": "line", "code": str(code), "name": str(part["area_name"].iloc[0]),
                                 "legend": show_legend, "context": True,
                                 "none": {"color": design.CONTEXT_LINE}, "off": {"color": design.MUTED},
                                 "on": {"color": design.HIGHLIGHT, "width": 3}} if _hinted(spec) else None,
                           line=dict(color=design.MUTED if any_hl else design.CONTEXT_LINE, width=1),
                           opacity=0.8, customdata=[str(code)] * len(part),
                           hovertemplate=f"{part['area_name'].iloc[0]}<br>%{{x}}: %{{y:,.{d}f}}<extra></extra>"))
            context_shown = True
        if context_shown and not bool(emphasis.any()):
            # one line to read the others against: muted lines alone are spaghetti
            things = spec.get("things", "boroughs")
            typical = frame.groupby("x", sort=True)["value"].median()
            add(go.Scatter(x=list(typical.index), y=list(typical.values), mode="lines",
                           name=spec.get("typical_label", f"Typical of the {things} (median)"),
                           showlegend=show_legend, legendgroup="typical",
                           line=dict(color=design.BRAND["dark"], width=3.5),
                           hovertemplate=f"Median<br>%{{x}}: %{{y:,.{d}f}}<extra></extra>"))
        for code, part in frame[emphasis | mask].groupby("area_code", sort=False):
            part = part.sort_values("x")
            is_hl = bool(mask[part.index].any())
            add(go.Scatter(x=part["x"], y=part["value"], mode="lines+markers", name=str(part["area_name"].iloc[0]),
                           showlegend=show_legend, legendgroup=str(code),
                           meta={"hl": "line", "code": str(code), "context": False,
                                 "none": {"color": design.BRAND["dark"]}, "off": {"color": design.BRAND["dark"]},
                                 "on": {"color": design.HIGHLIGHT, "width": 3}} if _hinted(spec) and not is_hl else None,
                           line=dict(color=design.HIGHLIGHT if is_hl else design.BRAND["dark"], width=3),
                           marker=dict(size=6), customdata=[str(code)] * len(part),
                           hovertemplate=f"{part['area_name'].iloc[0]}<br>%{{x}}: %{{y:,.{d}f}}<extra></extra>"))
    else:
        order = spec.get("series_order") or list(dict.fromkeys(frame["series"])) if "series" in frame.columns else [None]
        for i, s in enumerate(order):
            part = frame if s is None else frame[frame["series"] == s]
            part = part.sort_values("x")
            add(go.Scatter(x=part["x"], y=part["value"], mode="lines" if len(part) > 30 else "lines+markers",
                           name=str(s) if s is not None else vt, legendgroup=str(s), showlegend=show_legend,
                           line=dict(color=design.series_colour(i), width=2.5, dash=_DASHES[i % len(_DASHES)]),
                           connectgaps=False,
                           customdata=_codes(part) if "area_code" in part.columns else [str(s)] * len(part),
                           hovertemplate=f"{s or ''}<br>%{{x}}: %{{y:,.{d}f}}<extra></extra>"))
    if row is not None:
        fig.add_traces(traces, rows=[row] * len(traces), cols=[col] * len(traces))
    else:
        fig.add_traces(traces)
    return info


def _series_summary(spec, frame: pd.DataFrame) -> str:
    d = _decimals(spec)
    parts = []
    if "series" in frame.columns:
        for s in spec.get("series_order") or list(dict.fromkeys(frame["series"])):
            part = frame[frame["series"] == s].sort_values("x").dropna(subset=["value"])
            if part.empty:
                continue
            parts.append(f"{s}: {fmt_number(part['value'].iloc[0], d, spec.unit)} in {_xl(part['x'].iloc[0])}, "
                         f"{fmt_number(part['value'].iloc[-1], d, spec.unit)} in {_xl(part['x'].iloc[-1])}; "
                         f"highest {fmt_number(part['value'].max(), d, spec.unit)} in {_xl(part.loc[part['value'].idxmax(), 'x'])}.")
    elif "area_code" in frame.columns:
        emphasis = frame["emphasis"] if "emphasis" in frame.columns else pd.Series(False, index=frame.index)
        places = frame[~emphasis.astype(bool)]
        xs = sorted(places["x"].unique())
        first = places[places["x"] == xs[0]].set_index("area_code")["value"]
        last = places[places["x"] == xs[-1]].set_index("area_code")["value"]
        both = first.index.intersection(last.index)
        up = int((last[both] > first[both]).sum())
        down = int((last[both] < first[both]).sum())
        n = places["area_code"].nunique()
        if n == 1 and len(both) == 1:     # one place: its own figures, not a count of places
            name = places["area_name"].iloc[0] if "area_name" in places.columns else both[0]
            parts.append(f"A line for {name}: {fmt_number(first[both[0]], d, spec.unit)} in {_xl(xs[0])}, "
                         f"{fmt_number(last[both[0]], d, spec.unit)} in {_xl(xs[-1])}.")
        else:
            parts.append(f"One line for each of {n} {spec.get('things', 'places')}. Between {_xl(xs[0])} and {_xl(xs[-1])} the value rose in "
                         f"{up} and fell in {down} of the {len(both)} with both years.")
        if "emphasis" in frame.columns and frame["emphasis"].any():
            em = frame[frame["emphasis"]].sort_values("x")
            parts.append(f"{em['area_name'].iloc[0]}: {fmt_number(em['value'].iloc[0], d, spec.unit)} in "
                         f"{_xl(em['x'].iloc[0])}, {fmt_number(em['value'].iloc[-1], d, spec.unit)} in {_xl(em['x'].iloc[-1])}.")
    else:
        part = frame.sort_values("x").dropna(subset=["value"])
        if not part.empty:
            lo, hi = part.loc[part["value"].idxmin()], part.loc[part["value"].idxmax()]
            parts.append(f"{len(part)} points from {_xl(part['x'].iloc[0])} to {_xl(part['x'].iloc[-1])}: "
                         f"{fmt_number(part['value'].iloc[0], d, spec.unit)} at the start, "
                         f"{fmt_number(part['value'].iloc[-1], d, spec.unit)} at the end; lowest "
                         f"{fmt_number(lo['value'], d, spec.unit)} in {_xl(lo['x'])}, highest "
                         f"{fmt_number(hi['value'], d, spec.unit)} in {_xl(hi['x'])}.")
    return " ".join(parts)


def _xl(x) -> str:
    if isinstance(x, pd.Timestamp):
        return f"{x:%b %Y}"
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    return str(x)


def _x_axis(fig, spec, frame, **kw):
    title = spec.get("x_label") or ("Year" if not pd.api.types.is_datetime64_any_dtype(frame["x"].dtype) else "Month")
    if pd.api.types.is_numeric_dtype(frame["x"].dtype):
        fig.update_xaxes(title_text=title, tickformat="d", **kw)
        xs = sorted(frame["x"].unique())
        if len(xs) <= 12:
            fig.update_xaxes(tickmode="array", tickvals=xs, **kw)
    else:
        fig.update_xaxes(title_text=title, **kw)
    return title


def _time_series(spec, cd: ChartData, highlight, titled):
    frame = cd.frame
    d = _decimals(spec)
    vt = _value_title(spec)
    fig = go.Figure()
    info = _line_traces(fig, spec, frame, highlight)
    xt = _x_axis(fig, spec, frame)
    fig.update_yaxes(title_text=vt, rangemode="tozero" if spec.get("zero", True) else "normal")
    _reference_lines(fig, spec, axis="y")
    _base_layout(fig, spec, titled, height=400)
    if info["per_area"]:
        table = frame.pivot_table(index=["area_code", "area_name"], columns="x", values="value").reset_index()
        table.columns = [str(_xl(c)) if c not in ("area_code", "area_name") else c for c in table.columns]
        labels = {"area_name": spec.get("label_title") or "Area", "area_code": "Code"}
        labels.update({c: axis_title(c, spec.unit) for c in table.columns if c not in labels})
        keys = "area_code"
    else:
        cols = ["x", "value"] + (["series"] if "series" in frame.columns else [])
        table = frame[cols].sort_values(cols[::-1][:1] + ["x"] if "series" in cols else ["x"])
        labels = {"x": xt, "series": spec.get("series_label") or "Series", "value": vt}
        keys = None
    summary = f"{spec.title}. Line chart of {_phrase(spec.get('value_label') or 'values')} by {_phrase(xt)}. " + _series_summary(spec, frame)
    return fig, _readable_table(table, labels, d), labels, summary, keys


def _scatter(spec, cd: ChartData, highlight, titled):
    frame = cd.frame
    d = _decimals(spec)
    stats = cd.stats
    xt = axis_title(spec.get("x_label") or "x", spec.get("x_unit") or "")
    yt = axis_title(spec.get("y_label") or spec.get("value_label") or "y", spec.get("y_unit") or spec.unit)
    mask = _highlight_mask(frame, highlight)
    any_hl = bool(mask.any())
    big = len(frame) > 1000
    Trace = go.Scattergl if big else go.Scatter
    fig = go.Figure()
    things = spec.get("things", "areas")
    for sel in (False, True):
        m = mask.to_numpy() == sel
        if sel and not m.any():
            continue
        part = frame[m]
        fig.add_trace(Trace(
            x=_whole(part["x"]), y=_whole(part["y"]), mode="markers",
            name=f"Selected ({len(part):,})" if sel else f"Each of the {things}",
            marker=dict(color=design.HIGHLIGHT if sel else (design.MUTED if any_hl else design.DATA),
                        size=9 if sel else (5 if big else 9), opacity=1 if sel else (0.45 if big else 0.8),
                        line=dict(color=design.HIGHLIGHT_OUTLINE, width=1) if sel else dict(width=0)),
            # each point's code, for a click on a theme page; a chart without a click action
            # (the chart builder's) leaves them out: plotly copies 30,000 of them one by one
            customdata=_code_array(part) if spec.get("click_codes", True) else None,
            hovertext=_text_array(part["area_name"]) if "area_name" in part.columns else None,
            meta=_point_hint("points", part, none={"color": design.DATA}, off={"color": design.MUTED},
                             on={"color": design.HIGHLIGHT, "size": 9, "opacity": 1,
                                 "line": design.HIGHLIGHT_OUTLINE, "width": 1})
            if _hinted(spec) and not sel else None,
            hovertemplate=f"%{{hovertext}}<br>{xt}: %{{x:,.{d}f}}<br>{yt}: %{{y:,.{d}f}}<extra></extra>"))
    fit_text = ""
    if stats and not math.isnan(stats.get("slope", math.nan)):
        xs = np.linspace(float(frame["x"].min()), float(frame["x"].max()), 50)
        ys = stats["intercept"] + stats["slope"] * xs
        per = spec.get("slope_per", 1)
        x_unit = spec.get("x_unit_singular") or spec.get("x_unit") or ""
        # "+0.95 µg/m³ per 1 percentage point"; with no unit on x, per one of the x axis's own measure
        per_what = f"per {per:,g} {x_unit}" if x_unit else f"per {per:,g} of {xt}" if xt else f"per {per:,g}"
        trend = " ".join(part for part in (f"{stats['slope'] * per:+.2f}".replace("-", MINUS),
                                           spec.get("y_unit") or spec.unit, per_what) if part)
        fit_text = f"r = {stats['r']:.2f}".replace("-", MINUS) + f"; trend: {trend}; n = {stats['n']:,}"
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="Trend (least squares)",
                                 line=dict(color=design.TEXT, width=2.5), hoverinfo="skip"))
        fig.add_annotation(text=fit_text, xref="paper", yref="paper", x=1, y=0.02, xanchor="right",
                           yanchor="bottom", showarrow=False, font=dict(color=design.TEXT, size=12),
                           bgcolor="rgba(255,255,255,0.85)")
    fig.update_xaxes(title_text=xt, type="log" if spec.get("log_x") else "linear")
    if not spec.get("log_x") and len(frame) and float(frame["x"].min()) >= 0:
        fig.update_xaxes(rangemode="nonnegative")     # no −10 % on an axis of shares or counts
    fig.update_yaxes(title_text=yt, rangemode="tozero")
    _reference_lines(fig, spec, axis="y")
    _base_layout(fig, spec, titled, height=440)
    labels = {"area_name": spec.get("label_title") or "Area", "area_code": "Code", "x": xt, "y": yt}
    if "borough_code" in frame.columns:
        labels["borough_code"] = "Borough code"
    table = frame.sort_values("x")
    summary = (f"{spec.title}. Scatter plot of {yt} against {xt} for {len(frame):,} {things}. "
               + (f"A straight-line trend fitted by least squares: {fit_text}. " if fit_text else "")
               + (f"r² = {stats['r2']:.2f}, so the trend accounts for {stats['r2'] * 100:.0f}% of the variation. " if fit_text else ""))
    return fig, _readable_table(table, labels, 2), labels, summary, "area_code"


def _small_multiples(spec, cd: ChartData, highlight, titled):
    frame = cd.frame
    d = _decimals(spec)
    vt = _value_title(spec)
    facets = spec.get("facet_order") or list(dict.fromkeys(frame["facet"]))
    facet_labels = spec.get("facet_labels") or {}
    cols = int(spec.get("columns", 2 if len(facets) > 1 else 1))
    rows = math.ceil(len(facets) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[str(facet_labels.get(f, f)) for f in facets],
                        shared_xaxes=False, horizontal_spacing=0.1, vertical_spacing=0.16)
    parts_summary = []
    for i, facet in enumerate(facets):
        r, c = i // cols + 1, i % cols + 1
        part = frame[frame["facet"] == facet].drop(columns="facet")
        _line_traces(fig, spec, part, highlight, row=r, col=c, show_legend=(i == 0))
        _reference_lines(fig, spec, axis="y", row=r, col=c, facet=facet)
        top = max([float(part["value"].max())] + _ref_values(spec, facet))
        fig.update_yaxes(title_text=vt if c == 1 else "", rangemode="tozero", range=[0, top * 1.12], row=r, col=c)
        _x_axis(fig, spec, part, row=r, col=c)
        parts_summary.append(f"{facet_labels.get(facet, facet)}: " + _series_summary(spec, part))
    for ann in fig.layout.annotations:
        ann.font = dict(color=design.TEXT, size=14)
    _base_layout(fig, spec, titled, height=340 * rows + 60)
    per_area = "area_code" in frame.columns and "series" not in frame.columns
    if per_area:
        table = frame.pivot_table(index=["area_code", "area_name", "facet"], columns="x", values="value").reset_index()
        table.columns = [str(_xl(c)) if c not in ("area_code", "area_name", "facet") else c for c in table.columns]
        labels = {"area_name": spec.get("label_title") or "Area", "area_code": "Code",
                  "facet": spec.get("facet_title") or "Panel"}
        labels.update({c: axis_title(c, spec.unit) for c in table.columns if c not in labels})
        keys = "area_code"
    else:
        table = frame
        labels = {"facet": spec.get("facet_title") or "Panel", "x": spec.get("x_label") or "Year",
                  "series": spec.get("series_label") or "Series", "value": vt}
        keys = None
    summary = f"{spec.title}. {len(facets)} small charts, one per {spec.get('facet_title', 'panel').lower()}. " + " ".join(parts_summary)
    return fig, _readable_table(table, labels, d), labels, summary, keys


def _stacked_bar(spec, cd: ChartData, highlight, titled):
    frame = cd.frame
    d = _decimals(spec)
    name = _name_col(frame)
    vt = _value_title(spec)
    totals = frame.groupby(name)["value"].sum().sort_values(ascending=False)
    percent = bool(spec.get("percent"))
    data = frame.copy()
    if percent:
        data["value"] = data["value"] / data[name].map(totals) * 100
    order = list(totals.index)
    series_order = spec.get("series_order") or list(frame.groupby("series")["value"].sum().sort_values(ascending=False).index)
    if "Other" in series_order:
        series_order = [s for s in series_order if s != "Other"] + ["Other"]
    mask_codes = set()
    hmask = _highlight_mask(frame, highlight)
    if hmask.any():
        mask_codes = set(frame.loc[hmask, name])
    fig = go.Figure()
    for i, s in enumerate(series_order):
        part = data[data["series"] == s].set_index(name).reindex(order).reset_index()
        sel = [n in mask_codes for n in part[name]]
        colour = design.series_colour(i) if s != "Other" else design.MUTED
        fig.add_trace(go.Bar(
            x=part["value"], y=part[name], orientation="h", name=str(s),
            marker=dict(color=colour,
                        opacity=[1.0 if (not mask_codes or h) else 0.35 for h in sel],
                        line=dict(color=[design.HIGHLIGHT if h else "rgba(0,0,0,0)" for h in sel],
                                  width=[2.5 if h else 0 for h in sel])),
            customdata=_codes(part),
            meta=_point_hint("bars", part, none={"color": colour, "opacity": 1},
                             on={"color": colour, "opacity": 1, "line": design.HIGHLIGHT, "width": 2.5},
                             off={"color": colour, "opacity": 0.35}) if _hinted(spec) else None,
            hovertemplate=f"%{{y}}<br>{s}: %{{x:,.{d}f}}{'%' if percent else ''}<extra></extra>"))
    fig.update_layout(barmode="stack", legend_traceorder="normal")
    xt = "Share of the total (%)" if percent else vt
    fig.update_xaxes(title_text=xt, rangemode="tozero")
    if percent:
        fig.update_xaxes(range=[0, 100])
    fig.update_yaxes(autorange="reversed", type="category", categoryorder="array", categoryarray=order,
                     title_text="")
    _base_layout(fig, spec, titled, height=max(300, 20 * len(order) + 140))
    table = frame.pivot_table(index=[c for c in ("area_code", name) if c in frame.columns], columns="series",
                              values="value", aggfunc="sum").reset_index()
    table = table.set_index(name).reindex(order).reset_index()
    table["total"] = table[name].map(totals)
    labels = {name: spec.get("label_title") or "Area"}
    labels.update({s: axis_title(str(s), spec.unit) for s in series_order})
    labels["total"] = axis_title("Total", spec.unit)
    if "area_code" in table.columns:
        labels["area_code"] = "Code"
    biggest = frame.groupby("series")["value"].sum().sort_values(ascending=False)
    summary = (f"{spec.title}. Stacked bars for {len(order)} {spec.get('things', 'areas')}, sorted by total. "
               f"Largest total: {order[0]} ({fmt_number(totals.iloc[0], 0, spec.unit)}); smallest: {order[-1]} "
               f"({fmt_number(totals.iloc[-1], 0, spec.unit)}). Largest part overall: {biggest.index[0]} "
               f"({biggest.iloc[0] / biggest.sum() * 100:.0f}% of all).")
    return fig, _readable_table(table, labels, d), labels, summary, "area_code" if "area_code" in table.columns else None


BUILDERS = {
    "ranked_bar": _ranked_bar,
    "distribution": _distribution,
    "time_series": _time_series,
    "scatter_trend": _scatter,
    "small_multiples": _small_multiples,
    "stacked_bar": _stacked_bar,
}


# ============================================================================ entry points
def error_figure(message: str) -> go.Figure:
    design.register_template()
    fig = go.Figure()
    fig.add_annotation(text=_wrap(f"This chart could not be drawn: {message}", 70), showarrow=False,
                       x=0.5, y=0.5, xref="paper", yref="paper", font=dict(color=design.TEXT, size=14))
    fig.update_layout(template=design.TEMPLATE_NAME, height=200, xaxis=dict(visible=False),
                      yaxis=dict(visible=False))
    return fig


def _footer(fig: go.Figure, sources: list[dict], service) -> None:
    from explorer.labels.credits import collect_credits

    parts = [credit.short() for credit in collect_credits(sources, service)]
    if parts:
        text = _wrap("Source: " + "; ".join(parts), 110)
        lines = text.count("<br>") + 1
        fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0, y=0, yshift=-78,
                           xanchor="left", yanchor="top", align="left", font=dict(size=11, color=design.TEXT_MUTED))
        extra = 16 * lines + 16
        fig.update_layout(margin=dict(b=(fig.layout.margin.b or 8) + 80 + extra),
                          height=(fig.layout.height or 450) + extra)


def build_chart(spec, service, highlight: list[str] | None = None, titled: bool = False,
                footer: bool = True) -> ChartResult:
    """Build one chart of a theme. Never raises for data problems: see ``ChartResult.error``.

    ``highlight`` lists area or borough codes to draw in the highlight colour; ``titled`` puts the
    title, subtitle and a source line inside the figure (for exported images; pages show the title
    as a heading instead). ``footer=False`` leaves out that source line (``explorer.export`` draws
    a fuller footer of its own).
    """
    from explorer.themes.chart_data import Inputs

    inputs = Inputs(service)
    try:
        transform = TRANSFORMS.get(spec.transform)
        if transform is None:
            raise ChartDataError(f"unknown transform {spec.transform!r}")
        if spec.type not in BUILDERS:
            raise ChartDataError(f"unknown chart type {spec.type!r}")
        cd = transform.fn(service, spec, inputs)
    except Exception as exc:  # one chart's failure must not break the page
        return _failed(spec, exc, inputs.sources)
    return build_from_data(spec, cd, service, highlight, titled, footer)


def build_from_data(spec, cd: ChartData, service, highlight: list[str] | None = None, titled: bool = False,
                    footer: bool = True) -> ChartResult:
    """Draw a chart's prepared data (a theme's transform, or the chart builder's,
    ``explorer.themes.chart_builder``) with its builder: one look, one set of labels, number formats,
    source line and summary. Never raises for a data problem: see ``ChartResult.error``."""
    try:
        builder = BUILDERS.get(spec.type)
        if builder is None:
            raise ChartDataError(f"unknown chart type {spec.type!r}")
        if cd.frame.empty:
            raise ChartDataError("no rows left to chart")
        fig, table, labels, summary, keys = builder(spec, cd, highlight, titled)
        if cd.notes:
            summary += " Notes: " + " ".join(cd.notes)
        if titled and footer:
            _footer(fig, cd.sources, service)
        return ChartResult(figure=fig, data=table, summary=summary, sources=cd.sources, highlight_keys=keys,
                           labels=labels, notes=cd.notes, stats=cd.stats, chart_id=spec.id, title=spec.title,
                           subtitle=spec.subtitle, caveat_note=spec.caveat_note)
    except Exception as exc:  # one chart's failure must not break the page
        return _failed(spec, exc, cd.sources)


def _failed(spec, exc: Exception, sources: list[dict]) -> ChartResult:
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    if not isinstance(exc, ChartDataError) and not hasattr(exc, "reason"):
        log.exception("chart %s/%s failed", spec.theme or spec.dataset, spec.id)
        reason = f"{type(exc).__name__}: {reason}"
    return ChartResult(figure=error_figure(reason), data=pd.DataFrame(), summary=f"{spec.title}: not available – {reason}",
                       sources=sources, highlight_keys=None, error=reason, chart_id=spec.id, title=spec.title,
                       subtitle=spec.subtitle, caveat_note=spec.caveat_note)


def format_headline(value: float | None, fmt: str, unit: str = "", decimals: int | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not available"
    d = 0 if decimals is None and fmt in ("percent", "signed_percent", "currency", "number") else (decimals if decimals is not None else 1)
    if fmt == "percent":
        text = f"{value:,.{d}f}%"
    elif fmt == "signed_percent":
        text = f"{value:+,.{d}f}%"
    elif fmt == "currency":
        text = f"£{value:,.{d}f}"
    elif fmt == "multiple":
        text = f"×{value:,.{d}f}"
    elif fmt == "signed":
        text = f"{value:+,.{d if decimals is not None else 2}f}"
    elif fmt == "decimal":
        text = f"{value:,.{d if decimals is not None else 2}f}"
    else:
        text = f"{value:,.{d}f}"
    text = text.replace("-", MINUS)
    if unit and fmt not in ("percent", "signed_percent", "currency", "multiple"):
        text += f" {unit}"
    return text


def headline_values(theme, service) -> list[dict]:
    """Each headline as {label, value, text, detail, sources, error}; never raises for data problems."""
    out = []
    for spec, raw in zip(theme.headline_specs(), theme.headlines):
        item = {"label": raw["label"], "value": None, "text": "not available", "detail": "",
                "unit": raw.get("unit", ""), "sources": [], "error": None, "note": raw.get("note", "")}
        try:
            result = COMPUTATIONS[raw["compute"]].fn(service, spec)
            item.update(value=result.value, detail=result.detail, sources=result.sources,
                        text=format_headline(result.value, raw.get("format", "number"), raw.get("unit", ""),
                                             raw.get("decimals")))
        except Exception as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            log.warning("headline %r of %s failed: %s", raw["label"], theme.slug, reason)
            item["error"] = reason
        out.append(item)
    return out
