"""Geography: boundary sets, GSS codes, and joining a table to the right boundaries.

Owns ``geography`` (the boundary sets of ``geodata/boundaries.yaml``, code detection, the
year-aware choice of boundaries), ``derived_boundaries`` (areas of a finer set dissolved by a
lookup), ``joins`` (a registry entry → a clean, joined, provenance-carrying frame: the
``DataService``), ``geometry_payload`` (compact GeoJSON for previews), ``prepare`` (a layer's
shapes simplified and rounded for a screen) and ``geobuf`` (geobuf and GeoJSON encoders).

May import ``explorer.settings``, ``guards``, ``db``, ``catalogue`` and ``data``; never the
floors above (``maps``, ``labels``, ``themes``, ``export``, ``publishing``, ``accounts``, ``web``).
"""
