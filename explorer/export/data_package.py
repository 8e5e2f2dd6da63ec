"""The data behind a chart or a map layer, zipped with its provenance and the attribution to reuse.

A chart's zip holds ``data.csv`` (the chart's table, with readable headers), ``data.geojson`` when
its rows are areas with GSS codes (joined to the boundaries the data was matched to), a
``provenance.json`` and a ``README.txt``. A layer's zip holds, for each visible layer of the map
link, exactly what the map shows (the year, variable and filter of the link): CSV, GeoJSON and
GeoPackage of every feature with its value and class.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explorer.data.provenance import utc_now_iso
from explorer.labels.credits import Credit, collect_credits

APP = "London Data Explorer"


@dataclass
class DataPackage:
    content: bytes
    filename: str
    files: list[str]


def _source_record(credit: Credit, src: dict) -> dict:
    prov = src.get("provenance") or {}
    geography = src.get("geography")
    return {
        "dataset_id": credit.dataset_id, "resource_id": src.get("resource_id") or credit.resource_id,
        "title": credit.title, "publisher": credit.publisher, "licence": credit.licence,
        "licence_url": credit.licence_url, "attribution": credit.attribution, "updated": credit.updated,
        "retrieved_at": prov.get("retrieved_at"), "origin": prov.get("origin"),
        "source_url": prov.get("source_url"), "upstream_url": prov.get("upstream_url") or credit.upstream_url,
        "sha256": prov.get("sha256"), "size": prov.get("size"),
        "transformations": list(prov.get("transformations") or []),
        "join": ({k: geography.get(k) for k in ("boundary_set", "level", "year", "code_column", "matched",
                                                "unmatched", "match_rate") if k in geography}
                 if geography else None),
        "role": src.get("role", "data"),
    }


def _readme(title: str, what: str, link: str, credits: list[Credit], files: dict[str, str], notes: list[str]) -> str:
    lines = [title, "=" * min(len(title), 78), "", what, "", f"View online: {link}",
             f"Exported from the {APP} on {utc_now_iso()}.", "", "Attribution to reuse", "--------------------"]
    for c in credits:
        lines.append(f"- {c.publisher}, {c.title}.")
        lines.append(f"  {c.attribution or 'No attribution text stated.'}")
        lines.append(f"  Licence: {c.licence or 'not stated'}" + (f" ({c.licence_url})" if c.licence_url else ""))
        if c.upstream_url:
            lines.append(f"  Publisher's page: {c.upstream_url}")
    lines += ["", "Files", "-----"]
    lines += [f"- {name}: {desc}" for name, desc in files.items()]
    lines += ["- provenance.json: sources, licences, retrieval times, sha256 of the input files, what was done "
              "to them and how many rows matched their boundaries", "- README.txt: this file"]
    if notes:
        lines += ["", "Notes", "-----"] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _digests(members: dict[str, bytes]) -> dict:
    return {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in members.items()}


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


# ------------------------------------------------------------------------------------------ charts
def _chart_geojson(service, table: pd.DataFrame, sources: list[dict]) -> tuple[bytes | None, str | None]:
    """The chart's rows as areas: (GeoJSON, None) or (None, why not)."""
    if "area_code" not in table.columns:
        return None, "the chart's rows are not areas, so there is no GeoJSON"
    boundary = next((s["geography"]["boundary_set"] for s in sources
                     if s.get("role", "data") == "data" and s.get("geography")), None)
    if not boundary:
        return None, "the chart's data was not joined to boundaries, so there is no GeoJSON"
    try:
        bset = service.boundaries.get(boundary)
        shapes = service.boundary_frame(bset)       # a file's frame, or a derived set's shapes
    except Exception as exc:  # noqa: BLE001
        return None, f"the boundaries {boundary} could not be loaded ({getattr(exc, 'reason', exc)})"
    shapes = shapes[[bset.code_column, "geometry"]].rename(columns={bset.code_column: "area_code"})
    shapes = shapes.drop_duplicates("area_code")
    merged = shapes.merge(table, on="area_code", how="inner")
    merged = merged[[c for c in table.columns if c in merged.columns] + ["geometry"]]
    return merged.to_json(drop_id=True).encode("utf-8"), None


