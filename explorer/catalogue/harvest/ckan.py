"""CKAN harvester: a live action API (paged ``package_search``) or a saved API answer.

Keeps the Data for London Library extras (``update_frequency``, ``london_smallest_geography``,
``data_quality``, ``archived``, ``upstream_url``), whether they are top-level package fields or
``extras: [{key, value}]``, mapping them onto Entry fields and keeping them in ``extras`` too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

from explorer.catalogue.models import EntryError
from explorer.guards.textsafe import html_to_markdown

from explorer.catalogue.harvest.sources import (
    HarvestError, _session, checksum_from, fetch_bytes, normalise_format, normalise_geography, parse_bool,
    parse_json, parse_size, text_field, title_of,
)

PAGE_ROWS = 100
MAX_PAGES = 10_000
DFL_EXTRAS = ("update_frequency", "london_smallest_geography", "data_quality", "archived", "upstream_url")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")
_CKAN_MARKERS = ("notes", "license_title", "license_id", "num_resources", "organization",
                 "owner_org", "metadata_modified", "private", "maintainer")


# ---------------------------------------------------------------------------------------------
# Where to read from
# ---------------------------------------------------------------------------------------------

def api_base(url: str) -> str:
    """The action API base (ending in '/api/3/action/') for a site or API URL."""
    parts = urlsplit(url)
    path = parts.path or ""
    marker = re.search(r"/api(/3)?/action(/|$)", path)
    if marker:
        path = path[: marker.start()]
    path = path.rstrip("/") + "/api/3/action/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def site_of(base: str) -> str:
    return base.split("/api/3/action/")[0].rstrip("/")


def looks_like_api_url(url: str) -> bool:
    """True for a site root or an action-API URL (not a saved .json document)."""
    path = urlsplit(url).path or ""
    if re.search(r"/api(/3)?/action(/|$)", path):
        return True
    return path.strip("/") == ""


def looks_like_package(obj: object) -> bool:
    return isinstance(obj, dict) and sum(1 for key in _CKAN_MARKERS if key in obj) >= 2


def _result(doc: object, where: str) -> object:
    if not isinstance(doc, dict):
        raise HarvestError(where, f"not a CKAN API answer: expected an object, got {type(doc).__name__}")
    if doc.get("success") is False:
        error = doc.get("error")
        if isinstance(error, dict):
            error = error.get("message") or error.get("__type") or json.dumps(error)[:200]
        raise HarvestError(where, f"CKAN reported an error: {error or 'success: false'}")
    if "result" not in doc:
        raise HarvestError(where, "not a CKAN API answer: no 'result'")
    return doc["result"]


def packages_from_document(doc: object, source: str) -> list:
    """Packages of a saved package_search / package_show / package list document."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and "result" not in doc and looks_like_package(doc):
        return [doc]
    result = _result(doc, source)
    if isinstance(result, dict):
        if isinstance(result.get("results"), list):
            return result["results"]
        if looks_like_package(result) or "resources" in result:
            return [result]
    if isinstance(result, list):
        if result and all(isinstance(item, str) for item in result):
            raise HarvestError(source, "is a package_list (names only): harvest the CKAN API URL instead")
        return result
    raise HarvestError(source, "not a CKAN package_search or package_show answer")


