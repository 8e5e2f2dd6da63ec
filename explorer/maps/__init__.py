"""Maps: what a map layer is and what it needs.

Owns ``layers`` (the layers on the map, their styling, and how they live in the URL),
``shortlinks`` (short permalinks for those URLs), ``classify`` (class breaks), ``palettes``
(colour-blind-safe class colours) and ``layer_data`` (everything a layer needs, computed once per
dataset and resource: column roles, time steps, prepared geometry, the encoded payload, values,
hit-testing).

May import everything below it (``settings``, ``guards``, ``db``, ``catalogue``, ``data``,
``geo``) and ``explorer.labels`` beside it; never ``themes``, ``export``, ``publishing``,
``accounts`` or ``web``.
"""
