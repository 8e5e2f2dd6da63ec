"""Data: from a registry resource to a local file and a clean frame.

Owns ``resolver`` (a resource → a local file with its provenance), ``download`` (one URL → one
file, carefully), ``archive`` (safe extraction), ``provenance`` (where a file came from and what was
done to it), ``cache`` (flask-caching, filesystem or Redis: what processes share), ``memo`` (the
bounded, thread-safe in-process memos that live on each app's ``DataService``:
``service.memos.table(name, size).get(key, compute)``) and ``loaders`` (every file format →
normalised pandas/geopandas frames), and ``geo_reference`` (EPSG:27700 and the GSS code pattern,
defined once for the loaders and every floor above).

May import ``explorer.settings``, ``explorer.guards``, ``explorer.db`` and ``explorer.catalogue``;
never ``geo``, ``maps``, ``themes``, ``export``, ``publishing``, ``accounts`` or ``web``.
"""
