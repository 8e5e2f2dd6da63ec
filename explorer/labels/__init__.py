"""How the registry's facts are put for the people reading a page: human labels for variables and
periods, numbers formatted for their kind, and which caveats a reader must see beside a chart.

Owns: ``caveats`` (a caveat is for readers, about the source, or a data-handling note),
``variables`` (a column's human label, from the registry or the theme file, else read from the
column's name), ``numbers`` (£72,310; 38.2 µg/m³; 12 %). Pure functions over strings and the
models: may import ``explorer.catalogue.models`` and ``explorer.maps.classify`` (the air-quality thresholds). docs/design.md says where each is used.
"""