def fetch_packages(url: str, settings, page_size: int | None = None,
                   progress: Callable[[int, int | None], None] | None = None) -> list[dict]:
    """Page through ``package_search`` until ``count`` packages are read."""
    base = api_base(url)
    rows = max(1, int(page_size or PAGE_ROWS))
    packages: list = []
    seen: set[str] = set()
    start = 0
    count: int | None = None
    session = _session(settings)  # one connection pool for all pages
    try:
        for _page in range(MAX_PAGES):
            query = urlencode({"rows": rows, "start": start, "sort": "name asc"})
            page_url = f"{base}package_search?{query}"
            body = fetch_bytes(page_url, settings, source=url, session=session)
            doc = parse_json(body, f"{url} (package_search start={start})")
            result = _result(doc, f"{url} (package_search start={start})")
            if not isinstance(result, dict) or not isinstance(result.get("results"), list):
                raise HarvestError(url, f"package_search start={start}: no 'results' list in the answer")
            if count is None:
                raw_count = result.get("count")
                if isinstance(raw_count, bool) or not isinstance(raw_count, int) or raw_count < 0:
                    raise HarvestError(url, f"package_search: 'count' is not a number: {raw_count!r}")
                count = raw_count
            results = result["results"]
            for pkg in results:
                key = pkg.get("id") or pkg.get("name") if isinstance(pkg, dict) else None
                if isinstance(key, str):
                    if key in seen:
                        continue
                    seen.add(key)
                packages.append(pkg)
            start += len(results)
            if progress is not None:
                progress(len(packages), count)
            if not results or start >= count:
                break
        else:
            raise HarvestError(url, f"gave up after {MAX_PAGES} pages of package_search")
    finally:
        session.close()
    return packages


# ---------------------------------------------------------------------------------------------
# Package → entry dict
# ---------------------------------------------------------------------------------------------

def entry_dicts(packages: list, label: str, site: str | None = None) -> Iterator[tuple[str | None, dict | Exception]]:
    for pkg in packages:
        hint = None
        if isinstance(pkg, dict):
            hint = next((pkg[k] for k in ("name", "id") if isinstance(pkg.get(k), str) and pkg[k]), None)
        try:
            yield hint, to_entry_dict(pkg, label, site)
        except Exception as exc:  # noqa: BLE001 - one bad entry never loses the others
            yield hint, exc


