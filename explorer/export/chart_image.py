"""A theme's chart as a PNG, SVG or PDF that stands alone: title inside, source footer, link back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from explorer.export.credits import add_footer, footer_lines, footer_text
from explorer.labels.credits import collect_credits
from explorer.export.sizes import FORMATS, MIME_TYPES, ExportSize, SizeError, check_pixels

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$", re.I)
DEFAULT_BASE_URL = "http://127.0.0.1:8050"


class ExportNotFound(LookupError):
    """An unknown theme, chart or layer; the message names it and what exists."""

    def __init__(self, message: str):
        self.reason = message
        super().__init__(message)


class ExportUnavailable(RuntimeError):
    """The thing exists but its data cannot be drawn now (the message says why)."""

    def __init__(self, message: str):
        self.reason = message
        super().__init__(message)


@dataclass
class ExportedImage:
    content: bytes
    fmt: str
    filename: str
    width: int          # CSS pixels of the figure
    height: int
    scale: float
    link: str | None = None     # the short permalink printed in the footer

    @property
    def mimetype(self) -> str:
        return MIME_TYPES[self.fmt]


def check_format(fmt: str) -> str:
    fmt = (fmt or "").lower()
    if fmt not in FORMATS:
        raise SizeError(f"unknown image format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def find_chart(theme_slug: str, chart_id: str, themes=None):
    """(theme, chart spec); ExportNotFound naming the theme or chart and what there is."""
    from explorer.themes.theme_files import load_themes

    if not NAME_RE.match(theme_slug or ""):
        raise ExportNotFound(f"not a theme name: {str(theme_slug)[:60]!r}")
    if not NAME_RE.match(chart_id or ""):
        raise ExportNotFound(f"not a chart name: {str(chart_id)[:60]!r}")
    themes = themes if themes is not None else load_themes()
    theme = next((t for t in themes if t.slug == theme_slug), None)
    if theme is None:
        raise ExportNotFound(f"no theme {theme_slug!r}; themes are: {', '.join(t.slug for t in themes)}")
    spec = theme.chart(chart_id)
    if spec is None:
        raise ExportNotFound(f"theme {theme_slug!r} has no chart {chart_id!r}; its charts are: "
                             f"{', '.join(c.id for c in theme.charts)}")
    return theme, spec


def chart_target(theme_slug: str, chart_id: str, highlight=None) -> str:
    """The chart's view as a path and query on this site (``/themes/<theme>?chart=…``)."""
    params = [("chart", chart_id)] + [("highlight", h) for h in (highlight or [])]
    return f"/themes/{quote(theme_slug)}?{urlencode(params)}"


def chart_permalink(base_url: str | None, theme_slug: str, chart_id: str, highlight=None) -> str:
    return (base_url or DEFAULT_BASE_URL).rstrip("/") + chart_target(theme_slug, chart_id, highlight)


def short_permalink(service, base_url: str | None, target: str) -> str:
    """``<base>/l/<code>`` for a view (the full address if the link store cannot be written)."""
    from explorer.maps.shortlinks import link_for

    return link_for(service.settings, base_url or DEFAULT_BASE_URL, target)


def footer_height(lines: list[str], width: int) -> int:
    return 15 * (footer_text(lines, width).count("<br>") + 1) + 30


def chart_figure(spec, service, size: ExportSize, highlight=None, permalink: str | None = None):
    """(figure, ChartResult, height): the chart titled, with its footer, at the export size."""
    from explorer.themes.charts import build_chart

    result = build_chart(spec, service, highlight=highlight, titled=True, footer=False)
    if result.error:
        raise ExportUnavailable(f"{spec.theme}/{spec.id} cannot be drawn: {result.error}")
    height = finish_figure(result, service, size, permalink)
    return result.figure, result, height


def finish_figure(result, service, size: ExportSize, permalink: str | None) -> int:
    """Size a titled chart (a ChartResult drawn with ``titled=True, footer=False``) for export and
    draw its footer (sources, attribution, dates, link) inside it; returns the image's height."""
    fig = result.figure
    lines = footer_lines(collect_credits(result.sources, service), permalink)
    natural = int(fig.layout.height or 450)
    height = size.height or min(4000, max(300, natural + footer_height(lines, size.width)))
    size = size.with_height(height)
    check_pixels(size)
    add_footer(fig, lines, size.width)
    fig.update_layout(width=size.width, height=height, autosize=False)
    return height


def export_chart(theme_slug: str, chart_id: str, fmt: str, size: ExportSize, service, renderer,
                 base_url: str | None = None, highlight=None, themes=None) -> ExportedImage:
    fmt = check_format(fmt)
    _, spec = find_chart(theme_slug, chart_id, themes)
    link = short_permalink(service, base_url, chart_target(theme_slug, chart_id, highlight))
    fig, _, height = chart_figure(spec, service, size, highlight, link)
    content = renderer.render(fig, fmt, size.width, height, size.render_scale(fmt))
    return ExportedImage(content, fmt, f"{theme_slug}-{chart_id}.{fmt}", size.width, height, size.scale, link)
