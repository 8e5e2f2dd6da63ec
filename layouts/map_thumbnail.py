"""A theme's small map (explorer/maps/thumbnail.py worked out its paths and colours): an inline
SVG the browser draws at once, with its text alternative."""

from __future__ import annotations

import dash_svg as svg


def map_thumbnail(thumb) -> svg.Svg | None:
    """``thumb`` (a :class:`explorer.maps.thumbnail.Thumbnail`) as an SVG image: ``role="img"``
    with its ``aria-label`` (the paths inside are presentation only)."""
    if thumb is None or not thumb.areas:
        return None
    return svg.Svg(
        viewBox=thumb.view_box, role="img", className="map-thumbnail", preserveAspectRatio="xMidYMid meet",
        **{"aria-label": thumb.label},
        children=svg.G(className="map-thumbnail__areas",
                       children=[svg.Path(d=d, fill=fill) for d, fill in thumb.areas]),
    )
