"""Maps: what a map layer is and what it needs.

Owns ``layers`` (the layers on the map, their styling, and how they live in the URL),
``shortlinks`` (short permalinks for those URLs), ``classify`` (class breaks), ``palettes``
(colour-blind-safe class colours), and what a layer needs, computed once per dataset and
resource and kept in the app's memos (``layer_memo``): ``layer_info`` (what a layer is: kind,
variables, unit, years, why it cannot be mapped), ``columns`` (column roles), ``time_steps`` (its
years), ``series`` (long tables drawn one feature per place), ``layer_geometry`` (its geometry
payload by URL), ``values`` (its numbers for one variable and year) and ``hit_test`` (what is at a
clicked place).

May import everything below it (``settings``, ``guards``, ``db``, ``catalogue``, ``data``,
``geo``) and ``explorer.labels`` beside it; never ``themes``, ``export``, ``publishing``,
``accounts`` or ``web``.
"""
