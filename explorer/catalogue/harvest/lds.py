"""London Datastore (data.london.gov.uk) harvester.

Reads the v3 export (``GET /api/v3/datasets/export.json``: a JSON list of datasets with
``resources`` as a list, ``masthead``/``team``, ``topics``, ``sharing``, ``webpage`` …) and the
single-dataset answer of ``GET /api/dataset/{id}`` (``resources`` as an object keyed by id).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from explorer.catalogue.models import EntryError, slugify
from explorer.guards.textsafe import html_to_markdown

from explorer.catalogue.harvest.sources import (
    HarvestError, checksum_from, normalise_format, normalise_geography, parse_bool, parse_size,
    text_field, title_of,
)

SITE = "https://data.london.gov.uk"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")
_LDS_MARKERS = ("sharing", "masthead", "team", "webpage", "topics", "createdAt", "updatedAt",
                "nextReviewDate", "custom")
# Keys no CKAN or DCAT record has.
_LDS_STRONG = ("sharing", "masthead", "createdAt", "updatedAt", "nextReviewDate", "webpage")

# Sharing values → (access level, note)
_SHARING = {
    "public": ("open", ""),
    "open": ("open", ""),
    "shared": ("shared", "Shared on the London Datastore with named organisations only; ask the publisher for access."),
    "restricted": ("shared", "Restricted on the London Datastore; ask the publisher for access."),
    "registered": ("shared", "Available to registered London Datastore users; sign in to download."),
    "private": ("closed", "Private on the London Datastore: not available outside the publishing team."),
    "draft": ("closed", "A draft on the London Datastore: not published yet."),
}


def looks_like_record(obj: object) -> bool:
    if not isinstance(obj, dict):
        return False
    if isinstance(obj.get("resources"), dict):
        return True
    if any(key in obj for key in _LDS_STRONG):
        return True
    return sum(1 for key in _LDS_MARKERS if key in obj) >= 2


def records(doc: object, source: str) -> list:
    """The dataset records of an export list or of a single dataset object."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in ("datasets", "results", "data"):
            if isinstance(doc.get(key), list):
                return doc[key]
        if "id" in doc or "title" in doc:
            return [doc]
    raise HarvestError(source, f"not a London Datastore export: expected a list of datasets or one dataset object, got {type(doc).__name__}")


def entry_dicts(doc: object, label: str, source: str) -> Iterator[tuple[str | None, dict | Exception]]:
    for record in records(doc, source):
        hint = record.get("id") if isinstance(record, dict) and isinstance(record.get("id"), str) else None
        try:
            yield hint, to_entry_dict(record, label)
        except Exception as exc:  # noqa: BLE001 - one bad entry never loses the others
            yield hint, exc


def _custom(record: dict) -> dict:
    custom = record.get("custom")
    return custom if isinstance(custom, dict) else {}


def _first(record: dict, *keys: str) -> object:
    custom = _custom(record)
    for key in keys:
        for place in (record, custom):
            value = place.get(key)
            if value not in (None, "", [], {}):
                return value
    return None


def _licence(value: object, entry_id: str) -> tuple[str, str | None]:
    if value is None or value == "":
        return "", None
    if isinstance(value, str):
        if re.match(r"^https?://", value, re.I):
            return "", value.strip()
        return value.strip(), None
    if isinstance(value, dict):
        title = title_of(value) or ""
        url = value.get("url") or value.get("href") or None
        if url is not None and not isinstance(url, str):
            raise EntryError("licence.url", f"expected text, got {type(url).__name__}", entry_id)
        return title, (url.strip() or None) if url else None
    raise EntryError("licence", f"expected text or an object, got {type(value).__name__}", entry_id)


def _resources(record: dict, entry_id: str) -> tuple[list[dict], str | None, str | None]:
    raw = record.get("resources")
    if raw is None:
        raw = []
    if isinstance(raw, dict):
        items = []
        for rid, res in raw.items():
            if isinstance(res, dict):
                res = {"id": rid, **res}
            items.append(res)
        items.sort(key=lambda r: (r.get("order") if isinstance(r, dict) and isinstance(r.get("order"), (int, float)) else 1e9))
    elif isinstance(raw, list):
        items = raw
    else:
        raise EntryError("resources", f"expected a list or an object, got {type(raw).__name__}", entry_id)
    out: list[dict] = []
    starts: list[str] = []
    ends: list[str] = []
    for index, res in enumerate(items):
        where = f"resources[{index}]"
        if not isinstance(res, dict):
            raise EntryError(where, f"expected an object, got {type(res).__name__}", entry_id)
        url = res.get("url")
        if url is not None and not isinstance(url, str):
            raise EntryError(f"{where}.url", f"expected text, got {type(url).__name__}", entry_id)
        title = text_field(res, "title", entry_id, f"{where}.title") or ""
        filename = text_field(res, "filename", entry_id, f"{where}.filename") or ""
        size = res.get("size")
        if size in (None, ""):
            size = res.get("check_size")
        description = res.get("description")
        if description is not None and not isinstance(description, str):
            raise EntryError(f"{where}.description", f"expected text, got {type(description).__name__}", entry_id)
        fmt = res.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise EntryError(f"{where}.format", f"expected text, got {type(fmt).__name__}", entry_id)
        options: dict = {}
        if filename:
            options["filename"] = filename
        for key, bucket in (("timeframeFrom", starts), ("timeframeTo", ends)):
            value = res.get(key)
            if isinstance(value, str) and value.strip():
                bucket.append(value.strip())
        out.append({
            "id": str(res.get("id") or f"r{index + 1}"),
            "url": url.strip() if isinstance(url, str) and url.strip() else None,
            "title": title or filename,
            "format": normalise_format(fmt, filename, url or "", title),
            "size": parse_size(size, f"{where}.size", entry_id),
            "checksum": checksum_from(res.get("hash")),
            "description": html_to_markdown(description or "", base_url=SITE),
            "options": options,
        })
    start = min(starts) if starts else None
    end = max(ends) if ends else None
    return out, start, end


