"""Harvest catalogue sources into the registry.

``harvest(source, registry, settings)`` reads a SOURCE — a file path, an http(s) URL, or the word
``bundled`` — as one of four kinds (London Datastore export ``lds``, ``ckan``, ``dcat`` JSON-LD,
``bundled``), converts each dataset to an :class:`~explorer.catalogue.models.Entry` and stores it.

* A malformed entry (bad field types, missing title or id, a non-http URL, a resource URL that
  ``check_url`` refuses) is rejected with the field named; the others are stored, and a rejected
  entry never overwrites one already stored.
* A source that cannot be read as a whole (missing, not JSON, truncated, wrong shape, HTTP error,
  unsafe URL) raises :class:`HarvestError` naming it; nothing is written.
* All writes happen in one registry transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

from explorer.catalogue.models import Entry, EntryError
from explorer.guards.netguard import UnsafeURLError, check_syntax, check_url

from explorer.catalogue.harvest import bundled, ckan, dcat, jkan, lds
from explorer.catalogue.harvest.report import HarvestReport, Rejection
from explorer.catalogue.harvest.sources import HarvestError, is_url, load_document, short_name

__all__ = ["KINDS", "HarvestError", "HarvestReport", "Rejection", "harvest", "detect_kind",
           "source_label"]

KINDS = ("lds", "ckan", "dcat", "jkan", "bundled")

Progress = Callable[[int, int], None]


def source_label(source: str, kind: str) -> str:
    """The short label stored on entries: 'bundled', 'lds:export.json', 'ckan:host' …"""
    if source == "bundled":
        return "bundled"
    return f"{kind}:{short_name(source)}"


def detect_kind(doc: object, source: str) -> str:
    """Tell the kind of a parsed catalogue document (raise HarvestError when it cannot)."""
    if isinstance(doc, dict):
        if "@context" in doc or "@graph" in doc or dcat.looks_like_dcat(doc):
            return "dcat"
        if "success" in doc and "result" in doc:
            return "ckan"
        if bundled.looks_like_bundled(doc):
            sample = [item for item in doc["datasets"][:20] if isinstance(item, dict)]
            if sample and sum(map(lds.looks_like_record, sample)) > len(sample) / 2:
                return "lds"
            return "bundled"
        if lds.looks_like_record(doc):
            return "lds"
        if ckan.looks_like_package(doc):
            return "ckan"
    elif isinstance(doc, list):
        sample = [item for item in doc[:20] if isinstance(item, dict)]
        if not doc:
            raise HarvestError(source, "is an empty list: no datasets to harvest")
        if sample:
            scores = {
                "lds": sum(lds.looks_like_record(item) for item in sample),
                "ckan": sum(ckan.looks_like_package(item) for item in sample),
                "dcat": sum(dcat.looks_like_dcat(item) for item in sample),
            }
            best = max(scores, key=lambda k: scores[k])
            if scores[best]:
                return best
    raise HarvestError(source, "cannot tell what kind of catalogue this is "
                               f"(expected one of {', '.join(KINDS)}); pass kind explicitly")


def _check_kind(kind: str | None, source: str) -> str | None:
    if kind is None:
        return None
    value = str(kind).strip().lower()
    if value not in KINDS:
        raise HarvestError(source, f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    return value


def _items(source: str, settings, kind: str | None, page_size: int | None,
           progress: Progress | None) -> tuple[str, str, Iterable]:
    """(kind, label, iterator of (id hint, entry dict or exception))."""
    if source == "bundled" and kind in (None, "bundled"):
        doc = bundled.load_default()
        return "bundled", "bundled", bundled.entry_dicts(doc, "bundled", "bundled catalogue")
    if is_url(source):
        scheme = source.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise HarvestError(source, f"only http(s) URLs and local files can be harvested, not {scheme}://")
        try:
            check_url(source, allow_private=settings.allow_private_urls)
        except UnsafeURLError as exc:
            raise HarvestError(source, f"refused URL: {exc}") from None
        path = urlsplit(source).path.lower()
        if kind == "ckan" and not path.endswith((".json", ".jsonld")) or (
                kind is None and ckan.looks_like_api_url(source)):
            packages = ckan.fetch_packages(source, settings, page_size=page_size, progress=progress)
            label = source_label(source, "ckan")
            site = ckan.site_of(ckan.api_base(source))
            return "ckan", label, ckan.entry_dicts(packages, label, site)
    if not is_url(source) and kind == "jkan" and Path(source).is_dir() or (
            kind is None and not is_url(source) and jkan.datasets_folder(source) is not None):
        label = source_label(source, "jkan")
        return "jkan", label, jkan.entry_dicts_from_folder(source, label)
    doc = load_document(source, settings)
    if kind == "jkan":
        label = source_label(source, "jkan")
        return "jkan", label, jkan.entry_dicts_from_data_json(doc, label, source)
    kind = kind or detect_kind(doc, source)
    label = source_label(source, kind)
    if kind == "lds":
        return kind, label, lds.entry_dicts(doc, label, source)
    if kind == "ckan":
        return kind, label, ckan.entry_dicts(ckan.packages_from_document(doc, source), label)
    if kind == "dcat":
        return kind, label, dcat.entry_dicts(doc, label, source)
    return kind, label, bundled.entry_dicts(doc, label, source)


class _URLChecker:
    """check_url for resource URLs, remembering the verdict per scheme/host/port."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private
        self._verdicts: dict[tuple, str | None] = {}

    def __call__(self, url: str) -> str | None:
        """None when the URL may be fetched, else the reason."""
        try:
            parts = check_syntax(url)   # malformed or parser-confusing: refused on its own
        except UnsafeURLError as exc:
            return str(exc)
        key = (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port)
        if key not in self._verdicts:
            try:
                check_url(url, allow_private=self.allow_private)
                self._verdicts[key] = None
            except UnsafeURLError as exc:
                # Keep the reason without the first URL so it reads right for every URL on the host.
                self._verdicts[key] = str(exc).split(": ", 1)[-1]
        reason = self._verdicts[key]
        return None if reason is None else f"{url[:120]!r}: {reason}"


