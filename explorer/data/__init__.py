"""Data: from a registry resource to a local file and a clean frame.

Owns ``resolver`` (a resource → a local file with its provenance), ``download`` (one URL → one
file, carefully), ``archive`` (safe extraction), ``provenance`` (where a file came from and what was
done to it), ``cache`` (flask-caching, filesystem or Redis) and ``loaders`` (every file format →
normalised pandas/geopandas frames).

May import ``explorer.settings``, ``explorer.guards``, ``explorer.db`` and ``explorer.catalogue``;
never ``geo``, ``maps``, ``themes``, ``export``, ``publishing``, ``accounts`` or ``web``.
"""
