"""Themes and charts: themed dashboards as data, and charts of any registry table.

Owns ``theme_files`` (one YAML file per theme in ``geodata/themes``), ``chart_data`` (named
transforms from loaded datasets to tidy frames), ``charts`` (a chart spec → a plotly figure, its
table and a text summary), ``chart_builder`` (the officers' chart builder) and ``design`` (GLA
design tokens and the plotly template).

May import everything below it (``settings``, ``guards``, ``db``, ``catalogue``, ``data``,
``geo``, ``labels``, ``maps``); never ``export``, ``publishing``, ``accounts`` or ``web``.
"""
