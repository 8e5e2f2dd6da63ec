"""The start-up check of the theme files: every dataset, resource and column a theme names exists.

:func:`checked_themes` loads every theme file in ``geodata/themes`` and checks it against the
registry and, when a local data folder is there, against the data: a theme that names a dataset,
resource or column that does not exist stops the start with the file, the line and the field.
Columns can only be checked against data, so with no local data folder only the registry is
checked (and problems are logged, not raised): the app must still start offline with nothing
downloaded, and then each chart says why it cannot be drawn.

The columns are read by :class:`ColumnsOnly` from the files held locally (never downloaded), the
first rows of a plain delimited file only, and kept in the app's cache; the result of a check is
kept on the app's memos (``services.data.memos``), keyed by the theme files and the registry
content hashes they read, so a second check of unchanged files reads nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from explorer.geo.joins import DatasetError
from explorer.themes.theme_files import Theme, ThemeError, load_themes, validate_theme

log = logging.getLogger(__name__)

CHECKS = ("theme-checks", 16)     # memo table: the check's warnings, per theme files and data


class _Columns:
    """A stand-in for a loaded dataset: only its columns, which is all the check reads."""

    def __init__(self, columns: list[str]):
        import pandas as pd
        self.frame = pd.DataFrame(columns=columns)


class ColumnsOnly:
    """What the start-up check needs from the data: each file's columns.

    Read from the file held locally (the data folder or the store; never downloaded: a start must
    not wait on the network), without joining it to boundaries (the slow part of a load), and kept
    in the app's cache (filesystem or Redis), so a restart reads nothing. A resource that is not
    held locally raises DatasetError, which ``validate_theme`` reports as a warning: its chart will
    say why it cannot be drawn. A joined load adds ``area_code`` and ``area_name``.

    A plain delimited text file (most of the data) is read only as far as its first rows, by the
    loader's own readers, so its columns are named as a full load names them (tens of ms for a
    file of tens of thousands of rows become a few). Those columns are all in the full load, which may
    have more (an unnamed column empty in the first rows is dropped from them), so
    ``validate_theme`` asks the unjoined load (``join=False``, the whole file) before it calls a
    column missing.
    """

    JOIN_COLUMNS = ["area_code", "area_name"]
    HEAD_BYTES = 32 * 1024

    def __init__(self, services):
        self._data = services.data
        self._cache = services.cache
        self._data_dir = str(services.settings.data_dir)

    def load(self, dataset_id, resource_id=None, join=True):
        from explorer.data.cache import cache_key, cached

        entry = self._data.entry(dataset_id)
        try:
            resource = entry.resource(resource_id)
        except LookupError as exc:
            raise DatasetError(dataset_id, "registry", str(exc)) from None
        if self._data.resolver.where(entry, resource.id).get("available") not in ("local", "store"):
            raise DatasetError(dataset_id, "resolve", f"{dataset_id}/{resource.id} is not held locally")
        if not join:   # every column of the file
            key = cache_key("theme-check-columns", 1, entry.id, resource.id, entry.content_hash(), self._data_dir)
            return _Columns(list(cached(self._cache, key, lambda: self._read(entry, resource))))
        key = cache_key("theme-check-head-columns", 2, entry.id, resource.id, entry.content_hash(), self._data_dir)
        columns = cached(self._cache, key, lambda: self._read(entry, resource, head=True))
        return _Columns(list(columns) + self.JOIN_COLUMNS)

    def _read(self, entry, resource, head: bool = False) -> list[str]:
        from explorer.data.loaders import LoadError, load_file
        from explorer.data.resolver import ResolveError

        try:
            resolved = self._data.resolver.resolve(entry, resource.id)
            if head:
                columns = self._head_columns(Path(resolved.path), resource)
                if columns is not None:
                    return columns
            frame = load_file(resolved.path, resource).frame
        except (ResolveError, LoadError) as exc:
            raise DatasetError(entry.id, "load", str(exc)) from None
        return [str(c) for c in frame.columns if c != "geometry"]

    def _head_columns(self, path: Path, resource) -> list[str] | None:
        """The columns of a plain (not zipped, not gzipped) CSV/TSV file from its first rows, as
        the loader names them; None for any other file or when the first rows cannot be read
        alone (the whole file is read then)."""
        from explorer.data.loaders import normalise_format
        from explorer.data.loaders._spreadsheet import published_table
        from explorer.data.loaders._tables import GZIP_MAGIC, find_wkt_column, read_delimited, tidy_frame
        from explorer.catalogue.models import guess_format

        fmt = normalise_format(resource.format) or guess_format(path.name)
        if fmt not in ("csv", "tsv", "txt") or resource.archive_member or not path.is_file():
            return None
        with open(path, "rb") as fh:
            raw = fh.read(self.HEAD_BYTES)
            whole = not fh.read(1)
        if raw[:2] == GZIP_MAGIC or raw[:4] == b"PK\x03\x04":
            return None
        if not whole:
            cut = raw.rfind(b"\n")
            if cut <= 0:
                return None
            raw = raw[:cut + 1]
        options = dict(resource.options or {})
        try:
            frame = read_delimited(raw, path.name, fmt, options, [])
            if options.get("published_table"):     # headers cleaned as a full load cleans them
                frame = published_table(frame, path.name, options, [])
            frame = tidy_frame(frame, path.name, options, [])
        except Exception:  # noqa: BLE001 - e.g. a quoted field cut in two: read the whole file
            return None
        wkt = options.get("wkt") or find_wkt_column(frame)
        return [str(c) for c in frame.columns if c not in ("geometry", wkt)]

    def __getattr__(self, name):
        return getattr(self._data, name)


def _check_key(services, themes: list[Theme], full: bool) -> tuple:
    registry = services.registry
    files = []
    for theme in themes:
        try:
            st = theme.path.stat()
            files.append((str(theme.path), st.st_mtime_ns, st.st_size))
        except OSError:
            files.append((str(theme.path), 0, 0))
    hashes = []
    for theme in themes:
        for ds in theme.dataset_ids() + [layer["dataset"] for layer in theme.map_layers]:
            entry = registry.get(ds)
            hashes.append((ds, entry.content_hash() if entry is not None else None))
    return (tuple(files), tuple(sorted(set(hashes), key=str)), str(services.settings.data_dir), full)


def checked_themes(services, folder: Path | None = None) -> list[Theme]:
    """Load every theme file and check it against the registry and, when a local data folder is
    there, against the data (every column named must exist).

    Raises ThemeError (file, line, field) for a theme file that cannot be read or, with data,
    names a missing dataset, resource or column. Without a data folder the registry check still
    runs but only logs what it finds, so the app starts offline with no data.
    """
    themes = load_themes(folder)
    data_dir = services.settings.data_dir
    full = bool(data_dir) and Path(data_dir).is_dir()
    checks = services.data.memos.table(*CHECKS)
    key = _check_key(services, themes, full)
    if key in checks:
        return themes
    warnings: list[str] = []
    for theme in themes:
        if full:
            warnings += validate_theme(theme, services.registry, ColumnsOnly(services))
        else:
            try:
                warnings += validate_theme(theme, services.registry, None)
            except ThemeError as exc:
                log.warning("theme %s cannot be shown as written (no data folder to check against): %s",
                            theme.slug, exc)
    for warning in warnings:
        log.info("theme check: %s", warning)
    checks.put(key, warnings)
    return themes
