"""Map explorer state as data: the layers on the map, their styling, and how they live in the URL.

A copied link must reopen the same map, so every layer is one ``layer=`` query parameter:

    layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean,m:quantile,k:5,p:blues,o:80
    layer=london-boroughs,h:1

The first item is ``dataset[:resource]``; the others are ``key:value`` pairs (v variable, m method,
k classes, p palette, o opacity in percent, h hidden, t time step, f filter as name=value). Values
are percent-encoded, so variables with commas or colons survive. The view is ``view=lat,lon,zoom``
and the basemap ``basemap=light|grey|none``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import quote, unquote, urlencode

from explorer.guards.request_limits import parse_query
from explorer.maps.classify import CLASS_COUNTS

BASEMAPS = {
    "light": {
        "label": "Street map",
        "url": "https://{s}.basemaps.cartocdn.com/rastertiles/voyager/{z}/{x}/{y}{r}.png",
        "attribution": "© OpenStreetMap contributors © CARTO",
    },
    "grey": {
        "label": "Greyscale",
        "url": "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
        "attribution": "© OpenStreetMap contributors © CARTO",
    },
    "none": {"label": "None (our own outlines)", "url": None, "attribution": None},
}
DEFAULT_BASEMAP = "light"
DEFAULT_VIEW = (51.4893, -0.1441, 10)
# the smallest geographies a dataset can be drawn on a map at
SPATIAL_GEOGRAPHIES = {"borough", "ward", "msoa", "lsoa", "point", "site", "grid", "region",
                       "sub-region", "london", "output-area"}
MAX_LAYERS = 8

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")
_KEYS = {"v": "variable", "m": "method", "k": "classes", "p": "palette", "o": "opacity",
         "h": "hidden", "t": "step", "f": "filter"}


@dataclass
class LayerSpec:
    dataset: str
    resource: str | None = None
    variable: str | None = None
    method: str = "quantile"
    classes: int = 5
    palette: str = "auto"      # the layer's palette family (explorer/maps/palettes.py)
    opacity: int = 80          # percent
    hidden: bool = False
    step: str | None = None    # time step label (e.g. a year)
    filter: dict = field(default_factory=dict)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def to_param(self) -> str:
        head = self.dataset + (f":{self.resource}" if self.resource else "")
        parts = [head]
        if self.variable:
            parts.append("v:" + quote(self.variable, safe=""))
        if self.method != "quantile":
            parts.append(f"m:{self.method}")
        if self.classes != 5:
            parts.append(f"k:{self.classes}")
        if self.palette != "auto":
            parts.append(f"p:{quote(self.palette, safe='')}")
        if self.opacity != 80:
            parts.append(f"o:{self.opacity}")
        if self.hidden:
            parts.append("h:1")
        if self.step:
            parts.append("t:" + quote(str(self.step), safe=""))
        for key, value in sorted(self.filter.items()):
            parts.append("f:" + quote(f"{key}={value}", safe=""))
        return ",".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LayerSpec":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class LayerParamError(ValueError):
    pass


def parse_layer(text: str) -> LayerSpec:
    """One ``layer=`` value; raises LayerParamError naming what is wrong."""
    items = [p for p in text.split(",") if p != ""]
    if not items:
        raise LayerParamError("empty layer")
    dataset, _, resource = items[0].partition(":")
    if not _ID_RE.match(dataset) or (resource and not _ID_RE.match(resource)):
        raise LayerParamError(f"not a dataset id: {items[0][:60]!r}")
    spec = LayerSpec(dataset=dataset, resource=resource or None)
    for item in items[1:]:
        key, sep, raw = item.partition(":")
        if not sep or key not in _KEYS:
            raise LayerParamError(f"unknown layer setting {item[:40]!r}")
        value = unquote(raw)
        name = _KEYS[key]
        try:
            if name in ("classes", "opacity"):
                number = int(value)
                if name == "classes" and number not in CLASS_COUNTS:
                    raise LayerParamError(f"classes must be {CLASS_COUNTS[0]}–{CLASS_COUNTS[-1]}, got {number}")
                if name == "opacity" and not 0 <= number <= 100:
                    raise LayerParamError(f"opacity must be 0–100, got {number}")
                setattr(spec, name, number)
            elif name == "hidden":
                spec.hidden = value in ("1", "true", "yes")
            elif name == "filter":
                fkey, _, fvalue = value.partition("=")
                spec.filter[fkey] = fvalue
            else:
                setattr(spec, name, value)
        except ValueError as exc:
            if isinstance(exc, LayerParamError):
                raise
            raise LayerParamError(f"{name} must be a whole number, got {value[:20]!r}") from None
    return spec


@dataclass
class MapState:
    layers: list[LayerSpec]
    basemap: str = DEFAULT_BASEMAP
    view: tuple[float, float, float] = DEFAULT_VIEW
    notices: list[str] = field(default_factory=list)

    def to_search(self) -> str:
        params: list[tuple[str, str]] = []
        lat, lon, zoom = self.view
        params.append(("view", f"{lat:.4f},{lon:.4f},{zoom:g}"))
        if self.basemap != DEFAULT_BASEMAP:
            params.append(("basemap", self.basemap))
        for layer in self.layers:
            params.append(("layer", layer.to_param()))
        return "?" + urlencode(params, safe=",:~")


def default_layers() -> list[LayerSpec]:
    """What the map shows on first open: an air-quality choropleth under the borough outlines."""
    return [
        LayerSpec(dataset="london-boroughs"),
        LayerSpec(dataset="laei-lsoa-2021", resource="no2-2019", variable="NO2-2019-mean",
                  method="quantile"),
    ]


def parse_state(search: str | None, known_dataset) -> MapState:
    """Read the map state from a query string; unknown datasets and bad values become notices."""
    if not isinstance(search, (str, type(None))):
        raise TypeError("a map link's query must be a string")
    params = parse_query(search)   # repeats dropped; over the limits a QueryRefused (400)
    notices: list[str] = []
    basemap = (params.get("basemap") or [DEFAULT_BASEMAP])[0]
    if basemap not in BASEMAPS:
        notices.append(f"Unknown basemap “{basemap[:30]}” ignored.")
        basemap = DEFAULT_BASEMAP
    view = DEFAULT_VIEW
    if params.get("view"):
        try:
            lat, lon, zoom = (float(x) for x in params["view"][0].split(","))
            if not (-85 <= lat <= 85 and -180 <= lon <= 180 and 0 <= zoom <= 20):
                raise ValueError
            view = (lat, lon, zoom)
        except ValueError:
            notices.append("The map view in the link could not be read; showing all of London.")
    layers: list[LayerSpec] = []
    raw_layers = params.get("layer")
    if raw_layers is None:
        layers = default_layers()
    for raw in (raw_layers or [])[:MAX_LAYERS]:
        try:
            spec = parse_layer(raw)
        except LayerParamError as exc:
            notices.append(f"A layer in the link was ignored: {exc}.")
            continue
        if not known_dataset(spec.dataset):
            notices.append(f"The link names a dataset that is not in the registry (“{spec.dataset}”); it was ignored.")
            continue
        layers.append(spec)
    if raw_layers and len(raw_layers) > MAX_LAYERS:
        notices.append(f"Only the first {MAX_LAYERS} layers of the link are shown.")
    return MapState(layers=layers, basemap=basemap, view=view, notices=notices)


def with_changes(spec: LayerSpec, **changes) -> LayerSpec:
    return replace(spec, **changes)
