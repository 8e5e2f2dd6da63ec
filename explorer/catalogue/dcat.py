"""Export the registry as a DCAT-AP style JSON-LD catalogue (the same shape the DCAT harvester reads)."""

from __future__ import annotations

import json

from explorer.catalogue.models import Entry

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

_MEDIA_TYPES = {
    "csv": "text/csv", "tsv": "text/tab-separated-values", "geojson": "application/geo+json",
    "json": "application/json", "topojson": "application/json", "gpkg": "application/geopackage+sqlite3",
    "zip": "application/zip", "shp": "application/x-shapefile", "tab": "application/x-mapinfo",
}


def entry_jsonld(entry: Entry, base_url: str) -> dict:
    dataset: dict = {
        "@id": f"{base_url}/dataset/{entry.id}",
        "@type": "dcat:Dataset",
        "dct:identifier": entry.id,
        "dct:title": entry.title,
        "dct:description": entry.description,
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": entry.publisher} if entry.publisher else None,
        "dct:license": entry.licence_url or entry.licence or None,
        "dct:rights": entry.attribution or None,
        "dcat:keyword": entry.tags,
        "dcat:theme": entry.themes,
        "dct:issued": entry.created,
        "dct:modified": entry.updated,
        "dct:accrualPeriodicity": entry.update_frequency,
        "dcat:landingPage": entry.upstream_url,
        "dct:accessRights": entry.access_level,
        "dcat:distribution": [],
    }
    if entry.temporal_start or entry.temporal_end:
        dataset["dct:temporal"] = {"@type": "dct:PeriodOfTime", "dcat:startDate": entry.temporal_start,
                                   "dcat:endDate": entry.temporal_end}
    for res in entry.resources:
        dist: dict = {
            "@type": "dcat:Distribution",
            "dct:identifier": res.id,
            "dct:title": res.title or res.id,
            "dcat:downloadURL": res.url,
            "dcat:accessURL": res.upstream_url or res.url,
            "dct:format": res.format or None,
            "dcat:mediaType": _MEDIA_TYPES.get(res.format),
            "dcat:byteSize": res.size,
        }
        if res.checksum and res.checksum.startswith("sha256:"):
            dist["spdx:checksum"] = {"@type": "spdx:Checksum", "spdx:algorithm": "spdx:checksumAlgorithm_sha256",
                                     "spdx:checksumValue": res.checksum.split(":", 1)[1]}
        dataset["dcat:distribution"].append({k: v for k, v in dist.items() if v not in (None, "", [])})
    return {k: v for k, v in dataset.items() if v not in (None, "", [])}


def catalogue_jsonld(entries: list[Entry], base_url: str) -> str:
    doc = {
        "@context": CONTEXT,
        "@id": f"{base_url}/catalogue.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": "London Data Explorer registry",
        "dcat:dataset": [entry_jsonld(e, base_url) for e in entries],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)
