"""A theme's small map (explorer/maps/thumbnail.py worked out its paths and colours): an inline
SVG the browser draws at once, with its text alternative, a one-line caption and a key."""

from __future__ import annotations

import dash_svg as svg
from dash import html


def map_thumbnail(thumb) -> html.Figure | None:
    """``thumb`` (a :class:`explorer.maps.thumbnail.Thumbnail`) as a figure: the SVG image
    (``role="img"`` with its ``aria-label``; the paths inside are presentation only), what it shows
    in words, and its colours from the lowest class to the highest (the words are in the label, so
    the key is hidden from screen readers)."""
    if thumb is None or not thumb.areas:
        return None
    image = svg.Svg(viewBox=thumb.view_box, role="img", className="map-thumbnail",
                    preserveAspectRatio="xMidYMid meet", **{"aria-label": thumb.label},
                    children=svg.G(className="map-thumbnail__areas",
                                   children=[svg.Path(d=d, fill=fill) for d, fill in thumb.areas]))
    key = None
    if thumb.legend and thumb.ends:
        key = html.Span(className="map-thumbnail__key", **{"aria-hidden": "true"}, children=[
            html.Span(thumb.ends[0], className="map-thumbnail__end"),
            html.Span(className="map-thumbnail__ramp", children=[
                html.Span(className="map-thumbnail__swatch", style={"background": colour})
                for colour, _ in thumb.legend]),
            html.Span(thumb.ends[1], className="map-thumbnail__end"),
        ])
    return html.Figure(className="map-thumbnail__figure", children=[
        image,
        html.Figcaption(className="map-thumbnail__caption", **{"aria-hidden": "true"},
                        children=[html.Span(thumb.caption), key]),
    ])
