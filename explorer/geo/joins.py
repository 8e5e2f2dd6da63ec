"""From a registry entry to a clean, joined, provenance-carrying frame.

``DataService.load(dataset_id)`` resolves the resource (local folder → store → download), reads
it with the loaders, and when it is a table with GSS codes joins it to the boundary set its codes
match best, recording every step in the provenance. Results are cached: in-process for speed and
in flask-caching (filesystem or Redis) so another process does not load the same layer again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from explorer.data.cache import cache_key, cached
from explorer.data.memo import Memos
from explorer.catalogue.models import Entry, Resource
from explorer.catalogue.registry import Registry
from explorer.settings import Settings

log = logging.getLogger(__name__)


class DatasetError(Exception):
    """A dataset that cannot be loaded, with the stage that failed and a reason a person can read."""

    def __init__(self, dataset_id: str, stage: str, reason: str):
        self.dataset_id = dataset_id
        self.stage = stage
        self.reason = reason
        super().__init__(f"{dataset_id}: {reason}")


@dataclass
class LoadedDataset:
    entry: Entry
    resource: Resource
    frame: Any                      # DataFrame, or GeoDataFrame in EPSG:4326
    kind: str                       # table | points | polygons | lines
    geometry_type: str | None
    source_crs: str | None
    provenance: Any                 # explorer.data.provenance.Provenance
    geography: Any = None           # explorer.geo.geography.JoinReport when joined
    join_error: str | None = None   # why a table with codes could not be joined
    code_columns: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return int(len(self.frame))

    @property
    def is_spatial(self) -> bool:
        return "geometry" in getattr(self.frame, "columns", []) and hasattr(self.frame, "crs")

    @property
    def crs(self) -> str | None:
        if not self.is_spatial or self.frame.crs is None:
            return None
        epsg = self.frame.crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else self.frame.crs.to_string()

    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns if c != "geometry"]

    def numeric_columns(self) -> list[str]:
        from explorer.data.loaders import numeric_columns
        return numeric_columns(self.frame)

    def summary(self) -> dict:
        """The stable JSON of `explorer data load --json`."""
        out: dict = {
            "id": self.entry.id,
            "title": self.entry.title,
            "resource": self.resource.id,
            "rows": self.rows,
            "columns": self.columns(),
            "numeric_columns": self.numeric_columns(),
            "kind": self.kind,
            "geometry_type": self.geometry_type,
            "crs": self.crs,
            "source_crs": self.source_crs,
            "geography": self.geography.to_dict() if self.geography is not None else None,
            "join_error": self.join_error,
            "provenance": self.provenance.to_dict(),
        }
        if self.is_spatial and self.rows:
            minx, miny, maxx, maxy = (float(v) for v in self.frame.total_bounds)
            out["bounds"] = [round(minx, 6), round(miny, 6), round(maxx, 6), round(maxy, 6)]
        return out

    def preview(self, n: int = 20) -> pd.DataFrame:
        frame = self.frame.head(n)
        if "geometry" in frame.columns:
            frame = pd.DataFrame(frame.drop(columns="geometry"))
        return frame


class DataService:
    """Loads registry datasets; shared by the CLI, the app and the tests."""

    def __init__(self, settings: Settings, registry: Registry, cache=None, resolver=None,
                 boundaries=None, memory_items: int = 24):
        from explorer.geo.geography import BoundaryRegistry
        from explorer.data.resolver import Resolver

        self.settings = settings
        self.registry = registry
        self.cache = cache
        self.resolver = resolver or Resolver(settings)
        self.boundaries = boundaries or BoundaryRegistry.bundled()
        # every memo derived from this service's data (map layers, charts, images) lives here, on
        # the app, so a second app in the same process has its own (explorer.data.memo)
        self.memos = Memos()
        self._datasets = self.memos.table("datasets", memory_items)          # loaded frames
        self._codes = self.memos.table("boundary_codes", 64)    # boundary set codes, read without geometry
        self._derived = self.memos.table("derived_boundaries", 8)   # derived boundary sets, built once
        # Called with each entry before its files are fetched or loaded; raises to refuse (the web
        # app installs explorer.publishing's check for shared and closed entries; the CLI none).
        self.access_guard = None

    # ------------------------------------------------------------------------------------------
    def entry(self, dataset_id: str) -> Entry:
        entry = self.registry.get(dataset_id)
        if entry is None:
            raise DatasetError(dataset_id, "registry", f"no dataset {dataset_id!r} in the registry")
        return entry

    def fetch(self, dataset_id: str, resource_id: str | None = None, force: bool = False):
        from explorer.data.resolver import ResolveError

        entry = self.entry(dataset_id)
        self._guard(entry)
        try:
            resource = entry.resource(resource_id)
        except LookupError as exc:
            raise DatasetError(dataset_id, "registry", str(exc)) from None
        try:
            return self.resolver.fetch(entry, resource.id, force=force)
        except ResolveError as exc:
            raise DatasetError(dataset_id, "resolve", str(exc)) from None

    def availability(self, dataset_id: str) -> list[dict]:
        entry = self.entry(dataset_id)
        return [{"resource": r.id, **self.resolver.where(entry, r.id)} for r in entry.resources]

    def load(self, dataset_id: str, resource_id: str | None = None, join: bool | str = True) -> LoadedDataset:
        """Load a resource; ``join`` joins a table with area codes to its boundaries. ``join="long"``
        keeps every row of a long table (an area repeated over years): each row gets its area's
        geometry, for the map's year slider; the default refuses such tables with the reason."""
        entry = self.entry(dataset_id)
        self._guard(entry)
        try:
            resource = entry.resource(resource_id)
        except LookupError as exc:
            raise DatasetError(dataset_id, "registry", str(exc)) from None
        key = cache_key("dataset", entry.id, resource.id, join, entry.content_hash(),
                        str(self.settings.data_dir), 1)
        # one load per dataset at a time; others wait and share the result
        return self._datasets.get(key, lambda: cached(self.cache, key,
                                                      lambda: self._load(entry, resource, join)))

    def _guard(self, entry: Entry) -> None:
        if self.access_guard is not None and entry.access_level != "open":
            self.access_guard(entry)

    def load_entry(self, entry: Entry, resource_id: str | None = None, join: bool | str = True) -> LoadedDataset:
        """Load a resource of an entry that need not be in the registry yet (a publisher's draft,
        or a join choice being tried), uncached, exactly as :meth:`load` would."""
        try:
            resource = entry.resource(resource_id)
        except LookupError as exc:
            raise DatasetError(entry.id, "registry", str(exc)) from None
        return self._load(entry, resource, join)

    # ------------------------------------------------------------------------------------------
    def _load(self, entry: Entry, resource: Resource, join: bool | str) -> LoadedDataset:
        from explorer.geo.geography import JoinError, detect_code_columns, join_to_boundaries
        from explorer.data.loaders import LoadError, geometry_type, load_file
        from explorer.data.resolver import ResolveError

        try:
            resolved = self.resolver.resolve(entry, resource.id)
        except ResolveError as exc:
            raise DatasetError(entry.id, "resolve", str(exc)) from None
        try:
            loaded = load_file(resolved.path, resource)
        except LoadError as exc:
            raise DatasetError(entry.id, "load", str(exc)) from None
        provenance = resolved.provenance
        for step in loaded.transformations:
            provenance = provenance.with_transformation(step)
        frame = loaded.frame
        kind = loaded.kind
        report = None
        join_error = None
        codes = [c.column for c in detect_code_columns(pd.DataFrame(frame.drop(columns="geometry"))
                                                        if "geometry" in frame.columns else frame)]
        if join and kind == "table" and codes:
            options = resource.options or {}
            try:
                frame, report = join_to_boundaries(
                    frame, self.boundaries, self._boundary_frame,
                    code_column=options.get("code_column"),
                    boundary_set=options.get("boundary"),
                    aggregate="long" if join == "long" else options.get("aggregate"),
                    boundary_codes=self._boundary_codes,
                )
                kind = "polygons"
                provenance = provenance.with_transformation(
                    f"joined to {report.boundary_set} ({report.level} {report.year}) on "
                    f"{report.code_column}: {report.matched:,} matched, {report.unmatched:,} unmatched"
                    f" ({report.match_rate:.1%})")
                for note in report.notes:
                    provenance = provenance.with_transformation(note)
                bset = self.boundaries.get(report.boundary_set)
                if bset.derived:
                    for step in self.derived_boundary(bset).steps:
                        provenance = provenance.with_transformation(step)
            except JoinError as exc:
                join_error = str(exc)
            except DatasetError as exc:
                join_error = f"the boundaries could not be loaded: {exc.reason}"
        return LoadedDataset(
            entry=entry, resource=resource, frame=frame, kind=kind,
            geometry_type=geometry_type(frame), source_crs=loaded.source_crs,
            provenance=provenance, geography=report, join_error=join_error, code_columns=codes,
        )

    def boundary_frame(self, boundary_set):
        """The features of a boundary set: its file's frame, or the shapes a derived set is built to."""
        return self._boundary_frame(boundary_set)

    def _boundary_frame(self, boundary_set):
        if boundary_set.derived:
            return self.derived_boundary(boundary_set).frame
        loaded = self.load(boundary_set.dataset_id, boundary_set.resource_id, join=False)
        return loaded.frame

    def _derived_key(self, boundary_set, what: str) -> str:
        ids = [boundary_set.dataset_id, self.boundaries.get(boundary_set.derived_from.parts).dataset_id]
        for item in boundary_set.derived_from.names:
            kind, ident = next(iter(item.items()))
            ids.append(self.boundaries.get(ident).dataset_id if kind == "set" else ident)
        hashes = [self.entry(i).content_hash() for i in ids]
        return cache_key("derived-boundary", what, boundary_set.to_dict(), hashes,
                         str(self.settings.data_dir), 1)

    def _derived_value(self, boundary_set, what: str, memo, compute):
        """``compute()`` for a derived set, made once (other threads wait), kept in ``memo`` (a
        table of the app's memos) and in the app's cache; a derivation that fails is a DatasetError
        naming the set's lookup."""
        from explorer.geo.derived_boundaries import DerivationError

        key = self._derived_key(boundary_set, what)
        try:
            return memo.get(key, lambda: cached(self.cache, key, compute))
        except DerivationError as exc:
            raise DatasetError(boundary_set.dataset_id, "derive", str(exc)) from None

    def derived_boundary(self, boundary_set):
        """A derived boundary set (``derived_from`` in geodata/boundaries.yaml) built from its inputs,
        kept in this process and in the app's cache: :class:`explorer.geo.derived_boundaries.DerivedBoundary`."""
        from explorer.geo import derived_boundaries

        return self._derived_value(boundary_set, "shapes", self._derived,
                                   lambda: derived_boundaries.build(self, boundary_set))

    def _boundary_codes(self, boundary_set) -> list[str]:
        """The codes of a boundary set, read without geometry when the file allows (cached per
        set): enough to tell which set a table matches before loading any geometry. A derived
        set's codes come from its lookup alone, without building its shapes."""
        if boundary_set.derived:
            from explorer.geo import derived_boundaries

            return self._derived_value(boundary_set, "codes", self._codes,
                                       lambda: derived_boundaries.target_codes(self, boundary_set))
        entry = self.entry(boundary_set.dataset_id)
        try:
            resource = entry.resource(boundary_set.resource_id)
        except LookupError as exc:
            raise DatasetError(entry.id, "registry", str(exc)) from None
        key = cache_key("boundary-codes", entry.id, resource.id, boundary_set.code_column,
                        entry.content_hash(), str(self.settings.data_dir), 1)
        return self._codes.get(key, lambda: cached(self.cache, key,
                                                   lambda: self._read_codes(entry, resource, boundary_set)))

    # Vector files whose attribute table GDAL reads alone, and the resource options that leave
    # its values as the loader would give them (the others change what is read: fall back).
    _CODE_ONLY_SUFFIXES = (".shp", ".gpkg", ".geojson", ".fgb")
    _CODE_ONLY_OPTIONS = frozenset({"layer", "encoding", "crs", "code_column", "name_column"})

    def _read_codes(self, entry: Entry, resource: Resource, boundary_set) -> list[str]:
        options = resource.options or {}
        if not resource.archive_member and set(options) <= self._CODE_ONLY_OPTIONS:
            try:
                path = self.resolver.resolve(entry, resource.id).path
                if path.is_file() and path.suffix.lower() in self._CODE_ONLY_SUFFIXES:
                    import pyogrio

                    from explorer.data.loaders._safety import check_vector_file

                    check_vector_file(path)   # GDAL locked down; the content is what it says

                    table = pyogrio.read_dataframe(
                        path, layer=options.get("layer") or None, columns=[boundary_set.code_column],
                        read_geometry=False, encoding=options.get("encoding") or None)
                    return [str(c) for c in table[boundary_set.code_column].dropna()]
            except Exception as exc:  # any surprise: the full load below says what is wrong
                log.debug("codes of %s not read alone (%s); loading the frame", boundary_set.id, exc)
        return self._boundary_frame(boundary_set)[boundary_set.code_column].tolist()
