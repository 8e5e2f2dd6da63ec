"""The geographic reference values every floor from the loaders up shares, defined once.

- ``BNG`` / ``BNG_EPSG``: British National Grid (EPSG:27700), the metres that London's boundary
  files come in and that areas, lengths and simplification tolerances are measured in;
- ``WGS84_EPSG``: longitude/latitude (EPSG:4326), what the map and GeoJSON speak;
- ``GSS_PATTERN`` / ``GSS_RE``: an ONS Government Statistical Service code (``E09000001``: a country
  letter and eight digits), unanchored for larger patterns and anchored for whole values.

Here, in ``explorer.data``, because the loaders (which detect codes and coordinate systems in a
stranger's file) sit below ``explorer.geo``; ``explorer.geo.geography`` re-exports ``GSS_RE``.
"""

from __future__ import annotations

import re

BNG_EPSG = 27700
BNG = f"EPSG:{BNG_EPSG}"
WGS84_EPSG = 4326
GSS_PATTERN = r"[EWSNK]\d{8}"
GSS_RE = re.compile(rf"^{GSS_PATTERN}$")