def harvest(source: str, registry, settings, kind: str | None = None,
            progress: Progress | None = None, *, page_size: int | None = None) -> HarvestReport:
    """Harvest ``source`` into ``registry``; return what was added, updated, unchanged, rejected.

    ``progress(done, total)`` is called as entries are stored (and while CKAN pages are read).
    ``page_size`` sets the rows per CKAN ``package_search`` page (default 100).
    """
    source = str(source)
    kind = _check_kind(kind, source)
    kind, label, items = _items(source, settings, kind, page_size, progress)
    report = HarvestReport(source=source, kind=kind, label=label)
    checker = _URLChecker(bool(getattr(settings, "allow_private_urls", False)))

    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for index, (hint, payload) in enumerate(items):
        fallback = hint or f"#{index}"
        if isinstance(payload, Exception):
            report.rejected.append(_rejection(label, payload, fallback))
            continue
        try:
            entry = Entry.from_dict(payload)
            problem = _url_problem(entry, checker)
        except Exception as exc:  # noqa: BLE001 - one bad entry never loses the others
            report.rejected.append(_rejection(label, exc, fallback))
            continue
        if problem:
            report.rejected.append(Rejection(label, entry.id, problem[0], f"refused URL {problem[1]}"))
            continue
        if entry.id in seen:
            report.rejected.append(Rejection(label, entry.id, "id",
                                             f"duplicate id: also dataset #{seen[entry.id]} of this source"))
            continue
        seen[entry.id] = index
        entries.append(entry)

    total = len(entries)
    from explorer.catalogue.merge import Merger  # one dataset from two sources is one entry

    merger = Merger(registry, label)
    with registry.transaction():
        for done, entry in enumerate(entries, start=1):
            for stored in merger(entry):
                report.record(registry.upsert(stored), stored.id)
            if progress is not None:
                progress(done, total)
    return report


def _url_problem(entry: Entry, checker: _URLChecker) -> tuple[str, str] | None:
    """(field, reason) of the first resource URL the guard refuses, else None."""
    for r_index, res in enumerate(entry.resources):
        for field_name, url in (("url", res.url), ("upstream_url", res.upstream_url)):
            if url:
                reason = checker(url)
                if reason:
                    return f"resources[{r_index}].{field_name}", reason
    return None


def _rejection(label: str, exc: Exception, fallback: str) -> Rejection:
    if isinstance(exc, EntryError):
        return Rejection(label, exc.entry_id or fallback, exc.field, exc.message)
    return Rejection(label, fallback, "entry", f"{type(exc).__name__}: {exc}")
