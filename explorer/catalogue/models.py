"""The one model of a registry entry and its resources.

Every harvester (bundled catalogue, London Datastore export, CKAN, DCAT) produces plain dicts that
go through ``Entry.from_dict``; that is where fields are checked, so a malformed entry is rejected
with the field named, whatever its source.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

ACCESS_LEVELS = ("open", "shared", "closed")

# Expected update frequencies and their length in days (for "stale" flags).
UPDATE_FREQUENCIES: dict[str, int | None] = {
    "daily": 1,
    "weekly": 7,
    "monthly": 31,
    "quarterly": 92,
    "biannual": 183,
    "annual": 366,
    "biennial": 731,
    "triennial": 1096,
    "irregular": None,
    "one-off": None,
    "unknown": None,
}

_FREQUENCY_ALIASES = {
    "annually": "annual", "yearly": "annual", "every year": "annual", "year": "annual",
    "monthly": "monthly", "month": "monthly", "every month": "monthly",
    "quarterly": "quarterly", "quarter": "quarterly",
    "weekly": "weekly", "week": "weekly", "daily": "daily", "day": "daily",
    "six-monthly": "biannual", "six monthly": "biannual", "biannually": "biannual",
    "every two years": "biennial", "every 2 years": "biennial", "biennially": "biennial",
    "every three years": "triennial", "every 3 years": "triennial",
    "ad hoc": "irregular", "ad-hoc": "irregular", "adhoc": "irregular", "as required": "irregular",
    "irregularly": "irregular", "occasional": "irregular",
    "one off": "one-off", "oneoff": "one-off", "never": "one-off", "static": "one-off",
    "not updated": "one-off", "historic": "one-off", "historical": "one-off",
}

# Smallest geography: canonical levels, coarse to fine.
GEOGRAPHY_LEVELS = ("london", "region", "sub-region", "borough", "ward", "msoa", "lsoa",
                    "output-area", "grid", "point", "site", "none", "other")

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")


class EntryError(ValueError):
    """A catalogue entry cannot be accepted. Names the field that is wrong."""

    def __init__(self, field: str, message: str, entry_id: str | None = None):
        self.field = field
        self.message = message
        self.entry_id = entry_id
        where = f"entry {entry_id!r}, " if entry_id else ""
        super().__init__(f"{where}field {field!r}: {message}")


def slugify(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text.strip().lower()).strip("-")
    return slug[:120] or "dataset"


def normalise_frequency(value: object) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text in UPDATE_FREQUENCIES:
        return text
    return _FREQUENCY_ALIASES.get(text, "irregular" if text else None)


def normalise_date(value: object, field_name: str, entry_id: str | None = None) -> str | None:
    """Return an ISO date (YYYY-MM-DD) or datetime string, or None; raise EntryError if unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if re.fullmatch(r"\d{4}", text):
        return text
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return text
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EntryError(field_name, f"not a date: {text[:40]!r}", entry_id) from None
    return parsed.date().isoformat()


def _str_list(value: object, field_name: str, entry_id: str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,;]", value)]
    if not isinstance(value, (list, tuple)):
        raise EntryError(field_name, f"expected a list of strings, got {type(value).__name__}", entry_id)
    out: list[str] = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("title") or item.get("name") or item.get("display_name") or item.get("id")
        if item is None:
            continue
        if not isinstance(item, (str, int, float)):
            raise EntryError(field_name, f"expected strings, got {type(item).__name__}", entry_id)
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out


