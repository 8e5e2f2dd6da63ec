"""Boundary sets built at run time from other data: areas of a finer set dissolved by a lookup.

London's 2022 wards have no boundary file in the data folder, but the GLA publishes a weighted
lookup from 2011 LSOAs to 2022 wards. :func:`dissolve_by_largest_share` gives each LSOA to the
ward that holds the largest share of it (in the lookup's latest year; ties go to the smaller ward
code) and dissolves the LSOAs of each ward into one shape, keeping it valid. The result is an
*approximation*: its edges follow LSOA boundaries, not the official ward lines, and a ward smaller
than any LSOA (most City of London wards) gets no shape at all. The caller (the data service)
says so on every map and source card that uses it, through the boundary set's ``caveat``.

A derived set is declared in ``geodata/boundaries.yaml`` with ``derived_from``; its
``dataset_id``/``resource_id`` name the lookup, whose resource options name the from, to, weight
and year columns::

    derived_from:
      parts: lsoa-2011                 # the boundary set whose areas are dissolved
      names:                           # where ward names come from, first found wins
        - {dataset: crime-ward}        #   a table: its resource's code_column / name_column
        - {set: ward-2018-all}         #   a boundary set (codes unchanged since 2018)

The pure functions read no files: frames come in as arguments. :func:`build` and
:func:`target_codes` take the data service and load the inputs through it (so they are resolved,
checksummed and cached like any dataset); the service caches the result and adds
:attr:`DerivedBoundary.steps` (both input files with their sha256, and what was done) to the
provenance of every table joined to the set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

__all__ = ["DerivationError", "DerivedSpec", "Assignment", "DerivedBoundary", "assign_largest_share",
           "dissolve_by_largest_share", "names_from", "build", "target_codes"]


class DerivationError(ValueError):
    """A derived boundary set cannot be built; says which input, column or field is wrong."""


@dataclass(frozen=True)
class DerivedSpec:
    parts: str                                   # boundary set id of the areas dissolved
    names: tuple[dict, ...] = ()                 # {"dataset": id} or {"set": id}, in order

    @classmethod
    def from_dict(cls, data: object, where: str) -> "DerivedSpec":
        if not isinstance(data, dict):
            raise DerivationError(f"{where}, field 'derived_from': expected a mapping")
        unknown = set(data) - {"parts", "names"}
        if unknown:
            raise DerivationError(f"{where}, field 'derived_from': unknown key(s) {', '.join(sorted(unknown))}")
        if not isinstance(data.get("parts"), str) or not data["parts"].strip():
            raise DerivationError(f"{where}, field 'derived_from.parts': missing or empty")
        names = data.get("names") or []
        if not isinstance(names, list):
            raise DerivationError(f"{where}, field 'derived_from.names': expected a list")
        checked = []
        for i, item in enumerate(names):
            if (not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in ("dataset", "set")
                    or not isinstance(next(iter(item.values())), str)):
                raise DerivationError(f"{where}, field 'derived_from.names[{i}]': expected "
                                      f"{{dataset: <id>}} or {{set: <id>}}, got {item!r}")
            checked.append(dict(item))
        return cls(parts=data["parts"].strip(), names=tuple(checked))

    def to_dict(self) -> dict:
        return {"parts": self.parts, "names": [dict(n) for n in self.names]}


@dataclass
class Assignment:
    """Which target area each part goes to."""
    table: pd.DataFrame           # columns: part, target, share (one row per part)
    year: int | None              # the lookup year used
    parts_split: int              # parts the lookup shares between several targets
    below_half: int               # parts whose largest share is under one half
    targets_in_lookup: int        # distinct targets the lookup names (in that year)
    targets_without_part: list[str] = field(default_factory=list)  # no part has its largest share there


def _column(options: dict, key: str, where: str, columns) -> str:
    name = options.get(key)
    if not isinstance(name, str) or not name:
        raise DerivationError(f"{where}: the resource option {key!r} is missing (it names the lookup's column)")
    if name not in columns:
        raise DerivationError(f"{where}: column {name!r} (option {key!r}) is not in the file; "
                              f"its columns: {', '.join(map(str, columns))}")
    return name


def assign_largest_share(lookup: pd.DataFrame, options: dict, where: str = "lookup") -> Assignment:
    """Each part (LSOA) to the target (ward) with the largest weight, in the lookup's latest year.

    ``options`` names the columns: ``from_column``, ``to_column``, ``weight_column`` and,
    optionally, ``year_column``. Ties go to the smaller target code, so the result is stable.
    """
    part = _column(options, "from_column", where, lookup.columns)
    target = _column(options, "to_column", where, lookup.columns)
    weight = _column(options, "weight_column", where, lookup.columns)
    table = pd.DataFrame({
        "part": lookup[part].astype("string").str.strip().str.upper(),
        "target": lookup[target].astype("string").str.strip().str.upper(),
        "share": pd.to_numeric(lookup[weight], errors="coerce"),
    })
    bad = table["share"].isna() & lookup[weight].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DerivationError(f"{where}: row {row + 2}, column {weight!r}: not a number: "
                              f"{lookup[weight].iloc[row]!r}")
    year = None
    if options.get("year_column"):
        ycol = _column(options, "year_column", where, lookup.columns)
        years = pd.to_numeric(lookup[ycol], errors="coerce")
        if years.notna().any():
            year = int(years.max())
            table = table[(years == year).to_numpy()]
    table = table.dropna(subset=["part", "target"])
    if table.empty:
        raise DerivationError(f"{where}: no rows with a {part!r} and a {target!r} value")
    split = int((table.groupby("part")["target"].nunique() > 1).sum())
    ordered = table.sort_values(["part", "share", "target"], ascending=[True, False, True], kind="mergesort")
    best = ordered.drop_duplicates("part", keep="first").reset_index(drop=True)
    named = set(table["target"])
    without = sorted(named - set(best["target"]))
    return Assignment(table=best, year=year, parts_split=split, below_half=int((best["share"] < 0.5).sum()),
                      targets_in_lookup=len(named), targets_without_part=without)


def names_from(frames: list[tuple[pd.DataFrame, str, str]], codes) -> dict[str, str]:
    """Names for ``codes`` from (frame, code column, name column) sources, the first found wins."""
    wanted = {str(c) for c in codes}
    names: dict[str, str] = {}
    for frame, code_col, name_col in frames:
        pairs = pd.DataFrame({"c": frame[code_col].astype("string").str.strip().str.upper(),
                              "n": frame[name_col].astype("string").str.strip()}).dropna()
        pairs = pairs[pairs["c"].isin(wanted - set(names)) & (pairs["n"] != "")]
        for code, name in pairs.drop_duplicates("c").itertuples(index=False):
            names[str(code)] = str(name)
    return names


def _polygonal(geom):
    """The polygons of ``geom`` (repaired when invalid) as a Polygon or MultiPolygon."""
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def dissolve_by_largest_share(parts, part_code_column: str, assignment: Assignment,
                              names: dict[str, str], code_column: str, name_column: str,
                              where: str = "parts"):
    """The parts (a GeoDataFrame) dissolved by ``assignment``: one valid (Multi)Polygon per target,
    with ``code_column``, ``name_column`` (the code when no name is known) and ``n_parts``.

    Every part in the assignment must be in ``parts`` and each is used exactly once; parts the
    lookup does not name raise, so a lookup for another vintage is not silently half-used.
    """
    import geopandas as gpd

    if part_code_column not in parts.columns:
        raise DerivationError(f"{where}: no column {part_code_column!r}; columns: "
                              f"{', '.join(map(str, parts.columns))}")
    codes = parts[part_code_column].astype("string").str.strip().str.upper()
    if codes.duplicated().any():
        raise DerivationError(f"{where}: code {codes[codes.duplicated()].iloc[0]} appears twice")
    target_of = dict(zip(assignment.table["part"], assignment.table["target"]))
    missing_parts = sorted(set(target_of) - set(codes))
    if missing_parts:
        raise DerivationError(f"{where}: {len(missing_parts):,} areas of the lookup are not in the "
                              f"boundary file (e.g. {', '.join(missing_parts[:5])})")
    unassigned = sorted(set(codes) - set(target_of))
    if unassigned:
        raise DerivationError(f"{where}: {len(unassigned):,} areas of the boundary file are not in the "
                              f"lookup (e.g. {', '.join(unassigned[:5])})")
    targets = codes.map(target_of).to_numpy()
    geoms = np.asarray(parts.geometry.values, dtype=object)
    order = sorted(set(targets))
    shapes, counts = [], []
    for target in order:
        members = geoms[targets == target]
        merged = shapely.coverage_union_all(members)
        if not shapely.is_valid(merged) or merged.geom_type not in ("Polygon", "MultiPolygon"):
            merged = shapely.union_all(members)      # parts that do not share edges exactly
        shapes.append(_polygonal(merged))
        counts.append(len(members))
    return gpd.GeoDataFrame({
        code_column: order,
        name_column: [names.get(t, t) for t in order],
        "n_parts": counts,
    }, geometry=shapes, crs=parts.crs)


# ------------------------------------------------------------------------------------------------
# Building a declared set through the data service
# ------------------------------------------------------------------------------------------------
@dataclass
class DerivedBoundary:
    frame: object                 # GeoDataFrame: code, name, n_parts, geometry
    steps: list[str]              # provenance lines: inputs with sha256, then the derivation
    summary: dict                 # counts for reports and tests


def _lookup(service, bset):
    loaded = service.load(bset.dataset_id, bset.resource_id, join=False)
    where = f"boundary set {bset.id}: lookup {bset.dataset_id} ({loaded.provenance.path})"
    return loaded, assign_largest_share(loaded.frame, loaded.resource.options or {}, where)


def target_codes(service, bset) -> list[str]:
    """The codes of a derived set without building its shapes (the lookup alone)."""
    _, assignment = _lookup(service, bset)
    return sorted(set(assignment.table["target"]))


def _input_line(role: str, loaded) -> str:
    prov = loaded.provenance
    where = loaded.resource.local_path or prov.path
    return f"input ({role}): {loaded.entry.title}, {where} (sha256 {prov.sha256})"


def build(service, bset) -> DerivedBoundary:
    """The shapes of derived boundary set ``bset``, with the provenance of how they were made."""
    spec: DerivedSpec = bset.derived_from
    lookup, assignment = _lookup(service, bset)
    parts_set = service.boundaries.get(spec.parts)
    parts = service.load(parts_set.dataset_id, parts_set.resource_id, join=False)
    sources, used = [], []
    for item in spec.names:
        kind, ident = next(iter(item.items()))
        if kind == "set":
            other = service.boundaries.get(ident)
            frame = service.boundary_frame(other)
            sources.append((frame, other.code_column, other.name_column))
        else:
            named = service.load(ident, None, join=False)
            options = named.resource.options or {}
            code_col, name_col = options.get("code_column"), options.get("name_column")
            if code_col not in named.frame.columns or name_col not in named.frame.columns:
                raise DerivationError(f"boundary set {bset.id}: names from {ident}: its resource options "
                                      f"code_column/name_column ({code_col!r}, {name_col!r}) are not columns "
                                      "of its file")
            sources.append((named.frame, code_col, name_col))
        used.append(ident)
    targets = sorted(set(assignment.table["target"]))
    names: dict[str, str] = {}
    counts = []
    for source, ident in zip(sources, used):
        found = names_from([source], [t for t in targets if t not in names])
        names.update(found)
        counts.append(f"{ident} {len(found):,}")
    frame = dissolve_by_largest_share(parts.frame, parts_set.code_column, assignment, names,
                                      bset.code_column, bset.name_column,
                                      where=f"boundary set {bset.id}: parts {parts_set.id}")
    pieces = int((frame.geometry.geom_type == "MultiPolygon").sum())
    unnamed = [t for t in targets if t not in names]
    summary = {
        "parts": len(assignment.table), "parts_split": assignment.parts_split, "year": assignment.year,
        "below_half": assignment.below_half,
        "targets_in_lookup": assignment.targets_in_lookup, "features": len(frame),
        "targets_without_part": assignment.targets_without_part, "multipart": pieces,
        "unnamed": unnamed, "invalid": int((~frame.geometry.is_valid).sum()),
    }
    year = f"its {assignment.year} weights" if assignment.year is not None else "its weights"
    without = assignment.targets_without_part
    steps = [
        _input_line("lookup", lookup),
        _input_line("areas dissolved", parts),
        (f"boundary set {bset.id} derived at run time: each of the {len(assignment.table):,} areas of "
         f"{parts_set.id} given to the {bset.level} holding the largest share of it in the lookup "
         f"({year}; {assignment.parts_split:,} areas are shared between several {bset.level}s, "
         f"{assignment.below_half:,} of them with no {bset.level} holding half; ties go to the smaller "
         f"code), then dissolved by {bset.level}: {len(frame):,} shapes ({pieces:,} in several pieces)"
         + (f"; {len(without):,} of the lookup's {assignment.targets_in_lookup:,} {bset.level}s hold no "
            f"area's largest share and have no shape (e.g. {', '.join(without[:5])})" if without else "")),
        "names from " + ", ".join(counts) + (f"; {len(unnamed):,} without a name (shown by code)"
                                              if unnamed else ""),
    ]
    return DerivedBoundary(frame=frame, steps=steps, summary=summary)
