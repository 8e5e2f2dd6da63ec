"""Which columns of a table a page shows: each code and each name once.

A table joined to boundaries carries the area's code and name three times: the join's own
``area_code``/``area_name``, the boundary file's (``LSOA11CD``/``LSOA11NM``) and the file's own
(``LSOA code (2011)``). A preview shows one of each: the file's own column where it has one (the
name the reader finds in the download, with the catalogue's label over it), else the first.
Only text columns are compared (over the first ``ROWS_COMPARED`` rows, a bound on the work for a
big file): two numeric columns that agree in the first rows (two months of zeros) are different
figures.
"""

from __future__ import annotations

import pandas as pd

JOIN_COLUMNS = ("area_code", "area_name")    # added by explorer.geo.geography.join_to_boundaries
ROWS_COMPARED = 5000


def _key(series: pd.Series) -> tuple:
    text = series.astype("string").fillna("").str.strip().str.casefold().str.replace(r"\s+", " ", regex=True)
    return tuple(text.tolist())


def distinct_columns(frame: pd.DataFrame, added=JOIN_COLUMNS, preferred=()) -> list[str]:
    """The columns of ``frame`` to show, in its order, each text column's values once.

    ``added``: columns the loader added (the join's and the boundary file's), shown only when the
    file has no column with the same values; ``preferred``: columns to keep first of all (those
    the catalogue labels)."""
    added, preferred = set(map(str, added)), set(map(str, preferred))
    groups: dict[tuple, list[str]] = {}
    head = frame.head(ROWS_COMPARED)
    for column in head.columns:
        series = head[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series) or str(column) == "geometry":
            continue
        try:
            groups.setdefault(_key(series), []).append(str(column))
        except (TypeError, ValueError):        # a column of lists or other objects: shown as it is
            continue
    dropped: set[str] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        keep = next((c for c in members if c in preferred), None) \
            or next((c for c in members if c not in added), None) or members[0]
        dropped.update(c for c in members if c != keep)
    return [str(c) for c in frame.columns if str(c) not in dropped]
