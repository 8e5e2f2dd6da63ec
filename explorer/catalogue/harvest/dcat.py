"""DCAT harvester for JSON-LD catalogues.

Accepts a ``dcat:Catalog`` with ``dcat:dataset``, a document with ``@graph`` (nodes may refer to
each other by ``@id``), a list of datasets, or a DCAT-US style ``data.json``. Keys may be
prefixed (``dct:title``), full IRIs (``http://purl.org/dc/terms/title``), plain compact terms
(``title``) or terms defined in the document's ``@context``. This is a pragmatic reading of
JSON-LD, not a full expansion algorithm.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from explorer.catalogue.models import EntryError, slugify
from explorer.guards.textsafe import html_to_markdown

from explorer.catalogue.harvest.sources import HarvestError, normalise_format, parse_size

DCT = "http://purl.org/dc/terms/"
DC = "http://purl.org/dc/elements/1.1/"
DCAT = "http://www.w3.org/ns/dcat#"
FOAF = "http://xmlns.com/foaf/0.1/"
SPDX = "http://spdx.org/rdf/terms#"
VCARD = "http://www.w3.org/2006/vcard/ns#"
SCHEMA = "http://schema.org/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"

PREFIXES = {
    "dct": DCT, "dcterms": DCT, "dc": DC, "dcat": DCAT, "foaf": FOAF, "spdx": SPDX, "vcard": VCARD,
    "schema": SCHEMA, "rdfs": RDFS, "skos": SKOS, "adms": "http://www.w3.org/ns/adms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#", "owl": "http://www.w3.org/2002/07/owl#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "locn": "http://www.w3.org/ns/locn#",
}

# Plain keys (no prefix, no @context) as used by compact exports and DCAT-US data.json.
COMPACT = {
    **{k: DCT + k for k in ("title", "description", "publisher", "license", "modified", "issued",
                            "temporal", "identifier", "format", "accessRights", "accrualPeriodicity",
                            "spatial", "rights", "creator", "language", "conformsTo")},
    **{k: DCAT + k for k in ("keyword", "theme", "landingPage", "distribution", "downloadURL",
                             "accessURL", "mediaType", "byteSize", "dataset", "startDate", "endDate",
                             "contactPoint", "Dataset", "Catalog", "Distribution")},
    "name": FOAF + "name", "checksum": SPDX + "checksum", "algorithm": SPDX + "algorithm",
    "checksumValue": SPDX + "checksumValue", "prefLabel": SKOS + "prefLabel", "label": RDFS + "label",
    "fn": VCARD + "fn", "hasEmail": VCARD + "hasEmail",
}

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")

# EU data-theme codes (publications.europa.eu authority table) → labels.
EU_THEMES = {
    "AGRI": "Agriculture, fisheries, forestry and food", "ECON": "Economy and finance",
    "EDUC": "Education, culture and sport", "ENER": "Energy", "ENVI": "Environment",
    "GOVE": "Government and public sector", "HEAL": "Health", "INTR": "International issues",
    "JUST": "Justice, legal system and public safety", "REGI": "Regions and cities",
    "SOCI": "Population and society", "TECH": "Science and technology", "TRAN": "Transport",
}

# EU frequency codes and ISO 8601 repeating durations → models.UPDATE_FREQUENCIES keys.
FREQUENCIES = {
    "DAILY": "daily", "WEEKLY": "weekly", "MONTHLY": "monthly", "QUARTERLY": "quarterly",
    "ANNUAL_2": "biannual", "BIANNUAL": "biannual", "ANNUAL": "annual", "BIENNIAL": "biennial",
    "TRIENNIAL": "triennial", "IRREG": "irregular", "IRREGULAR": "irregular", "NEVER": "one-off",
    "UNKNOWN": "unknown", "CONT": "daily", "UPDATE_CONT": "daily",
    "R/P1D": "daily", "R/P1W": "weekly", "R/P1M": "monthly", "R/P3M": "quarterly",
    "R/P6M": "biannual", "R/P1Y": "annual", "R/P2Y": "biennial", "R/P3Y": "triennial",
}

KNOWN_LICENCES = (
    ("open-government-licence/version/3", "Open Government Licence v3.0"),
    ("open-government-licence/version/2", "Open Government Licence v2.0"),
    ("creativecommons.org/licenses/by/4.0", "Creative Commons Attribution 4.0"),
    ("creativecommons.org/licenses/by-sa/4.0", "Creative Commons Attribution Share-Alike 4.0"),
    ("creativecommons.org/publicdomain/zero", "CC0 1.0 (public domain)"),
    ("opendatacommons.org/licenses/odbl", "Open Data Commons Open Database License"),
    ("opendatacommons.org/licenses/by", "Open Data Commons Attribution License"),
)

ACCESS_RIGHTS = {"PUBLIC": "open", "RESTRICTED": "shared", "NON_PUBLIC": "closed",
                 "public": "open", "restricted public": "shared", "non-public": "closed"}


class _Reader:
    """Key expansion and node lookup for one JSON-LD document."""

    def __init__(self, doc: object):
        self.prefixes = dict(PREFIXES)
        self.terms: dict[str, str] = {}
        self.vocab: str | None = None
        self.index: dict[str, dict] = {}
        if isinstance(doc, dict):
            self._read_context(doc.get("@context"))

    def _read_context(self, ctx: object) -> None:
        if isinstance(ctx, list):
            for item in ctx:
                self._read_context(item)
            return
        if not isinstance(ctx, dict):
            return  # a remote context URL: not fetched; prefixes/IRIs/compact keys still work
        if isinstance(ctx.get("@vocab"), str):
            self.vocab = ctx["@vocab"]
        for term, value in ctx.items():
            if term.startswith("@"):
                continue
            iri = value.get("@id") if isinstance(value, dict) else value
            if not isinstance(iri, str):
                continue
            if iri.endswith(("/", "#")) and ":" in iri and not iri.startswith(term + ":"):
                self.prefixes[term] = iri
            else:
                self.terms[term] = iri

    def expand(self, key: str) -> str:
        if key.startswith("@"):
            return key
        seen = 0
        while key in self.terms and seen < 5:
            key = self.terms[key]
            seen += 1
        if re.match(r"^https?://", key):
            return key.replace("https://schema.org/", SCHEMA)
        if ":" in key:
            prefix, _, local = key.partition(":")
            if prefix in self.prefixes:
                return self.prefixes[prefix] + local
            return key
        if key in COMPACT:
            return COMPACT[key]
        if self.vocab:
            return self.vocab + key
        return key

    def node(self, obj: object) -> dict | None:
        """A node with expanded keys; follows ``{"@id": …}`` references into the graph."""
        if isinstance(obj, str) and obj in self.index:
            obj = self.index[obj]
        if not isinstance(obj, dict):
            return None
        if set(obj) <= {"@id"} and obj.get("@id") in self.index:
            obj = self.index[obj["@id"]]
        return {self.expand(k): v for k, v in obj.items()}

    def values(self, node: dict, *iris: str) -> list:
        for iri in iris:
            if iri in node and node[iri] not in (None, "", []):
                value = node[iri]
                if isinstance(value, dict) and ("@list" in value or "@set" in value):
                    value = value.get("@list", value.get("@set"))
                return value if isinstance(value, list) else [value]
        return []

    def literal(self, value: object) -> str | None:
        if isinstance(value, list):
            texts = [(self._lang(v), self.literal(v)) for v in value]
            texts = [(lang, t) for lang, t in texts if t]
            for lang, text in texts:
                if lang and lang.lower().startswith("en"):
                    return text
            return texts[0][1] if texts else None
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, str):
            return value.strip() or None
        if isinstance(value, dict):
            if "@value" in value:
                return self.literal(value["@value"])
            if "@id" in value and set(value) <= {"@id", "@type"}:
                return self.literal(value["@id"])
        return None

    @staticmethod
    def _lang(value: object) -> str | None:
        return value.get("@language") if isinstance(value, dict) else None

    def text(self, node: dict, *iris: str) -> str | None:
        return self.literal(self.values(node, *iris))

    def types(self, node: dict) -> set[str]:
        raw = node.get("@type")
        raw = raw if isinstance(raw, list) else [raw]
        return {self.expand(t) for t in raw if isinstance(t, str)}

    def iri(self, value: object) -> str | None:
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict):
            value = value.get("@id") or value.get("@value")
        return value.strip() if isinstance(value, str) and value.strip() else None

    def label(self, value: object) -> str | None:
        """A human label for a value that is a literal or a node (name, title, prefLabel …)."""
        if isinstance(value, list):
            for item in value:
                found = self.label(item)
                if found:
                    return found
            return None
        node = self.node(value)
        if node is not None and set(node) - {"@id", "@type"}:
            return self.text(node, FOAF + "name", SCHEMA + "name", VCARD + "fn", SKOS + "prefLabel",
                             RDFS + "label", DCT + "title", DC + "title")
        return self.literal(value)


def _last_segment(iri: str) -> str:
    tail = re.split(r"[/#]", iri.rstrip("/#"))[-1]
    return tail


def datasets(doc: object, source: str) -> tuple[_Reader, list]:
    """The dataset nodes of a DCAT document (raises HarvestError when there are none)."""
    reader = _Reader(doc)
    if isinstance(doc, dict) and isinstance(doc.get("@graph"), list):
        nodes = doc["@graph"]
    elif isinstance(doc, list):
        nodes = doc
    elif isinstance(doc, dict):
        nodes = [doc]
    else:
        raise HarvestError(source, f"not a DCAT catalogue: expected a JSON-LD object or list, got {type(doc).__name__}")
    for node in nodes:
        if isinstance(node, dict) and isinstance(node.get("@id"), str):
            reader.index[node["@id"]] = node

    found: list = []
    found_ids: set[int] = set()

    def add(obj: object) -> None:
        if isinstance(obj, str) and obj in reader.index:
            obj = reader.index[obj]
        if isinstance(obj, dict) and set(obj) <= {"@id"} and obj.get("@id") in reader.index:
            obj = reader.index[obj["@id"]]
        if id(obj) not in found_ids:
            found_ids.add(id(obj))
            found.append(obj)

    catalogs = 0
    for raw in nodes:
        node = reader.node(raw)
        if node is None:
            continue
        types = reader.types(node)
        if DCAT + "Catalog" in types or DCAT + "dataset" in node:
            catalogs += 1
            for item in reader.values(node, DCAT + "dataset"):
                add(item)
    for raw in nodes:
        node = reader.node(raw)
        if node is not None and DCAT + "Dataset" in reader.types(node):
            add(raw)
    if not found:
        if catalogs:
            raise HarvestError(source, "DCAT catalogue lists no datasets")
        raise HarvestError(source, "not a DCAT catalogue: no dcat:Catalog with dcat:dataset and no dcat:Dataset nodes")
    return reader, found


def looks_like_dcat(doc: object) -> bool:
    if isinstance(doc, dict):
        if "@context" in doc or "@graph" in doc:
            return True
        keys = {str(k) for k in doc}
        if any(k.startswith(("dcat:", "dct:", DCAT, DCT)) for k in keys):
            return True
        t = str(doc.get("@type", ""))
        return "Catalog" in t or "Dataset" in t
    if isinstance(doc, list) and doc and isinstance(doc[0], dict):
        return looks_like_dcat(doc[0])
    return False


def entry_dicts(doc: object, label: str, source: str) -> Iterator[tuple[str | None, dict | Exception]]:
    reader, nodes = datasets(doc, source)
    for raw in nodes:
        hint = None
        try:
            if isinstance(raw, dict):
                node = reader.node(raw) or {}
                hint = reader.text(node, DCT + "identifier") or reader.iri(node.get("@id"))
            yield hint, to_entry_dict(reader, raw, label)
        except Exception as exc:  # noqa: BLE001 - one bad entry never loses the others
            yield hint, exc


def _entry_id(reader: _Reader, node: dict, title: str | None) -> tuple[str, dict]:
    extras: dict = {}
    identifier = reader.text(node, DCT + "identifier", DC + "identifier")
    at_id = reader.iri(node.get("@id"))
    if identifier:
        extras["dcat_identifier"] = identifier
    if at_id:
        extras["dcat_id"] = at_id
    for candidate in (identifier, at_id):
        if not candidate:
            continue
        if _ID_RE.match(candidate):
            return candidate, extras
        if re.match(r"^(https?|urn):", candidate, re.I):
            tail = _last_segment(candidate.split("?")[0])
            if tail and _ID_RE.match(tail) and not re.match(r"^https?:$", tail):
                return tail, extras
    for candidate in (identifier, at_id, title):
        if candidate:
            return slugify(candidate), extras
    raise EntryError("identifier", "missing (no dct:identifier, @id or title)", None)


def _licence(reader: _Reader, node: dict) -> tuple[str, str | None]:
    values = reader.values(node, DCT + "license", DCT + "rights")
    if not values:
        return "", None
    value = values[0]
    iri = reader.iri(value) if isinstance(value, dict) else (value if isinstance(value, str) else None)
    url = iri if iri and re.match(r"^https?://", iri) else None
    title = reader.label(value) if isinstance(value, dict) else None
    if title == iri:
        title = None
    if not title and url:
        title = next((name for key, name in KNOWN_LICENCES if key in url.lower()), "")
    if not title and isinstance(value, str) and not url:
        title = value
    return title or "", url


def _checksum(reader: _Reader, value: object) -> str | None:
    node = reader.node(value[0] if isinstance(value, list) and value else value)
    if node is None:
        return None
    digest = reader.text(node, SPDX + "checksumValue")
    algorithm = reader.text(node, SPDX + "algorithm") or ""
    if not digest:
        return None
    algo = algorithm.lower().rsplit("_", 1)[-1].rsplit("#", 1)[-1].rsplit(":", 1)[-1].replace("-", "")
    if algo not in {"md5", "sha1", "sha256"} or not re.fullmatch(r"[0-9a-fA-F]+", digest):
        return None
    return f"{algo}:{digest.lower()}"


def _format(reader: _Reader, dist: dict) -> str:
    fmt = None
    for value in reader.values(dist, DCT + "format"):
        label = reader.label(value) if isinstance(value, dict) else reader.literal(value)
        if label:
            fmt = _last_segment(label) if re.match(r"^https?://", label) else label
            break
    if not fmt:
        media = reader.literal(reader.values(dist, DCAT + "mediaType", DCAT + "mediatype"))
        if media:
            if re.match(r"^https?://", media):
                parts = media.rstrip("/").split("/")
                media = "/".join(parts[-2:])
            fmt = media
    return fmt or ""


def _resources(reader: _Reader, node: dict, entry_id: str) -> list[dict]:
    out = []
    for index, raw in enumerate(reader.values(node, DCAT + "distribution")):
        where = f"distribution[{index}]"
        dist = reader.node(raw)
        if dist is None:
            url = reader.iri(raw)
            if url is None:
                raise EntryError(where, f"expected an object, got {type(raw).__name__}", entry_id)
            dist = {DCAT + "accessURL": url}
        download = reader.iri(reader.values(dist, DCAT + "downloadURL"))
        access = reader.iri(reader.values(dist, DCAT + "accessURL"))
        url = download or access
        title = reader.text(dist, DCT + "title", DC + "title") or ""
        identifier = reader.text(dist, DCT + "identifier")
        rid = identifier if identifier and _ID_RE.match(identifier) else None
        if rid is None and isinstance(dist.get("@id"), str):
            tail = _last_segment(dist["@id"])
            rid = tail if _ID_RE.match(tail or "") else None
        size_value = reader.literal(reader.values(dist, DCAT + "byteSize"))
        res = {
            "id": rid or f"r{index + 1}",
            "url": url,
            "title": title,
            "format": normalise_format(_format(reader, dist), url or "", title),
            "size": parse_size(size_value, f"{where}.byteSize", entry_id),
            "checksum": _checksum(reader, reader.values(dist, SPDX + "checksum")),
            "description": html_to_markdown(reader.text(dist, DCT + "description", DC + "description") or ""),
        }
        if download and access and access != download:
            res["options"] = {"access_url": access}
        out.append(res)
    return out


def _temporal(reader: _Reader, node: dict) -> tuple[str | None, str | None]:
    for value in reader.values(node, DCT + "temporal"):
        if isinstance(value, str):
            if "/" in value:
                start, _, end = value.partition("/")
                return start.strip() or None, end.strip() or None
            continue
        period = reader.node(value)
        if period is None:
            continue
        start = reader.text(period, DCAT + "startDate", SCHEMA + "startDate")
        end = reader.text(period, DCAT + "endDate", SCHEMA + "endDate")
        if start or end:
            return start, end
    return None, None


def _frequency(reader: _Reader, node: dict) -> str | None:
    value = reader.values(node, DCT + "accrualPeriodicity")
    if not value:
        return None
    text = reader.iri(value) if isinstance(value[0], dict) else reader.literal(value)
    if not text:
        return None
    if text.upper().startswith("R/P"):
        return FREQUENCIES.get(text.upper(), "irregular")
    code = _last_segment(text) if re.match(r"^https?://", text) else text
    return FREQUENCIES.get(code.upper(), code)


def _access(reader: _Reader, node: dict) -> str:
    value = reader.values(node, DCT + "accessRights")
    if value:
        text = reader.iri(value) if isinstance(value[0], dict) else reader.literal(value)
        if text:
            code = _last_segment(text) if re.match(r"^https?://", text) else text
            if code.upper() in ACCESS_RIGHTS:
                return ACCESS_RIGHTS[code.upper()]
    level = node.get("accessLevel")
    if isinstance(level, str) and level.strip().lower() in ACCESS_RIGHTS:
        return ACCESS_RIGHTS[level.strip().lower()]
    return "open"


def to_entry_dict(reader: _Reader, raw: object, label: str) -> dict:
    node = reader.node(raw)
    if node is None:
        raise EntryError("dataset", f"expected an object, got {type(raw).__name__}")
    title_values = reader.values(node, DCT + "title", DC + "title")
    title = reader.literal(title_values)
    entry_id, extras = _entry_id(reader, node, title)
    if not title:
        if title_values and not isinstance(title_values[0], (str, dict)):
            raise EntryError("dct:title", f"expected text, got {type(title_values[0]).__name__}", entry_id)
        raise EntryError("dct:title", "missing or empty", entry_id)

    publisher_values = reader.values(node, DCT + "publisher", DCT + "creator")
    publisher = reader.label(publisher_values) or ""
    if re.match(r"^https?://", publisher):
        extras["publisher_uri"] = publisher
        publisher = ""
    licence, licence_url = _licence(reader, node)
    themes = []
    for value in reader.values(node, DCAT + "theme"):
        name = reader.label(value)
        if name and re.match(r"^https?://", name):
            code = _last_segment(name)
            name = EU_THEMES.get(code, code)
        if name:
            themes.append(name)
    tags = [t for t in (reader.literal(v) for v in reader.values(node, DCAT + "keyword")) if t]
    start, end = _temporal(reader, node)
    landing = reader.iri(reader.values(node, DCAT + "landingPage"))
    contact = reader.values(node, DCAT + "contactPoint")
    if contact:
        name = reader.label(contact)
        email = reader.iri(reader.values(reader.node(contact[0]) or {}, VCARD + "hasEmail"))
        extras["contact"] = {k: v for k, v in (("name", name), ("email", email)) if v}
    spatial = reader.values(node, DCT + "spatial")
    if spatial:
        extras["spatial"] = reader.label(spatial) or reader.iri(spatial)
    access = _access(reader, node)

    return {
        "id": entry_id,
        "title": title,
        "description": html_to_markdown(reader.text(node, DCT + "description", DC + "description") or ""),
        "publisher": publisher,
        "licence": licence,
        "licence_url": licence_url,
        "themes": themes,
        "tags": tags,
        "access_level": access,
        "access_note": "" if access == "open" else "Access is restricted by the publisher (DCAT accessRights).",
        "update_frequency": _frequency(reader, node),
        "created": reader.text(node, DCT + "issued"),
        "updated": reader.text(node, DCT + "modified"),
        "temporal_start": start,
        "temporal_end": end,
        "upstream_url": landing if landing and re.match(r"^https?://", landing) else None,
        "resources": _resources(reader, node, entry_id),
        "source": label,
        "extras": extras,
    }