def _extras(pkg: dict, entry_id: str) -> dict:
    raw = pkg.get("extras")
    if raw in (None, "", []):
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    if not isinstance(raw, list):
        raise EntryError("extras", f"expected a list of {{key, value}}, got {type(raw).__name__}", entry_id)
    out: dict = {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise EntryError(f"extras[{index}]", "expected an object with a 'key'", entry_id)
        out[item["key"]] = item.get("value")
    return out


def _resources(pkg: dict, entry_id: str) -> list[dict]:
    raw = pkg.get("resources") or []
    if not isinstance(raw, list):
        raise EntryError("resources", f"expected a list, got {type(raw).__name__}", entry_id)
    out = []
    for index, res in enumerate(raw):
        where = f"resources[{index}]"
        if not isinstance(res, dict):
            raise EntryError(where, f"expected an object, got {type(res).__name__}", entry_id)
        if res.get("state") == "deleted":
            continue
        url = res.get("url")
        if url is not None and not isinstance(url, str):
            raise EntryError(f"{where}.url", f"expected text, got {type(url).__name__}", entry_id)
        name = text_field(res, "name", entry_id, f"{where}.name") or ""
        description = res.get("description")
        if description is not None and not isinstance(description, str):
            raise EntryError(f"{where}.description", f"expected text, got {type(description).__name__}", entry_id)
        fmt = res.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise EntryError(f"{where}.format", f"expected text, got {type(fmt).__name__}", entry_id)
        out.append({
            "id": str(res.get("id") or f"r{index + 1}"),
            "url": (url or "").strip() or None,
            "title": name,
            "format": normalise_format(fmt or res.get("mimetype"), url or "", name),
            "size": parse_size(res.get("size"), f"{where}.size", entry_id),
            "checksum": checksum_from(res.get("hash")),
            "description": html_to_markdown(description or ""),
        })
    return out


def to_entry_dict(pkg: object, label: str, site: str | None = None) -> dict:
    if not isinstance(pkg, dict):
        raise EntryError("entry", f"expected an object, got {type(pkg).__name__}")
    name = text_field(pkg, "name", None)
    ckan_id = text_field(pkg, "id", name)
    entry_id = name if name and _ID_RE.match(name) else ckan_id
    if not entry_id:
        raise EntryError("id", "missing (neither 'name' nor 'id')", None)
    title = pkg.get("title")
    if not isinstance(title, str) or not title.strip():
        raise EntryError("title", "missing or empty" if title in (None, "") else f"expected text, got {type(title).__name__}", entry_id)
    notes = pkg.get("notes")
    if notes is not None and not isinstance(notes, str):
        raise EntryError("notes", f"expected text, got {type(notes).__name__}", entry_id)
    if pkg.get("state") not in (None, "", "active"):
        raise EntryError("state", f"package is {pkg.get('state')!r}, not active", entry_id)

    source_extras = _extras(pkg, entry_id)
    dfl: dict = {}
    for key in DFL_EXTRAS:
        value = pkg.get(key)
        if value in (None, ""):
            value = source_extras.get(key)
        if value not in (None, ""):
            dfl[key] = value
    extras: dict = dict(source_extras)
    extras.update(dfl)
    if ckan_id and ckan_id != entry_id:
        extras["ckan_id"] = ckan_id

    organization = pkg.get("organization")
    publisher = (title_of(organization) if isinstance(organization, dict) else None) \
        or text_field(pkg, "author", entry_id) or text_field(pkg, "maintainer", entry_id) or ""
    for key in ("author", "author_email", "maintainer", "maintainer_email", "version"):
        value = pkg.get(key)
        if isinstance(value, str) and value.strip():
            extras.setdefault(key, value.strip())

    private = parse_bool(pkg.get("private"), "private", entry_id)
    host = urlsplit(site).hostname if site else None
    access_note = ""
    if private:
        where = f" on {host}" if host else ""
        contact = pkg.get("maintainer_email") or pkg.get("author_email")
        access_note = f"Private{where}: ask {publisher or 'the publisher'} for access" + (f" ({contact})." if contact else ".")

    upstream = dfl.get("upstream_url") or pkg.get("url") or None
    if upstream is not None and not (isinstance(upstream, str) and re.match(r"^https?://", upstream.strip(), re.I)):
        if "upstream_url" in dfl:
            raise EntryError("upstream_url", f"not an http(s) URL: {str(upstream)[:80]!r}", entry_id)
        upstream = None  # CKAN's free-text 'url' (Source) is often not a link
    if upstream is None and site and name:
        upstream = f"{site}/dataset/{name}"

    quality = dfl.get("data_quality")
    if quality is not None:
        try:
            quality = float(quality)
        except (TypeError, ValueError):
            raise EntryError("data_quality", f"not a number: {str(quality)[:40]!r}", entry_id) from None
        if not 0 <= quality <= 5:
            raise EntryError("data_quality", f"must be between 0 and 5, got {quality:g}", entry_id)
    geography_label = dfl.get("london_smallest_geography") or source_extras.get("smallest_geography")
    if geography_label is not None and not isinstance(geography_label, str):
        raise EntryError("london_smallest_geography", f"expected text, got {type(geography_label).__name__}", entry_id)
    frequency = dfl.get("update_frequency") or source_extras.get("frequency") or source_extras.get("accrual_periodicity")

    def extra_date(*keys: str) -> object:
        for key in keys:
            value = pkg.get(key) if pkg.get(key) not in (None, "") else source_extras.get(key)
            if value not in (None, ""):
                return value
        return None

    return {
        "id": entry_id,
        "title": title,
        "description": html_to_markdown(notes or ""),
        "publisher": publisher,
        "licence": text_field(pkg, "license_title", entry_id) or text_field(pkg, "license_id", entry_id) or "",
        "licence_url": text_field(pkg, "license_url", entry_id),
        "themes": pkg.get("groups"),
        "tags": pkg.get("tags"),
        "access_level": "closed" if private else "open",
        "access_note": access_note,
        "update_frequency": frequency,
        "created": pkg.get("metadata_created"),
        "updated": pkg.get("metadata_modified"),
        "temporal_start": extra_date("temporal_coverage_from", "temporal_start"),
        "temporal_end": extra_date("temporal_coverage_to", "temporal_end"),
        "smallest_geography": normalise_geography(geography_label),
        "quality_score": quality,
        "upstream_url": upstream.strip() if isinstance(upstream, str) else None,
        "archived": parse_bool(dfl.get("archived"), "archived", entry_id),
        "resources": _resources(pkg, entry_id),
        "source": label,
        "extras": extras,
    }
