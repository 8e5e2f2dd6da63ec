"""Exports for reports: chart and map images that carry their sources, and data downloads.

* :mod:`.sizes` – size presets (A4 width, 16:9 slide, square) and custom sizes, validated.
* :mod:`.renderer` – one warm kaleido/Chromium renderer per process, with a lock, a timeout and
  a restart when the browser dies or hangs.
* :mod:`.credits` – who to credit for a chart or map, and the footer drawn inside every image.
* :mod:`.chart_image` – a theme chart as PNG, SVG or PDF.
* :mod:`.map_figure` – the map view of a permalink as a tile-free plotly figure (legend, scale
  bar, north arrow) and ``export_map`` to render it.
* :mod:`.raster_layers` – a PNG map's polygon layers drawn with Pillow into one image of the plot
  area's pixels (Chromium is slow over thousands of SVG paths); SVG and PDF keep the paths.
* :mod:`.data_package` – the data behind a chart or layer as a zip with ``provenance.json``.

Nothing here imports kaleido until an image is rendered.
"""

from explorer.export.sizes import FORMATS, PRESETS, ExportSize, SizeError, resolve_size

__all__ = ["FORMATS", "PRESETS", "ExportSize", "SizeError", "resolve_size"]
