"""Image sizes for exports: named presets and validated custom sizes.

Sizes are in CSS pixels, as plotly lays a figure out; ``scale`` multiplies the pixels of a PNG
(2 gives about 190 dpi at A4 width, 3 about 290 dpi). SVG and PDF are vector: their size is the CSS
size (a PDF page is 0.75 pt per pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("png", "svg", "pdf")
MIME_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}

MIN_SIDE = 200
MAX_SIDE = 4000
MIN_SCALE = 0.5
MAX_SCALE = 4.0
MAX_PIXELS = 40_000_000        # of a PNG, after scaling: larger images take minutes and 100s of MB


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    width: int
    height: int | None          # None: the figure's own height (a tall ranked bar stays readable)
    scale: float


PRESETS: dict[str, Preset] = {
    "a4": Preset("a4", "A4 report (page width)", 794, None, 2.0),   # 210 mm at 96 px per inch
    "slide": Preset("slide", "Slide (16:9)", 1280, 720, 1.5),
    "square": Preset("square", "Square", 1000, 1000, 1.0),
}
DEFAULT_PRESET = "a4"


class SizeError(ValueError):
    """An impossible or unknown size; the message says what is allowed."""


@dataclass(frozen=True)
class ExportSize:
    width: int
    height: int | None
    scale: float
    preset: str | None = None

    def with_height(self, height: int) -> "ExportSize":
        return ExportSize(self.width, _side("height", height), self.scale, self.preset)

    def render_scale(self, fmt: str) -> float:
        """Scale passed to the renderer: PNG pixels only (SVG and PDF stay at their CSS size)."""
        return self.scale if fmt == "png" else 1.0

    def pixels(self, fmt: str) -> tuple[int, int]:
        """The size of the file: PNG pixels after scaling, else CSS pixels."""
        if self.height is None:
            raise SizeError("the height is not known yet")
        factor = self.scale if fmt == "png" else 1.0
        return round(self.width * factor), round(self.height * factor)


def _number(name: str, raw, kind=int):
    if raw is None or raw == "":
        return None
    try:
        value = kind(raw) if kind is float else int(str(raw).strip())
    except (TypeError, ValueError):
        what = "a number" if kind is float else "a whole number of pixels"
        raise SizeError(f"{name} must be {what}, got {str(raw)[:20]!r}") from None
    return value


def _side(name: str, value: int) -> int:
    if not MIN_SIDE <= value <= MAX_SIDE:
        raise SizeError(f"{name} must be between {MIN_SIDE} and {MAX_SIDE} pixels, got {value}")
    return value


def resolve_size(preset: str | None = None, width=None, height=None, scale=None) -> ExportSize:
    """A preset (default A4 width) with any of width, height and scale overriding it.

    Raises :class:`SizeError` naming the value when the preset is unknown, a side is outside
    200–4000 px, the scale outside 0.5–4, or the scaled PNG would exceed 40 million pixels.
    """
    name = (preset or DEFAULT_PRESET).strip().lower()
    if name not in PRESETS:
        raise SizeError(f"unknown size preset {preset!r}; choose one of {', '.join(PRESETS)}")
    base = PRESETS[name]
    w = _number("width", width)
    h = _number("height", height)
    s = _number("scale", scale, float)
    w = _side("width", w) if w is not None else base.width
    h = _side("height", h) if h is not None else base.height
    if s is None:
        s = base.scale
    if not (MIN_SCALE <= s <= MAX_SCALE) or s != s:
        raise SizeError(f"scale must be between {MIN_SCALE:g} and {MAX_SCALE:g}, got {s:g}")
    custom = any(v is not None for v in (_number("width", width), _number("height", height)))
    size = ExportSize(w, h, s, None if custom else name)
    if h is not None:
        check_pixels(size)
    return size


def check_pixels(size: ExportSize) -> None:
    if size.height is None:
        return
    total = size.width * size.scale * size.height * size.scale
    if total > MAX_PIXELS:
        raise SizeError(f"{size.width}×{size.height} at scale {size.scale:g} is {total / 1e6:.0f} million "
                        f"pixels; the largest image is {MAX_PIXELS / 1e6:.0f} million (lower the scale)")