def to_entry_dict(record: object, label: str) -> dict:
    """One export record → the dict ``Entry.from_dict`` takes (raises EntryError when malformed)."""
    if not isinstance(record, dict):
        raise EntryError("entry", f"expected an object, got {type(record).__name__}")
    raw_id = record.get("id")
    if raw_id is None or raw_id == "":
        raise EntryError("id", "missing", None)
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise EntryError("id", f"expected text, got {type(raw_id).__name__}", None)
    raw_id = str(raw_id).strip()
    entry_id = raw_id if _ID_RE.match(raw_id) else slugify(raw_id)
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise EntryError("title", "missing or empty" if title in (None, "") else f"expected text, got {type(title).__name__}", entry_id)
    description = record.get("description")
    if description is not None and not isinstance(description, str):
        raise EntryError("description", f"expected text, got {type(description).__name__}", entry_id)

    extras: dict = {}
    if entry_id != raw_id:
        extras["lds_id"] = raw_id

    masthead = title_of(record.get("masthead"))
    team = title_of(record.get("team"))
    publisher = masthead or team or text_field(record, "publisher", entry_id) or ""
    if team and team != publisher:
        extras["team"] = team

    sharing_raw = record.get("sharing")
    if sharing_raw is not None and not isinstance(sharing_raw, str):
        raise EntryError("sharing", f"expected text, got {type(sharing_raw).__name__}", entry_id)
    sharing = (sharing_raw or "public").strip().lower()
    access, note = _SHARING.get(sharing, ("shared", f"London Datastore sharing is {sharing!r}; ask the publisher for access."))
    if sharing not in ("public", "open"):
        extras["sharing"] = sharing
    contact = record.get("contact")
    if isinstance(contact, str) and contact.strip():
        extras["contact"] = contact.strip()
        if note:
            note = f"{note} Contact: {contact.strip()}"
    elif isinstance(contact, dict) and contact:
        extras["contact"] = contact

    licence, licence_url = _licence(record.get("licence", record.get("license")), entry_id)
    resources, start, end = _resources(record, entry_id)

    webpage = record.get("webpage") or record.get("landing_page")
    if webpage is not None and not isinstance(webpage, str):
        raise EntryError("webpage", f"expected text, got {type(webpage).__name__}", entry_id)
    if not webpage and entry_id:
        webpage = f"{SITE}/dataset/{raw_id}" if _ID_RE.match(raw_id) else None

    custom = _custom(record)
    geography_label = _first(record, "london_smallest_geography", "smallest_geography", "smallestGeography")
    if isinstance(geography_label, dict):
        geography_label = geography_label.get("smallest_geography")
    if geography_label is not None and not isinstance(geography_label, str):
        raise EntryError("smallest_geography", f"expected text, got {type(geography_label).__name__}", entry_id)
    if geography_label:
        extras["smallest_geography_label"] = geography_label
    quality = _first(record, "data_quality", "dataQuality")
    archived = parse_bool(_first(record, "archived"), "archived", entry_id)
    frequency = _first(record, "update_frequency", "updateFrequency", "frequency")
    if frequency is not None and not isinstance(frequency, str):
        raise EntryError("update_frequency", f"expected text, got {type(frequency).__name__}", entry_id)
    if record.get("nextReviewDate"):
        extras["next_review_date"] = record["nextReviewDate"]
    if custom:
        extras["custom"] = custom
    links = record.get("links")
    if isinstance(links, list) and links:
        extras["links"] = links

    temporal = record.get("temporal_coverage") if isinstance(record.get("temporal_coverage"), dict) else {}

    return {
        "id": entry_id,
        "title": title,
        "description": html_to_markdown(description or record.get("summary") or "", base_url=SITE),
        "publisher": publisher,
        "licence": licence,
        "licence_url": licence_url,
        "themes": record.get("topics"),
        "tags": record.get("tags"),
        "access_level": access,
        "access_note": note,
        "update_frequency": frequency,
        "created": record.get("createdAt") or record.get("metadata_created"),
        "updated": record.get("updatedAt") or record.get("metadata_modified"),
        "temporal_start": temporal.get("from") or start,
        "temporal_end": temporal.get("to") or end,
        "smallest_geography": normalise_geography(geography_label),
        "quality_score": quality,
        "upstream_url": webpage or None,
        "archived": archived,
        "resources": resources,
        "source": label,
        "extras": extras,
    }