def chart_package(theme_slug: str, chart_id: str, service, base_url: str | None = None, highlight=None,
                  themes=None) -> DataPackage:
    from explorer.themes.charts import build_chart
    from explorer.export.chart_image import ExportUnavailable, chart_permalink, find_chart

    theme, spec = find_chart(theme_slug, chart_id, themes)
    result = build_chart(spec, service, highlight=highlight)
    if result.error:
        raise ExportUnavailable(f"{theme_slug}/{chart_id} has no data to download: {result.error}")
    link = chart_permalink(base_url, theme_slug, chart_id, highlight)
    table = result.data
    readable = table.rename(columns={k: v for k, v in result.labels.items() if k in table.columns})
    members: dict[str, bytes] = {"data.csv": _csv(readable)}
    described = {"data.csv": "the numbers drawn in the chart, one row per bar, point or line value"}
    notes = list(result.notes)
    geojson, why = _chart_geojson(service, table, result.sources)
    if geojson is not None:
        members["data.geojson"] = geojson
        described["data.geojson"] = "the same rows with each area's boundary (EPSG:4326)"
    else:
        notes.append(f"No data.geojson: {why}.")
    credits = collect_credits(result.sources, service, roles=("data", "context", "boundaries"))
    credit_by_id = {c.dataset_id: c for c in credits}
    provenance = {
        "export": {"kind": "chart", "theme": theme.slug, "chart": spec.id, "title": spec.title,
                   "subtitle": spec.subtitle, "permalink": link, "created_at": utc_now_iso(), "app": APP,
                   "highlight": list(highlight or []), "columns": result.labels},
        "sources": [_source_record(credit_by_id[s["dataset_id"]], s) for s in result.sources
                    if s.get("dataset_id") in credit_by_id],
        "transformations": [f"chart data: {spec.transform}"] + list(result.notes),
        "files": _digests(members),
    }
    members["provenance.json"] = json.dumps(provenance, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    members["README.txt"] = _readme(spec.title, f"The data of the chart “{spec.title}” ({theme.title}).", link,
                                    credits, described, notes).encode("utf-8")
    return DataPackage(_zip(members), f"{theme_slug}-{chart_id}.zip", list(members))


# ------------------------------------------------------------------------------------------ layers
def _layer_frame(service, layer):
    """A GeoDataFrame of the layer's features as shown: name, code, value, class, geometry."""
    import geopandas as gpd
    import shapely

    from explorer.maps.layer_geometry import geometry_payload

    doc = json.loads(geometry_payload(service, layer.dataset_id, layer.resource_id, "geojson"))
    features = doc.get("features") or []
    index = [int(f["properties"]["_i"]) for f in features]
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in features]) if features else []
    data = {"name": [f["properties"].get("_name") for f in features],
            "code": [f["properties"].get("_code") for f in features]}
    style = layer.style
    if layer.values is not None and layer.variable:
        values = [layer.values[i] if i < len(layer.values) else None for i in index]
        data[layer.variable] = pd.array(values, dtype="Float64")
        if style.get("mode") == "classes":
            classification = style["classification"]
            data["class"] = [None if v is None else style["labels"][classification.class_of(v)] for v in values]
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=4326)


def _gpkg(frame, layer_name: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layer.gpkg"
        frame.to_file(path, driver="GPKG", layer=layer_name)
        return path.read_bytes()


def layer_package(search: str | None, service, base_url: str | None = None) -> DataPackage:
    from explorer.maps.layers import parse_state
    from explorer.export.chart_image import DEFAULT_BASE_URL, ExportUnavailable
    from explorer.export.map_figure import _resolve_layer

    state = parse_state(search, lambda d: service.registry.get(d) is not None)
    link = f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/map{state.to_search()}"
    members: dict[str, bytes] = {}
    described: dict[str, str] = {}
    sources, credits, notes = [], [], list(state.notices)
    for spec in state.layers:
        if spec.hidden:
            continue
        try:
            layer = _resolve_layer(service, spec)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"{spec.dataset} was left out: {getattr(exc, 'reason', None) or exc}")
            continue
        frame = _layer_frame(service, layer)
        stem = f"{layer.dataset_id}-{layer.resource_id}"
        what = f"{layer.title}" + (f": {layer.variable}" if layer.variable else "")
        if layer.step:
            what += f", {layer.step}"
        if layer.filters:
            what += ", " + ", ".join(f"{k} = {v}" for k, v in layer.filters.items())
        members[f"{stem}.csv"] = _csv(pd.DataFrame(frame.drop(columns="geometry")))
        members[f"{stem}.geojson"] = frame.to_json(drop_id=True).encode("utf-8")
        members[f"{stem}.gpkg"] = _gpkg(frame, stem)
        described[f"{stem}.csv"] = f"{what}: one row per feature (name, code, value, class)"
        described[f"{stem}.geojson"] = "the same features with the geometry drawn on the map (EPSG:4326, simplified for display)"
        described[f"{stem}.gpkg"] = "the same as a GeoPackage"
        credits.append(layer.credit)
        prov = layer.loaded.provenance.to_dict()
        geography = layer.loaded.geography.to_dict() if layer.loaded.geography is not None else None
        record = _source_record(layer.credit, {"provenance": prov, "geography": geography,
                                               "resource_id": layer.resource_id})
        record.update({"variable": layer.variable, "year": layer.step, "filter": layer.filters,
                       "features": int(len(frame)), "files": [f"{stem}.csv", f"{stem}.geojson", f"{stem}.gpkg"],
                       "classes": {k: v for k, v in layer.style.items() if k != "classification"}})
        sources.append(record)
    if not members:
        raise ExportUnavailable("the map link has no visible layer with data to download"
                                + (f" ({'; '.join(notes)})" if notes else ""))
    provenance = {
        "export": {"kind": "layers", "permalink": link, "created_at": utc_now_iso(), "app": APP},
        "sources": sources,
        "transformations": ["geometry as drawn on the map: simplified for the screen and rounded to 5 decimal "
                            "places of a degree (about 1 m)"],
        "files": _digests(members),
    }
    members["provenance.json"] = json.dumps(provenance, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    title = "Map layers: " + ", ".join(c.title for c in credits)
    members["README.txt"] = _readme(title, "The data of the map's visible layers, as shown.", link, credits,
                                    described, notes).encode("utf-8")
    return DataPackage(_zip(members), "map-layers.zip", list(members))
