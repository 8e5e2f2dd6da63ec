"""Colour palettes for map classes: colour-blind-safe sequences, the GLA data blues, a diverging
scale and the familiar (but not colour-blind-safe) air-quality traffic light.

Sequential palettes run light → dark, so the darkest colour marks the highest class. Diverging
palettes run from the low end to the high end (``rdbu``: blue for low values, red for high).
``palette_colours(name, n)`` returns ``n`` evenly spaced colours, interpolated in CIE L*a*b* so
the steps look even.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_DATA_COLOUR = "#d9d9d9"


@dataclass(frozen=True)
class Palette:
    name: str
    label: str
    colours: list[str]          # light → dark (sequential), low → high (diverging), fixed (categorical)
    kind: str                   # sequential | diverging | categorical
    cvd_safe: bool              # readable with the common colour-vision deficiencies

    def to_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "colours": list(self.colours),
                "kind": self.kind, "cvd_safe": self.cvd_safe}


def _palette(name: str, label: str, colours: list[str], kind: str, cvd_safe: bool) -> Palette:
    return Palette(name, label, [c.lower() for c in colours], kind, cvd_safe)


PALETTES: dict[str, Palette] = {p.name: p for p in (
    # Single-hue blues that end in the GLA brand blue #00577d.
    _palette("blues", "Blues", [
        "#f2f8fc", "#dcebf5", "#c0dbec", "#9ec6e0", "#77aed1", "#5094bf", "#2c7aab", "#116594",
        "#00577d"], "sequential", True),
    # The GLA data colour sequence, blue family (ldn-viz-tools theme tokens gla.blue 100–500).
    _palette("gla", "GLA blues", ["#ccdde5", "#99bccb", "#669ab1", "#337997", "#00577d"],
             "sequential", True),
    _palette("greens", "Greens", [
        "#f3f9f1", "#dff0da", "#c2e3ba", "#9dd194", "#74bb6e", "#4aa24e", "#2b8538", "#166a2a",
        "#08501f"], "sequential", True),
    _palette("purples", "Purples", [
        "#f8f6fb", "#ebe8f3", "#d7d4e9", "#bcbbdc", "#9f9ccb", "#8480ba", "#6c5ca8", "#573a95",
        "#40197f"], "sequential", True),
    # Perceptually uniform scales (matplotlib's viridis family), reversed to run light → dark.
    _palette("viridis", "Viridis", [
        "#fde725", "#b5de2b", "#6ece58", "#35b779", "#1f9e89", "#26828e", "#31688e", "#3e4989",
        "#482878", "#440154"], "sequential", True),
    _palette("cividis", "Cividis", [
        "#fee838", "#e1cc55", "#c3b369", "#a59c74", "#8a8678", "#707173", "#575d6d", "#3b496c",
        "#123570", "#00224e"], "sequential", True),
    _palette("magma", "Magma", [
        "#fcfdbf", "#feca8d", "#fd9668", "#f1605d", "#cd4071", "#9e2f7f", "#721f81", "#440f76",
        "#180f3d", "#000004"], "sequential", True),
    _palette("inferno", "Inferno", [
        "#fcffa4", "#f7d13d", "#fb9b06", "#ed6925", "#cf4446", "#a52c60", "#781c6d", "#4a0c6b",
        "#1b0c41", "#000004"], "sequential", True),
    # Diverging blue–red (ColorBrewer RdBu, colour-blind safe): low values blue, high values red.
    _palette("rdbu", "Blue–red (diverging)", [
        "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
        "#b2182b"], "diverging", True),
    # Air-quality traffic light, green → yellow → red: familiar, but red–green is lost to
    # deuteranopia and protanopia.
    _palette("aq", "Air quality (green–red)", [
        "#1a9850", "#66bd63", "#a6d96a", "#d9ef8b", "#ffffbf", "#fee08b", "#fdae61", "#f46d43",
        "#d73027"], "sequential", False),
    # Warm sequential (ColorBrewer YlOrRd): air pollution, light yellow (clean) → dark red.
    _palette("warm", "Warm (yellow–red)", [
        "#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
        "#800026"], "sequential", True),
    # Sequential reds (ColorBrewer Reds), ending in a dark red, never black: counts of crime.
    _palette("reds", "Reds", [
        "#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15",
        "#67000d"], "sequential", True),
    # Sequential teals (ColorBrewer GnBu's blue-green end): energy and emissions, no grey middle.
    _palette("teals", "Teals", [
        "#f7fcf0", "#e0f3db", "#ccebc5", "#a8ddb5", "#7bccc4", "#4eb3d3", "#2b8cbe", "#0868ac",
        "#084081"], "sequential", True),
    # Red–purple (ColorBrewer RdPu): points, so a point layer never shares a fill layer's scale.
    _palette("rdpu", "Red–purple", [
        "#fff7f3", "#fde0dd", "#fcc5c0", "#fa9fb5", "#f768a1", "#dd3497", "#ae017e", "#7a0177",
        "#49006a"], "sequential", True),
    # Okabe–Ito: eight categorical colours distinguishable with colour-vision deficiencies.
    _palette("okabe-ito", "Categories (Okabe–Ito)", [
        "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"],
        "categorical", True),
)}


# ------------------------------------------------------------------------------------------------
# sRGB ↔ CIE L*a*b* (D65), enough to interpolate between palette stops evenly.
def _hex_to_rgb(colour: str) -> tuple[float, float, float]:
    text = colour.lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    if len(text) != 6:
        raise ValueError(f"not a hex colour: {colour!r}")
    return tuple(int(text[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def _rgb_to_hex(rgb) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c * 255))):02x}" for c in rgb)


def _linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _gamma(c: float) -> float:
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


_WHITE = (0.95047, 1.0, 1.08883)


def _f(t: float) -> float:
    return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29


def _finv(t: float) -> float:
    return t ** 3 if t > 6 / 29 else 3 * (6 / 29) ** 2 * (t - 4 / 29)


def _rgb_to_lab(rgb) -> tuple[float, float, float]:
    r, g, b = (_linear(c) for c in rgb)
    x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b
    fx, fy, fz = _f(x / _WHITE[0]), _f(y / _WHITE[1]), _f(z / _WHITE[2])
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _lab_to_rgb(lab) -> tuple[float, float, float]:
    lightness, a, b = lab
    fy = (lightness + 16) / 116
    x = _WHITE[0] * _finv(fy + a / 500)
    y = _WHITE[1] * _finv(fy)
    z = _WHITE[2] * _finv(fy - b / 200)
    r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z
    g = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z
    bl = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z
    return tuple(min(1.0, max(0.0, _gamma(max(0.0, c)))) for c in (r, g, bl))  # type: ignore[return-value]


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance of a hex colour (0 black … 1 white)."""
    r, g, b = (_linear(c) for c in _hex_to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _interpolate(stops: list[str], t: float) -> str:
    if t <= 0:
        return stops[0]
    if t >= 1:
        return stops[-1]
    position = t * (len(stops) - 1)
    i = int(position)
    frac = position - i
    if frac < 1e-9:
        return stops[i]
    a = _rgb_to_lab(_hex_to_rgb(stops[i]))
    b = _rgb_to_lab(_hex_to_rgb(stops[i + 1]))
    return _rgb_to_hex(_lab_to_rgb(tuple(x + (y - x) * frac for x, y in zip(a, b))))


def get_palette(name: str) -> Palette:
    try:
        return PALETTES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown palette {name!r}; known palettes: {', '.join(PALETTES)}") from None


def palette_colours(name: str, n: int) -> list[str]:
    """``n`` colours from palette ``name``.

    Sequential and diverging palettes are sampled evenly from end to end (one class gets the
    middle colour); categorical palettes give their colours in order, repeating after the last.
    """
    palette = get_palette(name)
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"palette {name!r}: the number of colours must be a whole number, got {n!r}")
    if n < 0:
        raise ValueError(f"palette {name!r}: the number of colours must not be negative, got {n}")
    if n == 0:
        return []
    stops = palette.colours
    if palette.kind == "categorical":
        return [stops[i % len(stops)] for i in range(n)]
    if n == 1:
        return [_interpolate(stops, 0.6 if palette.kind == "sequential" else 0.5)]
    return [_interpolate(stops, i / (n - 1)) for i in range(n)]


# ------------------------------------------------------------------------------------------------
# Palette families: each kind of layer its own, so no two layers share a scale by accident
AUTO = "auto"
FAMILIES = (   # (theme or kind, palette), first match wins; docs/design.md lists them
    ("points", "rdpu"),
    ("air-quality", "warm"),
    ("green-infrastructure", "greens"),
    ("deprivation", "purples"),
    ("crime", "reds"),
    ("net-zero", "teals"),
)
DEFAULT_FAMILY = "gla"


def family_palette(kind: str | None, themes=(), air: bool = False) -> str:
    """The palette of a layer's family: points, then air pollution (``air``: the variable names a
    pollutant), then the dataset's first theme with a family, else the GLA blues."""
    if kind == "points":
        return "rdpu"
    if air:
        return "warm"
    for theme in themes or ():
        for name, palette in FAMILIES:
            if theme == name:
                return palette
    return DEFAULT_FAMILY


def resolve_palette(name: str | None, kind: str | None, themes=(), air: bool = False) -> str:
    """A palette name as chosen (``auto`` or none: the layer's family)."""
    if not name or name == AUTO:
        return family_palette(kind, themes, air)
    return name
