"""The ``hideout`` contract: the dict the server (and the browser's merge callbacks) hand a map
layer's JavaScript, defined once.

dash-leaflet passes a layer's ``hideout`` to the style, point and tooltip functions named in
``assets/``; changing it restyles the layer without sending its geometry again. Every writer builds
it here: the map explorer's layers (``layouts/map_explorer.py``, first paint and compare view, which
the dataset page's preview draws too), the theme pages' maps (``explorer/themes/page_data.py``) and
the context layers (London's outline, the Thames). The browser's
own writers, the merge callbacks of the map explorer (``assets/map_explorer.js``) and the theme
pages' selection (``assets/theme_selection.js``), write the same keys. What each script reads is
listed in one JavaScript place: the head of ``assets/map_styles.js``
(``tests/unit/test_hideout_contract.py`` checks that list, the scripts and :data:`KEYS` agree).

The keys (all optional; a script reading one that is absent takes the default named):

Which layer, and how it is drawn
  ``uid``          the layer's uid (``LayerSpec.uid``; ``<uid>-compare`` on the compare map): the
                   browser keeps each layer's latest hideout by it (``explorer.map.hideouts``)
  ``pending``      true until the layer's style is known: drawn transparent meanwhile
  ``canvas``       true for a big layer painted on a canvas rather than as SVG paths
  ``geometry``     the URL of a canvas layer's geobuf geometry (``/geo/<dataset>/<resource>.pbf``)
  ``role``         a context layer's part: ``"region"`` (London's outline) or ``"thames"``
  ``kind``         ``"polygons"``, ``"points"`` or ``"lines"``
  ``unit``         the unit written after a value in the tooltip (``"µg/m³"``)

The style (``explorer.maps.classify.layer_style``)
  ``mode``         ``"classes"`` (coloured by value), ``"single"`` (one colour) or ``"outline"``
  ``breaks``       class breaks, ascending (``mode == "classes"``)
  ``colours``      one colour per class, as CSS colours
  ``labels``       one legend label per class
  ``nodata``       the colour of a feature with no value (default ``#d9d9d9``)
  ``no_data``      how many features have no value (the legend's count)
  ``method_label`` the classification in words, for the legend
  ``colour``       the one colour of ``mode == "single"``
  ``line``         the outline colour of ``mode == "outline"``

Values and the layer's controls
  ``values``       one value per feature, in the order of the geometry's ``_i`` property (or null)
  ``opacity``      0–1 (default 0.8)
  ``hidden``       true when the person switched the layer off
  ``compared``     true on the left map while the compare view shows this layer on the right

Theme pages
  ``interactive``  false for a layer drawn on top without catching the pointer (boundaries)
  ``selected``     GSS codes of the places picked on the page, outlined
  ``inside``       names of picked boroughs whose small areas are outlined too
  ``focus``        true when this layer holds a picked place: its other features fade
  ``prefixes``     the three-character code families the layer holds (``"E01"``, ``"E09"``)
"""

from __future__ import annotations

from typing import Any

#: Every key a hideout may hold (see the module docstring for what each means).
KEYS = frozenset({
    "uid", "pending", "canvas", "geometry", "role", "kind", "unit",
    "mode", "breaks", "colours", "labels", "nodata", "no_data", "method_label", "colour", "line",
    "values", "opacity", "hidden", "compared",
    "interactive", "selected", "inside", "focus", "prefixes",
})

#: The keys of ``explorer.maps.classify.layer_style``'s style, which a hideout carries as they are.
STYLE_KEYS = frozenset({"mode", "breaks", "colours", "labels", "nodata", "no_data", "method_label",
                        "colour", "line"})

DEFAULT_OPACITY = 0.8


class HideoutError(ValueError):
    """A writer used a key the contract does not have (a typo, or a key to add here first)."""


def hideout(**fields: Any) -> dict:
    """A hideout of the given keys, checked against :data:`KEYS`; keys whose value is None are
    left out (the scripts then take their defaults)."""
    unknown = set(fields) - KEYS
    if unknown:
        raise HideoutError(f"not a hideout key: {', '.join(sorted(unknown))} "
                           "(the contract is explorer/maps/hideout.py)")
    return {key: value for key, value in fields.items() if value is not None}


def _style_fields(style: dict | None) -> dict:
    unknown = set(style or {}) - STYLE_KEYS
    if unknown:
        raise HideoutError(f"not a style key: {', '.join(sorted(unknown))} (explorer/maps/hideout.py)")
    return dict(style or {})


def pending(uid: str, *, canvas: bool = False, geometry: str | None = None) -> dict:
    """A layer whose style is not known yet (drawn transparent until the merge callback sends it)."""
    return hideout(uid=uid, pending=True, canvas=bool(canvas), geometry=geometry)


def layer(uid: str, style: dict, *, values: list | None = None, opacity: float = DEFAULT_OPACITY,
          hidden: bool = False, compared: bool = False, kind: str | None = None, unit: str | None = None,
          canvas: bool = False, geometry: str | None = None, **theme: Any) -> dict:
    """A map layer drawn as ``style`` says (``explorer.maps.classify.layer_style``), coloured by
    ``values``; ``opacity`` is 0–1. ``theme`` takes the theme pages' keys (``selected``,
    ``prefixes``, ``interactive``…). The browser's merge (``explorer.layerHideout`` in
    assets/map_explorer.js) writes the same keys."""
    return hideout(**_style_fields(style), uid=uid, values=values, opacity=opacity, hidden=bool(hidden),
                   compared=bool(compared), kind=kind, unit=unit, canvas=bool(canvas), geometry=geometry,
                   **theme)


def context(role: str) -> dict:
    """A context layer: London's outline (``"region"``) or the Thames (``"thames"``)."""
    if role not in ("region", "thames"):
        raise HideoutError(f"not a context layer: {role!r}")
    return hideout(role=role)
