"""JKAN portals (the static, Jekyll-based open data portal some boroughs run).

Two ways in:

* the portal's ``data.json`` — Project Open Data / DCAT-US 1.1, which every JKAN site serves:
  ``{"conformsTo": ".../project-open-data...", "dataset": [{title, description, identifier,
  keyword, modified, publisher: {name}, contactPoint, license, theme, landingPage,
  distribution: [{title, downloadURL | accessURL, format, mediaType}]}]}``;
* its source: a folder (the repository, or its ``_datasets`` folder) of ``_datasets/*.md`` files
  whose YAML front matter holds ``title``, ``organization``, ``notes``, ``resources`` (``name``,
  ``url``, ``format``), ``license``, ``category`` and ``maintainer``. A dataset with no ``id`` gets
  a stable one from its file name.

A file that cannot be read or whose front matter is not a mapping is rejected with its name; the
other datasets are stored. At most ``MAX_FILES`` files of at most ``MAX_FILE_BYTES`` each are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from explorer.catalogue.models import EntryError, slugify
from explorer.guards.textsafe import html_to_markdown

from explorer.catalogue.harvest.sources import HarvestError, normalise_format, parse_yaml, text_field, title_of

MAX_FILES = 20000
MAX_FILE_BYTES = 1024 * 1024
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)


def datasets_folder(source: str) -> Path | None:
    """The ``_datasets`` folder of a JKAN source folder (the folder itself or its child)."""
    path = Path(source)
    if not path.is_dir():
        return None
    if path.name == "_datasets":
        return path
    child = path / "_datasets"
    return child if child.is_dir() else None


def looks_like_data_json(doc: object) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("dataset"), list)
            and ("conformsTo" in doc or "@type" in doc or "describedBy" in doc
                 or any(isinstance(d, dict) and "distribution" in d for d in doc["dataset"][:5])))


def _licence(value: object) -> tuple[str, str | None]:
    if isinstance(value, dict):
        return (title_of(value) or ""), (value.get("url") if isinstance(value.get("url"), str) else None)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if re.match(r"https?://", text):
            return "", text
        return text, None
    return "", None


def _as_list(value: object) -> list:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _words(values: object, field: str, entry_id: str | None) -> list[str]:
    out = []
    for value in _as_list(values):
        if isinstance(value, dict):
            value = title_of(value)
        if value is None:
            continue
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise EntryError(field, f"expected text, got {type(value).__name__}", entry_id)
        text = str(value).strip()
        if text:
            out.append(text)
    return out


def _resources(items: object, entry_id: str, url_keys: tuple[str, ...], name_keys: tuple[str, ...]) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise EntryError("resources", f"expected a list, got {type(items).__name__}", entry_id)
    out = []
    for i, res in enumerate(items):
        where = f"resources[{i}]"
        if not isinstance(res, dict):
            raise EntryError(where, f"expected a mapping, got {type(res).__name__}", entry_id)
        url = next((res[k] for k in url_keys if isinstance(res.get(k), str) and res[k].strip()), None)
        title = next((res[k] for k in name_keys if isinstance(res.get(k), str) and res[k].strip()), None)
        declared = res.get("format") or res.get("mediaType")
        out.append({"id": f"r{i + 1}", "url": url.strip() if url else None, "title": (title or "").strip(),
                    "format": normalise_format(declared, url or "", title or ""),
                    "description": html_to_markdown(res.get("description") if isinstance(res.get("description"), str) else "")})
    return out


def _entry(record: dict, entry_id: str, label: str, *, notes_key: str, publisher: object,
           resources: list[dict], themes: object, tags: object, licence: object,
           maintainer: object, page: str | None, updated: object) -> dict:
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise EntryError("title", "missing or empty", entry_id)
    notes = record.get(notes_key)
    if notes is not None and not isinstance(notes, str):
        raise EntryError(notes_key, f"expected text, got {type(notes).__name__}", entry_id)
    licence_title, licence_url = _licence(licence)
    extras = {}
    contact = title_of(maintainer) if not isinstance(maintainer, str) else maintainer.strip()
    if contact:
        extras["maintainer"] = contact
    return {
        "id": entry_id, "title": title.strip(), "description": html_to_markdown(notes or ""),
        "publisher": title_of(publisher) or "", "licence": licence_title, "licence_url": licence_url,
        "themes": [slugify(t) for t in _words(themes, "category", entry_id)],
        "tags": _words(tags, "keyword", entry_id), "access_level": "open",
        "updated": str(updated) if isinstance(updated, (str, int)) and str(updated).strip() else None,
        "upstream_url": page, "resources": resources, "source": label, "extras": extras,
    }


def entry_dicts_from_folder(source: str, label: str) -> Iterator[tuple[str | None, dict | Exception]]:
    folder = datasets_folder(source)
    if folder is None:
        raise HarvestError(source, "is a folder without _datasets/: not a JKAN portal's source")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".md", ".markdown") and p.is_file())
    if not files:
        raise HarvestError(source, "_datasets/ holds no .md files")
    if len(files) > MAX_FILES:
        raise HarvestError(source, f"_datasets/ holds {len(files):,} files, over the limit of {MAX_FILES:,}")
    for path in files:
        stable = slugify(path.stem) or "dataset"
        hint = stable
        try:
            if path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
                raise EntryError("file", f"{path.name}: a link or larger than {MAX_FILE_BYTES:,} bytes", hint)
            text = path.read_bytes().decode("utf-8-sig")
            match = _FRONT_MATTER.match(text)
            if not match:
                raise EntryError("front matter", f"{path.name}: no YAML front matter between --- lines", hint)
            try:
                meta = parse_yaml(match.group(1).encode("utf-8"), path.name)
            except HarvestError as exc:
                raise EntryError("front matter", exc.message, hint) from None
            if not isinstance(meta, dict):
                raise EntryError("front matter", f"{path.name}: expected a mapping, got {type(meta).__name__}", hint)
            raw_id = text_field(meta, "id", hint) or text_field(meta, "identifier", hint)
            entry_id = slugify(raw_id) if raw_id else stable
            body = text[match.end():].strip()
            if not meta.get("notes") and body:
                meta = {**meta, "notes": body}
            yield entry_id, _entry(
                meta, entry_id, label, notes_key="notes", publisher=meta.get("organization"),
                resources=_resources(meta.get("resources"), entry_id, ("url", "downloadURL"), ("name", "title")),
                themes=meta.get("category"), tags=meta.get("tags") or meta.get("keywords"),
                licence=meta.get("license"), maintainer=meta.get("maintainer") or meta.get("maintainer_email"),
                page=None, updated=meta.get("modified") or meta.get("updated"))
        except Exception as exc:  # noqa: BLE001 - one bad file never loses the others
            if isinstance(exc, EntryError):
                yield hint, exc
            else:
                yield hint, EntryError("file", f"{path.name}: {type(exc).__name__}: {exc}", hint)


def entry_dicts_from_data_json(doc: object, label: str, source: str) -> Iterator[tuple[str | None, dict | Exception]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("dataset"), list):
        raise HarvestError(source, "expected a Project Open Data data.json: an object with a 'dataset' list")
    for index, record in enumerate(doc["dataset"]):
        if not isinstance(record, dict):
            yield f"#{index}", EntryError("dataset", f"expected an object, got {type(record).__name__}")
            continue
        raw_id = None
        try:
            raw_id = text_field(record, "identifier", None)
            title = record.get("title") if isinstance(record.get("title"), str) else ""
            entry_id = slugify(raw_id.rstrip("/").rsplit("/", 1)[-1]) if raw_id else slugify(title)
            if not entry_id:
                raise EntryError("identifier", "missing, and no title to make one from", None)
            page = record.get("landingPage") if isinstance(record.get("landingPage"), str) else None
            yield entry_id, _entry(
                record, entry_id, label, notes_key="description", publisher=record.get("publisher"),
                resources=_resources(record.get("distribution"), entry_id, ("downloadURL", "accessURL"), ("title",)),
                themes=record.get("theme"), tags=record.get("keyword"), licence=record.get("license"),
                maintainer=record.get("contactPoint"), page=page, updated=record.get("modified"))
        except Exception as exc:  # noqa: BLE001 - one bad record never loses the others
            yield raw_id or f"#{index}", exc