@dataclass
class Resource:
    """One file (or archive member) of a dataset."""

    id: str
    url: str | None = None               # where a download fetches it (pinned when possible)
    title: str = ""
    format: str = ""                     # lower-case: csv, tsv, geojson, topojson, gpkg, shp, tab, json, zip…
    size: int | None = None              # bytes
    checksum: str | None = None          # "sha256:<hex>" (or "md5:<hex>" as given by a source)
    archive_member: str | None = None    # member to read when the download is a zip
    local_path: str | None = None        # path relative to a local data folder (EXPLORER_DATA_DIR)
    sidecars: list[str] = field(default_factory=list)  # extra files beside it (shapefile .dbf …)
    upstream_url: str | None = None      # the publisher's own download URL, when `url` is a mirror
    options: dict = field(default_factory=dict)  # loader hints: sep, encoding, layer, x/y, crs …
    description: str = ""

    @classmethod
    def from_dict(cls, data: dict, entry_id: str | None = None, index: int = 0) -> "Resource":
        where = f"resources[{index}]"
        if not isinstance(data, dict):
            raise EntryError(where, "expected an object", entry_id)
        rid = str(data.get("id") or f"r{index + 1}")
        url = data.get("url") or None
        local_path = data.get("local_path") or None
        if url is not None:
            if not isinstance(url, str) or not re.match(r"^(https?|ftp)://", url.strip(), re.I):
                raise EntryError(f"{where}.url", f"not an http(s) URL: {str(url)[:80]!r}", entry_id)
            url = url.strip()
        if local_path is not None:
            lp = str(local_path)
            if lp.startswith("/") or ".." in lp.replace("\\", "/").split("/"):
                raise EntryError(f"{where}.local_path", f"must be relative, without '..': {lp!r}", entry_id)
        if url is None and local_path is None:
            raise EntryError(f"{where}.url", "a resource needs a url or a local_path", entry_id)
        size = data.get("size")
        if size in ("", None):
            size = None
        else:
            try:
                size = int(size)
            except (TypeError, ValueError):
                raise EntryError(f"{where}.size", f"not a number of bytes: {size!r}", entry_id) from None
            if size < 0:
                raise EntryError(f"{where}.size", "negative size", entry_id)
        checksum = data.get("checksum") or None
        if checksum is not None:
            checksum = str(checksum).strip().lower()
            if ":" not in checksum:
                checksum = ("sha256:" if len(checksum) == 64 else "md5:") + checksum
            algo, _, digest = checksum.partition(":")
            if algo not in {"sha256", "md5", "sha1"} or not re.fullmatch(r"[0-9a-f]+", digest):
                raise EntryError(f"{where}.checksum", f"not a checksum: {checksum[:80]!r}", entry_id)
        fmt = str(data.get("format") or "").strip().lower().lstrip(".")
        if not fmt:
            fmt = guess_format(local_path or url or "")
        options = data.get("options") or {}
        if not isinstance(options, dict):
            raise EntryError(f"{where}.options", "expected an object", entry_id)
        return cls(
            id=rid,
            url=url,
            title=str(data.get("title") or data.get("name") or "").strip(),
            format=fmt,
            size=size,
            checksum=checksum,
            archive_member=data.get("archive_member") or None,
            local_path=local_path,
            sidecars=_str_list(data.get("sidecars"), f"{where}.sidecars", entry_id),
            upstream_url=data.get("upstream_url") or None,
            options=dict(options),
            description=str(data.get("description") or ""),
        )


_FORMAT_SUFFIXES = (
    (".geojson.gz", "geojson"), (".json.gz", "json"), (".csv.gz", "csv"), (".tsv.gz", "tsv"),
    (".geojson", "geojson"), (".topojson", "topojson"), (".topo.json", "topojson"),
    (".gpkg", "gpkg"), (".shp", "shp"), (".tab", "tab"), (".csv", "csv"), (".tsv", "tsv"),
    (".json", "json"), (".zip", "zip"), (".xlsx", "xlsx"), (".xlsm", "xlsx"), (".ods", "ods"), (".xls", "xls"), (".pdf", "pdf"),
    (".txt", "txt"), (".fgb", "flatgeobuf"), (".parquet", "parquet"), (".kml", "kml"),
)


def guess_format(path_or_url: str) -> str:
    name = path_or_url.split("?", 1)[0].lower()
    for suffix, fmt in _FORMAT_SUFFIXES:
        if name.endswith(suffix):
            return fmt
    return ""


