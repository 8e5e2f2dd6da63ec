"""Shared pieces of the loaders: the error, the result and small helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

KINDS = ("table", "points", "polygons", "lines")


class LoadError(Exception):
    """A file that cannot be read. The message names the file, and the row, column or layer when
    the problem is there, with the underlying reason in words (never a raw traceback)."""

    def __init__(self, source: str | Path, reason: str, *, row: int | None = None,
                 column: str | None = None, layer: str | None = None):
        # A Path is shown by its file name; a string is taken as the label to show (for an
        # archive member it reads "archive.zip!folder/member.shp").
        self.name = source.name if isinstance(source, Path) else str(source)
        self.reason = reason
        self.row = row
        self.column = column
        self.layer = layer
        where = []
        if layer is not None:
            where.append(f"layer {layer!r}")
        if row is not None:
            where.append(f"line {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = f"{self.name}" + (f" ({', '.join(where)})" if where else "")
        super().__init__(f"{prefix}: {reason}")


@dataclass
class Loaded:
    """What a loader returns: a normalised frame and the steps taken to get it."""

    frame: pd.DataFrame            # or geopandas.GeoDataFrame with geometry in EPSG:4326
    kind: str                      # "table" | "points" | "polygons" | "lines"
    source_crs: str | None = None  # e.g. "EPSG:27700"; None for tables
    transformations: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return int(len(self.frame))

    @property
    def is_spatial(self) -> bool:
        return self.kind != "table"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 row', '4,994 rows'."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding numbers (not booleans, not geometry) with at least one value."""
    out: list[str] = []
    for name in frame.columns:
        if name == "geometry":
            continue
        series = frame[name]
        if not isinstance(series, pd.Series):  # duplicated column names
            continue
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            continue
        if series.notna().any():
            out.append(str(name))
    return out
