"""Chart and map images: each format is a real file of its type at the asked size, the footer's
words can be read back (SVG text; PDF through pdftotext), concurrent exports keep their own
images, and a renderer that is killed or hangs is restarted so the next export works."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import threading
import xml.etree.ElementTree as ET

import pytest

from explorer.geo.joins import DataService
from explorer.export import resolve_size
from explorer.export.chart_image import ExportNotFound, export_chart, find_chart
from explorer.export.map_figure import build_map, export_map
from explorer.export.renderer import Renderer, RenderTimeout
from explorer.export.sizes import MAX_PIXELS, SizeError
from explorer.services import open_registry
from explorer.settings import Settings

SVG_NS = "{http://www.w3.org/2000/svg}"
BAR = ("air-quality", "no2-borough-2019")
BOROUGHS = "?layer=london-boroughs"
LSOA = "?layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean,m:thresholds"


@pytest.fixture(scope="module")
def service(tmp_path_factory, data_dir):
    settings = Settings(home=tmp_path_factory.mktemp("export-home"), data_dir=data_dir, cache_url="null",
                        offline=True)
    return DataService(settings, open_registry(settings), memory_items=64)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def svg_root(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == f"{SVG_NS}svg"
    return root


def svg_text(data: bytes) -> str:
    return " ".join("".join(el.itertext()) for el in svg_root(data).iter(f"{SVG_NS}text"))


def pdf_info(data: bytes, tmp_path) -> tuple[str, str]:
    assert data[:5] == b"%PDF-"
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return info, text


def _resolve(service, link: str) -> str | None:
    from explorer.maps.shortlinks import store_for

    return store_for(service.settings).resolve(link.rsplit("/l/", 1)[1])


def test_pdftotext_is_installed():
    assert shutil.which("pdftotext") and shutil.which("pdfinfo"), "./dev test installs poppler-utils"


# ------------------------------------------------------------------------------------------ sizes
def test_presets_and_custom_sizes():
    assert resolve_size("slide").width * 9 == resolve_size("slide").height * 16
    square = resolve_size("square")
    assert square.width == square.height
    a4 = resolve_size("a4")
    assert a4.width == 794 and a4.height is None and a4.scale == 2
    custom = resolve_size("slide", width="900", height="500", scale="3")
    assert (custom.width, custom.height, custom.scale) == (900, 500, 3.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(preset="poster"), "unknown size preset"),
    (dict(width="99999"), "width must be between"),
    (dict(height="10"), "height must be between"),
    (dict(width="wide"), "width must be a whole number"),
    (dict(scale="0"), "scale must be between"),
    (dict(scale="nan"), "scale must be between"),
    (dict(width="4000", height="4000", scale="4"), "million pixels"),
])
def test_impossible_sizes_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(SizeError, match=message):
        resolve_size(**kwargs)
    assert 4000 * 4000 * 16 > MAX_PIXELS


def test_unknown_names_are_refused(service, renderer):
    with pytest.raises(ExportNotFound, match="no theme 'nope'; themes are: .*air-quality"):
        find_chart("nope", "x")
    with pytest.raises(ExportNotFound, match="has no chart 'nope'; its charts are: .*no2-borough-2019"):
        find_chart("air-quality", "nope")
    with pytest.raises(ExportNotFound, match="not a theme name"):
        find_chart("../etc", "passwd")


# ------------------------------------------------------------------------------------------ charts
def test_chart_png_has_the_scaled_size(service, renderer):
    size = resolve_size("slide")
    image = export_chart(*BAR, "png", size, service, renderer)
    assert png_size(image.content) == (round(1280 * 1.5), round(720 * 1.5))
    assert image.filename == "air-quality-no2-borough-2019.png"


def test_chart_svg_carries_title_and_footer(service, renderer):
    image = export_chart(*BAR, "svg", resolve_size("a4"), service, renderer, base_url="https://example.test")
    root = svg_root(image.content)
    assert (root.get("width"), root.get("height")) == ("794", str(image.height))
    text = svg_text(image.content)
    assert "City of London" in text and "UK objective" in text
    assert "Source: Greater London Authority (GLA), Modelled air pollution by borough" in text
    assert "licensed under the Open Government Licence" in text
    assert "retrieved 20" in text and "Data last updated" in text
    # the footer's link is the short one, and it leads back to the chart's view
    assert f"View online: {image.link}" in text and image.link.startswith("https://example.test/l/")
    assert "?chart=" not in text
    assert _resolve(service, image.link) == "/themes/air-quality?chart=no2-borough-2019"


def test_chart_pdf_page_size_and_footer_text(service, renderer, tmp_path):
    size = resolve_size("square")
    image = export_chart("housing", "prices-by-borough", "pdf", size, service, renderer)
    info, text = pdf_info(image.content, tmp_path)
    assert "Page size:       750 x 750 pts" in info          # 1000 CSS px at 0.75 pt each
    flat = " ".join(text.split())
    assert "Source: HM Land Registry" in flat
    assert "Contains HM Land Registry data © Crown copyright" in flat
    assert f"View online: {image.link}" in flat and "/l/" in image.link


def test_every_chart_type_exports(service, renderer):
    from explorer.themes.theme_files import load_themes

    seen = {}
    for theme in load_themes():
        for spec in theme.charts:
            seen.setdefault(spec.type, (theme.slug, spec.id))
    assert len(seen) >= 5
    for slug, chart_id in seen.values():
        image = export_chart(slug, chart_id, "svg", resolve_size("slide"), service, renderer)
        assert "Source: " in svg_text(image.content), (slug, chart_id)


def test_concurrent_exports_get_their_own_images(service, renderer):
    from explorer.themes.theme_files import load_themes

    charts = [(t.slug, c.id, c.title) for t in load_themes() for c in t.charts][:6]
    results: dict = {}
    errors: list = []

    def job(slug, chart_id):
        try:
            results[(slug, chart_id)] = export_chart(slug, chart_id, "svg", resolve_size("slide"), service, renderer)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(s, c)) for s, c, _ in charts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    for slug, chart_id, title in charts:
        image = results[(slug, chart_id)]
        text = svg_text(image.content)
        assert image.link in text and f"chart={chart_id}" in _resolve(service, image.link), chart_id
        others = [results[(s, c)].link for s, c, _ in charts if c != chart_id]
        assert not any(o in text for o in others)


# ------------------------------------------------------------------------------------------ renderer faults
def test_a_killed_renderer_is_restarted_and_the_next_export_works(service, renderer):
    renderer.start()
    starts = renderer.starts
    pids = renderer.browser_pids()
    assert len(pids) >= 2
    os.kill(pids[1], signal.SIGKILL)          # Chromium itself, not the launcher
    image = export_chart(*BAR, "png", resolve_size("square"), service, renderer)
    assert png_size(image.content) == (1000, 1000)
    assert renderer.starts == starts + 1


def test_a_hung_render_times_out_and_the_next_export_works(service):
    r = Renderer(timeout=3)
    try:
        r.start()
        for pid in r.browser_pids()[1:]:
            os.kill(pid, signal.SIGSTOP)      # a browser that no longer answers
        with pytest.raises(RenderTimeout, match="longer than 3 s"):
            export_chart(*BAR, "svg", resolve_size("slide"), service, r)
        image = export_chart(*BAR, "svg", resolve_size("slide"), service, r)
        assert "Source: " in svg_text(image.content)
        assert r.starts == 2
    finally:
        r.close()


# ------------------------------------------------------------------------------------------ maps
def test_map_figure_has_legend_scale_bar_north_arrow_and_context(service):
    result = build_map(service, LSOA, 1000, 900, base_url="https://example.test")
    fig = result.figure
    legend = [t.name for t in fig.data if t.showlegend and t.legendgroup]
    assert "≤ 10 (WHO 2021 guideline)" in legend and "> 40 (above UK annual objective)" in legend
    texts = [a.text for a in fig.layout.annotations]
    assert "<b>N</b>" in texts and any(t.endswith(" km") for t in texts)
    paths = [s for s in fig.layout.shapes if s.type == "path"]
    assert len(paths) >= 4                      # outline, classes, Thames
    assert result.permalink.startswith("https://example.test/map?") and "m:thresholds" in result.permalink
    assert result.short_link.startswith("https://example.test/l/")
    assert "https://example.test" + _resolve(service, result.short_link) == result.permalink


def test_map_png_svg_pdf(service, renderer, tmp_path):
    size = resolve_size("slide", scale=1)
    png = export_map(BOROUGHS, "png", size, service, renderer)
    assert png_size(png.content) == (1280, 720)
    svg = export_map(BOROUGHS, "svg", size, service, renderer, base_url="https://example.test")
    text = svg_text(svg.content)
    assert "London borough boundaries" in text and "boundary" in text
    assert "Map context: London region outline" in text and "River Thames" in text
    assert f"View online: {svg.link}" in text and svg.link.startswith("https://example.test/l/")
    assert "layer=london-boroughs" not in text and "view=" not in text
    pdf = export_map(BOROUGHS, "pdf", size, service, renderer)
    info, pdf_text = pdf_info(pdf.content, tmp_path)
    assert "Page size:       960 x 540 pts" in info
    assert "Contains National Statistics data" in " ".join(pdf_text.split())


def test_lsoa_map_png(service, renderer):
    image = export_map(LSOA, "png", resolve_size("square"), service, renderer)
    assert png_size(image.content) == (1000, 1000)
    assert len(image.content) > 100_000        # thousands of filled areas, not an empty frame


def test_a_map_with_nothing_to_draw_says_why(service, renderer):
    from explorer.export.chart_image import ExportUnavailable

    with pytest.raises(ExportUnavailable, match="no visible layer"):
        export_map("?layer=no-such-dataset", "png", resolve_size("square"), service, renderer)


def test_a_map_on_approximate_wards_says_so_in_its_footer(service):
    """Crime by 2022 ward is drawn on wards approximated from LSOAs: the image says so itself."""
    result = build_map(service, "?layer=crime-ward", 1000, 900, base_url="https://example.test")
    footer = (result.figure.layout["legend2"].title.text or "").replace("<br>", " ")
    assert "Boundaries: Ward shapes approximated from LSOA 2011 areas" in footer
    plain = build_map(service, BOROUGHS, 1000, 900, base_url="https://example.test")
    assert "Source:" in plain.figure.layout["legend2"].title.text
    assert "Boundaries:" not in plain.figure.layout["legend2"].title.text


def test_a_long_map_title_is_wrapped_to_the_image(service):
    title = "Recorded crime by ward, monthly (most recent 24 months to March 2026): 202603 (crimes per month)"
    result = build_map(service, BOROUGHS, 794, 900, title=title)
    lines = result.figure.layout.title.text.removeprefix("<b>").removesuffix("</b>").split("<br>")
    assert len(lines) >= 2 and max(len(line) for line in lines) * 11 <= 794 - 32
    assert " ".join(lines) == title


def test_a_map_image_has_a_plain_title_a_two_line_footer_and_a_full_legend(service):
    """issue 16: "…: NO₂ annual mean, 2016 (µg/m³)", not "…: mean, 2016, no2"; sources and licences
    in two lines plus the link; a point layer's legend lists its classes."""
    result = build_map(service, "?layer=laei-borough:no2-2016,v:NO2-2016-mean", 1000, 900,
                       base_url="https://example.test")
    assert result.title.endswith("NO₂ annual mean, 2016 (µg/m³)"), result.title
    footer = (result.figure.layout["legend2"].title.text or "")
    assert footer.startswith("Source:") and "Licences:" in footer and "View online: " in footer
    lines = [l for l in footer.split("<br>")]
    assert len(lines) <= 8, lines          # two wrapped lines and the link, not a 13-line block
    points = build_map(service, "?layer=monitoring-site-annual-means", 1000, 900, base_url="https://example.test")
    labels = [t.name for t in points.figure.data if t.legendgroup and t.showlegend and t.name]
    layer = points.layers[0]
    if layer.style.get("mode") == "classes":
        assert all(label in labels for label in layer.style["labels"]), (labels, layer.style["labels"])
    else:
        assert "one feature" in labels


def test_a_theme_map_is_exportable(service):
    """Each theme page links its map as an image (layouts/theme_page.map_exports): the same
    layers, classes and palettes, drawn with a complete legend."""
    from explorer.themes.theme_files import load_themes
    from layouts.theme_page import theme_map_search

    theme = next(t for t in load_themes() if t.slug == "air-quality")
    result = build_map(service, theme_map_search(theme), 1000, 900, base_url="https://example.test")
    assert not [n for n in result.notices if "left out" in n], result.notices
    no2 = next(layer for layer in result.layers if layer.variable == "NO2-2019-mean")
    assert no2.style["breaks"] == [10, 20, 30, 40]                 # the theme's thresholds
    legend = [t.name for t in result.figure.data if t.showlegend and t.legendgroup]
    assert all(label in legend for label in no2.style["labels"])
    assert result.title.endswith("NO₂ annual mean, 2019 (µg/m³)")