@dataclass
class Entry:
    """A registry entry: a dataset held by some publisher, described here, not copied."""

    id: str
    title: str
    description: str = ""                # safe Markdown (HTML from sources is converted)
    publisher: str = ""
    licence: str = ""                    # licence title, e.g. "Open Government Licence v3.0"
    licence_url: str | None = None
    attribution: str = ""                # required attribution text
    themes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    access_level: str = "open"           # open / shared / closed
    access_note: str = ""                # how to request access when not open
    update_frequency: str | None = None  # key of UPDATE_FREQUENCIES
    created: str | None = None           # ISO dates
    updated: str | None = None
    temporal_start: str | None = None
    temporal_end: str | None = None
    smallest_geography: str | None = None
    quality_score: float | None = None   # 0–5 (DfL data_quality), None when unknown
    caveats: list[str] = field(default_factory=list)
    upstream_url: str | None = None      # the dataset's page at its publisher
    archived: bool = False
    resources: list[Resource] = field(default_factory=list)
    source: str = ""                     # which harvest source produced it
    extras: dict = field(default_factory=dict)  # kept source fields (units, boundary, variables …)

    # ------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict) -> "Entry":
        if not isinstance(data, dict):
            raise EntryError("entry", f"expected an object, got {type(data).__name__}")
        raw_id = data.get("id")
        title = data.get("title")
        entry_id = str(raw_id) if raw_id not in (None, "") else None
        if not isinstance(title, str) or not title.strip():
            raise EntryError("title", "missing or empty", entry_id)
        if entry_id is None:
            raise EntryError("id", "missing", None)
        if not _ID_RE.match(entry_id):
            raise EntryError("id", f"not a usable identifier: {entry_id[:60]!r}", entry_id)
        access = str(data.get("access_level") or "open").strip().lower()
        if access not in ACCESS_LEVELS:
            raise EntryError("access_level", f"must be one of {', '.join(ACCESS_LEVELS)}, got {access!r}", entry_id)
        quality = data.get("quality_score")
        if quality in ("", None):
            quality = None
        else:
            try:
                quality = float(quality)
            except (TypeError, ValueError):
                raise EntryError("quality_score", f"not a number: {quality!r}", entry_id) from None
            if not 0 <= quality <= 5:
                raise EntryError("quality_score", f"must be between 0 and 5, got {quality}", entry_id)
        raw_resources = data.get("resources") or []
        if not isinstance(raw_resources, list):
            raise EntryError("resources", "expected a list", entry_id)
        resources = [Resource.from_dict(r, entry_id, i) for i, r in enumerate(raw_resources)]
        seen: set[str] = set()
        for i, res in enumerate(resources):
            if res.id in seen:
                res.id = f"{res.id}-{i + 1}"
            seen.add(res.id)
        geography = data.get("smallest_geography")
        geography = str(geography).strip().lower() if geography not in (None, "") else None
        extras = data.get("extras") or {}
        if not isinstance(extras, dict):
            raise EntryError("extras", "expected an object", entry_id)
        for key in ("licence_url", "upstream_url"):
            value = data.get(key)
            if value not in (None, "") and not re.match(r"^https?://", str(value), re.I):
                raise EntryError(key, f"not an http(s) URL: {str(value)[:80]!r}", entry_id)
        return cls(
            id=entry_id,
            title=" ".join(title.split()),
            description=str(data.get("description") or ""),
            publisher=str(data.get("publisher") or "").strip(),
            licence=str(data.get("licence") or "").strip(),
            licence_url=data.get("licence_url") or None,
            attribution=str(data.get("attribution") or "").strip(),
            themes=_str_list(data.get("themes"), "themes", entry_id),
            tags=_str_list(data.get("tags"), "tags", entry_id),
            access_level=access,
            access_note=str(data.get("access_note") or "").strip(),
            update_frequency=normalise_frequency(data.get("update_frequency")),
            created=normalise_date(data.get("created"), "created", entry_id),
            updated=normalise_date(data.get("updated"), "updated", entry_id),
            temporal_start=normalise_date(data.get("temporal_start"), "temporal_start", entry_id),
            temporal_end=normalise_date(data.get("temporal_end"), "temporal_end", entry_id),
            smallest_geography=geography,
            quality_score=quality,
            caveats=_str_list(data.get("caveats"), "caveats", entry_id) if not isinstance(data.get("caveats"), str) else [data["caveats"].strip()],
            upstream_url=data.get("upstream_url") or None,
            archived=bool(data.get("archived") or False),
            resources=resources,
            source=str(data.get("source") or ""),
            extras=dict(extras),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def content_hash(self) -> str:
        """Hash of the content, ignoring where it came from: tells 'updated' from 'unchanged'."""
        data = self.to_dict()
        data.pop("source", None)
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def resource(self, resource_id: str | None = None) -> Resource:
        if not self.resources:
            raise LookupError(f"dataset {self.id!r} has no resources")
        if resource_id is None:
            return self.resources[0]
        for res in self.resources:
            if res.id == resource_id:
                return res
        raise LookupError(f"dataset {self.id!r} has no resource {resource_id!r}")

    @property
    def formats(self) -> list[str]:
        return sorted({r.format for r in self.resources if r.format})

    def staleness(self, today: date | None = None) -> dict | None:
        """Return {'days_old', 'expected_days'} when the entry is older than its update frequency."""
        expected = UPDATE_FREQUENCIES.get(self.update_frequency or "", None)
        if not expected or not self.updated:
            return None
        text = self.updated
        if len(text) == 4:
            text += "-12-31"
        elif len(text) == 7:
            text += "-28"
        try:
            updated = date.fromisoformat(text[:10])
        except ValueError:
            return None
        today = today or date.today()
        age = (today - updated).days
        # Allow a grace of half a period before calling data stale.
        if age > expected * 1.5:
            return {"days_old": age, "expected_days": expected}
        return None
