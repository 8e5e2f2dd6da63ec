"""A join's warnings in words a resident understands; the join report's own text (codes, column
names, boundary set ids) stays one click away on the page (layouts: a <details> under them).

    only 77.4% of the 625 ward codes in 'New_Code' are in ward-2018 (141 not found, …)
        → "23 % of rows could not be placed on the map: their area codes are from another
           boundary year (the map uses the 2018 wards)."
"""

from __future__ import annotations

PLURALS = {"lsoa": "LSOAs", "msoa": "MSOAs", "ward": "wards", "borough": "boroughs", "region": "regions",
           "output-area": "output areas", "oa": "output areas", "sub-region": "sub-regions"}


def _areas(level: str | None) -> str:
    return PLURALS.get(str(level or "").lower(), "areas")


def _percent(part: int, whole: int) -> str:
    share = 100 * part / whole
    return f"{share:.0f} %" if share >= 1 else "under 1 %"


def plain_join_warnings(geography: dict | None) -> list[str]:
    """What a reader of the map must know about how the file's rows met the map's areas, one
    plain sentence each; empty when the join raised no warning."""
    geo = geography or {}
    warnings = [str(w) for w in geo.get("warnings") or []]
    if not warnings:
        return []
    out = []
    matched, unmatched = int(geo.get("rows_matched") or 0), int(geo.get("rows_unmatched") or 0)
    year, areas = geo.get("year"), _areas(geo.get("level"))
    if unmatched and matched + unmatched:
        out.append(f"{_percent(unmatched, matched + unmatched)} of rows could not be placed on the map: their "
                   f"area codes are from another boundary year"
                   + (f" (the map uses the {year} {areas})." if year else "."))
    features, without = int(geo.get("boundary_features") or 0), int(geo.get("boundary_features_without_data") or 0)
    if features and without and any("have no data" in w for w in warnings):
        out.append(f"{without:,} of the {features:,} {areas} on the map have no figure and are shown in grey.")
    if any("taken to be outside" in w for w in warnings):
        out.append("Rows for places outside London are left off the map.")
    if not out:
        out.append("Some of this file's rows may not match the map's areas exactly.")
    return out
