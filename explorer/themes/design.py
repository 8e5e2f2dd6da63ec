"""GLA design tokens for charts: brand blues, data colours, the Inter font stack, a plotly template.

The brand blues come from the GLA's own design system (ldn-viz-tools). Every colour used for text
is checked against WCAG 2.1 AA (4.5:1 on the page background) and every colour used to draw data
against the 3:1 asked of graphical objects; ``contrast_ratio`` is the check the tests run.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

BRAND = {"dark": "#00577d", "blue": "#007acc", "light": "#00aeef"}

BACKGROUND = "#ffffff"
TEXT = "#353d42"          # body text and axis labels (11:1 on white)
TEXT_MUTED = "#5e6b75"    # secondary text: subtitles, notes, tick labels (5.5:1)
GRID = "#e1e4e6"          # gridlines: decoration, not information
AXIS_LINE = "#9aa5ad"

DATA = BRAND["blue"]                 # a single series
HIGHLIGHT = "#cc4a00"                # a selected area: orange against the blues (4.6:1)
HIGHLIGHT_OUTLINE = TEXT             # outline as a second cue, not colour alone
MUTED = "#7c8791"                    # other areas while something is highlighted (3.7:1)
CONTEXT_LINE = "#5094bf"             # thin lines, one per place, behind an emphasised one (3.3:1)
REFERENCE = TEXT                     # guideline / objective lines and their labels

# Categorical data colours, in order; each at least 3:1 on white so a line or bar is visible.
DATA_COLOURS = ["#00577d", "#8a6d00", "#6a4c93", "#00806e", "#a8468c", "#007acc", "#5e6b75"]

FONT_FAMILY = 'Inter, "Helvetica Neue", Helvetica, Arial, sans-serif'
FONT_SIZE = 14

TEMPLATE_NAME = "gla"


# --------------------------------------------------------------------------------------------
def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def parse_hex(colour: str) -> tuple[int, int, int]:
    text = colour.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if len(text) != 6:
        raise ValueError(f"not a hex colour: {colour!r}")
    try:
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        raise ValueError(f"not a hex colour: {colour!r}") from None


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a hex colour (0 black … 1 white)."""
    r, g, b = parse_hex(colour)
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(fg: str, bg: str = BACKGROUND) -> float:
    """WCAG 2.1 contrast ratio between two hex colours, from 1 (none) to 21 (black on white)."""
    a, b = relative_luminance(fg), relative_luminance(bg)
    light, dark = max(a, b), min(a, b)
    return (light + 0.05) / (dark + 0.05)


TEXT_COLOURS = {"text": TEXT, "text_muted": TEXT_MUTED, "reference": REFERENCE, "highlight": HIGHLIGHT,
                "brand_dark": BRAND["dark"], "brand_blue": BRAND["blue"]}


def series_colour(index: int) -> str:
    return DATA_COLOURS[index % len(DATA_COLOURS)]


# --------------------------------------------------------------------------------------------
def template() -> go.layout.Template:
    """The plotly template: Inter, GLA text colours, light grid, data colours in order."""
    axis = dict(
        gridcolor=GRID, zerolinecolor=AXIS_LINE, linecolor=AXIS_LINE, showline=True,
        ticks="outside", tickcolor=AXIS_LINE, tickfont=dict(color=TEXT_MUTED),
        title=dict(font=dict(color=TEXT, size=FONT_SIZE)), automargin=True,
        # "2,000,000", not plotly's SI "2M" (or "2G" for billions of pounds)
        exponentformat="none", separatethousands=True,
    )
    return go.layout.Template(layout=go.Layout(
        font=dict(family=FONT_FAMILY, size=FONT_SIZE, color=TEXT),
        title=dict(font=dict(family=FONT_FAMILY, size=18, color=TEXT), x=0, xanchor="left"),
        paper_bgcolor=BACKGROUND, plot_bgcolor=BACKGROUND,
        colorway=DATA_COLOURS,
        xaxis=axis, yaxis=axis,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0,
                    font=dict(color=TEXT), title=dict(text="")),
        hoverlabel=dict(font=dict(family=FONT_FAMILY, color=TEXT), bgcolor=BACKGROUND,
                        bordercolor=AXIS_LINE),
        margin=dict(l=8, r=16, t=40, b=8),
        separators=".,",
    ))


def register_template() -> str:
    """Register the template with plotly under ``gla``; returns the name."""
    if TEMPLATE_NAME not in pio.templates:
        pio.templates[TEMPLATE_NAME] = template()
    return TEMPLATE_NAME
