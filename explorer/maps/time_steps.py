"""Time steps: the years a layer can be shown for, and where each year's numbers are.

A layer's years come from one of three places: sibling resources of the dataset, one a year
(:func:`resource_steps`), year-named columns (2011 … 2021, ``HHI_median_2001``, ``Year ending Dec
1995``: :func:`column_steps`), or the years of a long table (:mod:`explorer.maps.series`).
:func:`step_from` reads a step from a permalink or a request; :func:`sibling_variable` finds a
year's column in another year's resource; :func:`years_of` reads years from years, dates or
date-like text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["TimeStep", "YEAR_RE", "MONTH_RE", "years_of", "resource_steps", "column_steps", "step_from",
           "sibling_variable"]


@dataclass
class TimeStep:
    label: str
    year: int | None
    resource_id: str
    variable: str | None


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
           "sept", "oct", "nov", "dec")
YEAR_RE = re.compile(r"(?<!\d)((?:18|19|20)\d{2})(?:0[1-9]|1[0-2])?(?!\d)")
MONTH_RE = re.compile(r"(?<![a-z])(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?![a-z])",
                       re.I)


def years_of(series: pd.Series) -> pd.Series:
    """A column of years (int) from years, dates or date-like text; NA where there is none."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.year.astype("Int64")
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = pd.to_numeric(series, errors="coerce")
        ok = values.notna() & (values % 1 == 0) & values.between(1800, 2100)
        return values.where(ok).astype("Int64")
    text = series.astype("string")
    found = text.str.extract(r"(?<!\d)((?:18|19|20)\d{2})(?!\d)", expand=False)
    return pd.to_numeric(found, errors="coerce").astype("Int64")


_STEP_IGNORED_OPTIONS = {"year", "value_column", "title"}


def resource_steps(entry, resource) -> list[TimeStep]:
    options = resource.options or {}
    if not isinstance(options.get("year"), int):
        return []
    mine = {k: v for k, v in options.items() if k not in _STEP_IGNORED_OPTIONS}
    steps = []
    for other in entry.resources:
        o = other.options or {}
        year = o.get("year")
        if not isinstance(year, int) or isinstance(year, bool):
            continue
        if {k: v for k, v in o.items() if k not in _STEP_IGNORED_OPTIONS} != mine:
            continue
        if _norm_format(other.format) != _norm_format(resource.format):
            continue
        value = o.get("value_column")
        steps.append(TimeStep(str(year), year, other.id, value if isinstance(value, str) else None))
    steps.sort(key=lambda s: s.year)
    years = [s.year for s in steps]
    if len(steps) < 2 or len(set(years)) != len(years):
        return []
    return steps


def _norm_format(fmt: str | None) -> str:
    return (fmt or "").strip().lower()


def column_steps(columns: list[str], resource_id: str) -> list[TimeStep]:
    """Year-named columns (2011 … 2021, HHI_median_2001 …, Year ending Dec 1995 …): one step a year,
    the last column of each year (the December one of quarterly columns)."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for name in columns:
        found = list(YEAR_RE.finditer(name))
        if len(found) != 1:
            continue
        year = int(found[0].group(1))
        stem = name[:found[0].start()] + "\0" + name[found[0].end():]
        stem = MONTH_RE.sub("", stem)
        stem = re.sub(r"\s+", " ", stem).strip().lower()
        groups.setdefault(stem, []).append((year, name))
    best: list[tuple[int, str]] = []
    for items in groups.values():
        if len({y for y, _ in items}) >= 2 and len({y for y, _ in items}) > len({y for y, _ in best}):
            best = items
    if not best:
        return []
    last: dict[int, str] = {}
    for year, name in best:          # in column order: later columns of a year win
        last[year] = name
    return [TimeStep(str(y), y, resource_id, last[y]) for y in sorted(last)]


def step_from(step, info=None) -> TimeStep | None:
    """A TimeStep from a TimeStep, its dict, or (with ``info``) a step label or year."""
    if step is None or isinstance(step, TimeStep):
        return step
    if isinstance(step, dict):
        return TimeStep(**{k: step.get(k) for k in ("label", "year", "resource_id", "variable")})
    if isinstance(step, (str, int)) and not isinstance(step, bool) and info is not None:
        for candidate in info.time_steps:
            if str(step) in (candidate.label, str(candidate.year)):
                return candidate
        raise ValueError(f"{info.dataset_id}/{info.resource_id} has no time step {step!r}")
    raise ValueError(f"not a time step: {step!r}")


def sibling_variable(variable: str | None, base_year, step: TimeStep, columns) -> str | None:
    """The step resource's column matching ``variable`` (NO2-2019-max → NO2-2013-max)."""
    if variable and variable in columns:
        return variable
    if variable and isinstance(base_year, int) and step.year is not None and str(base_year) in variable:
        candidate = variable.replace(str(base_year), str(step.year))
        if candidate in columns:
            return candidate
    return step.variable
