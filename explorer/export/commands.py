"""`explorer export …`: chart and map images from the command line, one at a time or a theme at once.

    explorer export chart THEME CHART [--format png|svg|pdf] [--preset a4|slide|square]
                                      [--width W --height H --scale S] [-o FILE]
    explorer export map --url PERMALINK [--format …] [--preset …] [-o FILE]
    explorer export theme THEME -o DIR [--format …] [--preset …]
    explorer export dataset-chart ID [--resource R] [--type T] [--x COL] [--y COL] [--filter COL=V,…]
                                     [--area A,…] [--from YEAR] [--to YEAR] [--group COL] [--sort S]
                                     [--top N | --bottom N] [--agg sum|mean|median]
                                     [--format png|svg|pdf] [--preset …] [--data] -o FILE
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from explorer.export.sizes import FORMATS, PRESETS

_size_options = [
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="png", show_default=True),
    click.option("--preset", type=click.Choice(list(PRESETS)), default="a4", show_default=True,
                 help="a4: A4 report width; slide: 16:9; square."),
    click.option("--width", type=int, default=None, help="Width in pixels (overrides the preset)."),
    click.option("--height", type=int, default=None, help="Height in pixels (overrides the preset)."),
    click.option("--scale", type=float, default=None, help="PNG pixel scale for print (2 ≈ 190 dpi at A4 width)."),
    click.option("--base-url", default=None, help="Address printed in the image's link (EXPLORER_PUBLIC_URL)."),
]


def size_options(fn):
    for option in reversed(_size_options):
        fn = option(fn)
    return fn


def _context(ctx: click.Context):
    from explorer.services import make_data_service, open_registry

    settings = ctx.obj["settings"]
    return settings, make_data_service(settings, open_registry(settings))


def _size(preset, width, height, scale):
    from explorer.export.sizes import SizeError, resolve_size

    try:
        return resolve_size(preset, width, height, scale)
    except SizeError as exc:
        raise click.BadParameter(str(exc)) from None


def _renderer(settings):
    from explorer.export.renderer import Renderer

    return Renderer(timeout=settings.export_timeout)


def _fail(exc: Exception):
    raise click.ClickException(getattr(exc, "reason", None) or str(exc)) from None


def _errors() -> tuple:
    from explorer.export.chart_image import ExportNotFound, ExportUnavailable
    from explorer.export.renderer import RenderError
    from explorer.export.sizes import SizeError

    return (ExportNotFound, ExportUnavailable, RenderError, SizeError)


@click.group("export")
def export_group() -> None:
    """Export chart and map images (PNG, SVG, PDF) with their sources drawn inside."""


@export_group.command("chart")
@click.argument("theme")
@click.argument("chart")
@size_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default THEME-CHART.FORMAT here).")
@click.pass_context
def export_chart_command(ctx, theme, chart, fmt, preset, width, height, scale, base_url, output):
    """Export one chart of a theme."""
    from explorer.export.chart_image import export_chart

    size = _size(preset, width, height, scale)
    _export_one(ctx, output, lambda settings, service, renderer: export_chart(
        theme, chart, fmt, size, service, renderer, base_url=base_url or settings.public_url or None))


def _export_one(ctx, output: Path | None, export) -> None:
    """Run ``export(settings, service, renderer)`` with a renderer of its own; write and report."""
    settings, service = _context(ctx)
    renderer = _renderer(settings)
    try:
        image = export(settings, service, renderer)
    except _errors() as exc:
        _fail(exc)
    finally:
        renderer.close()
    path = output or Path(image.filename)
    path.write_bytes(image.content)
    click.echo(f"{path} ({image.width}×{image.height} px, scale {image.scale:g}, {len(image.content):,} bytes)")
    if image.link:
        click.echo(f"link: {image.link}")


@export_group.command("dataset-chart")
@click.argument("dataset")
@click.option("--resource", default=None, help="The dataset's file (default: its first).")
@click.option("--type", "chart_type", default=None, help="bar, grouped, line, scatter or distribution.")
@click.option("--y", default=None, help="The measure: a column (~periods: the values of a column-per-period table).")
@click.option("--x", default=None, help="The bars' category column, or a scatter's second measure.")
@click.option("--group", default=None, help="A column for one line or bar per value (~period: one per period).")
@click.option("--filter", "filters", multiple=True, help="COL=VALUE[,VALUE…]: only rows with these values.")
@click.option("--area", "areas", default=None, help="Places by code or name, comma-separated (e.g. Lewisham,Southwark).")
@click.option("--from", "start", default=None, help="First year.")
@click.option("--to", "end", default=None, help="Last year.")
@click.option("--sort", default=None, help="desc, asc or name.")
@click.option("--top", default=None, help="Only the N highest.")
@click.option("--bottom", default=None, help="Only the N lowest.")
@click.option("--agg", default=None, help="How rows are combined: sum, mean or median.")
@click.option("--data", "as_data", is_flag=True, help="Write the chart's data as a zip with provenance.json instead.")
@size_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default DATASET-TYPE-chart.FORMAT here).")
@click.pass_context
def export_dataset_chart_command(ctx, dataset, resource, chart_type, y, x, group, filters, areas, start, end, sort,
                                 top, bottom, agg, as_data, fmt, preset, width, height, scale, base_url, output):
    """Export a chart of any table (the dataset page's chart builder); no options: the proposed chart."""
    from explorer.themes.chart_builder import BuilderError, spec_from_options
    from explorer.export.dataset_chart import dataset_chart_package, export_dataset_chart

    try:
        spec = spec_from_options(dataset, resource=resource, type=chart_type, y=y, x=x, group=group,
                                 areas=[a for a in (areas or "").split(",") if a.strip()], start=start, end=end,
                                 filters=list(filters), sort=sort, top=top, bottom=bottom, agg=agg)
    except BuilderError as exc:
        raise click.BadParameter(exc.reason, param_hint=f"--{exc.field}") from None
    if as_data:
        settings, service = _context(ctx)
        try:
            package = dataset_chart_package(dataset, spec, service, base_url=base_url or settings.public_url or None)
        except (*_errors(), BuilderError) as exc:
            _fail(exc)
        path = output or Path(package.filename)
        path.write_bytes(package.content)
        click.echo(f"{path} ({', '.join(package.files)}; {len(package.content):,} bytes)")
        return
    size = _size(preset, width, height, scale)

    def run(settings, service, renderer):
        try:
            return export_dataset_chart(dataset, spec, fmt, size, service, renderer,
                                        base_url=base_url or settings.public_url or None)
        except BuilderError as exc:
            _fail(exc)

    _export_one(ctx, output, run)


@export_group.command("map")
@click.option("--url", required=True, help="The map's permalink (or just its ?query).")
@size_options
@click.option("--title", default=None, help="Title drawn above the map (default: from the top layer).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default map.FORMAT here).")
@click.pass_context
def export_map_command(ctx, url, fmt, preset, width, height, scale, base_url, title, output):
    """Export the map view of a permalink."""
    from explorer.export.map_figure import export_map

    parts = urlsplit(_follow_short_link(ctx, url))
    if parts.path and parts.path.rstrip("/") not in ("/map", "map", "") and not parts.path.endswith("/map"):
        raise click.BadParameter(f"not a map link: {url[:80]!r} (expected …/map?layer=…)", param_hint="--url")
    if not base_url and parts.scheme and parts.netloc:
        base_url = f"{parts.scheme}://{parts.netloc}"
    size = _size(preset, width, height, scale)
    _export_one(ctx, output, lambda settings, service, renderer: export_map(
        "?" + parts.query, fmt, size, service, renderer, base_url=base_url or settings.public_url or None,
        title=title))


def _follow_short_link(ctx, url: str) -> str:
    """A short link (``…/l/<code>``) made on this machine becomes the view it stands for."""
    from explorer.maps.shortlinks import LinkError, store_for

    parts = urlsplit(url)
    head, sep, code = parts.path.rpartition("/l/")
    if not sep or "/" in code or head.strip("/"):
        return url
    try:
        target = store_for(ctx.obj["settings"]).resolve(code)
    except LinkError as exc:
        raise click.BadParameter(str(exc), param_hint="--url") from None
    if target is None:
        raise click.BadParameter(f"no short link {code!r} in this machine's link store (EXPLORER_HOME)",
                                 param_hint="--url")
    return urlunsplit((parts.scheme, parts.netloc, *urlsplit(target)[2:]))


@export_group.command("theme")
@click.argument("theme")
@click.option("-o", "--output", "folder", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the images into (created if missing).")
@size_options
@click.pass_context
def export_theme_command(ctx, theme, folder, fmt, preset, width, height, scale, base_url):
    """Export every chart of a theme, with a progress bar; a chart that fails is reported, the rest go on."""
    from tqdm import tqdm

    from explorer.export.chart_image import export_chart, find_chart

    from explorer.themes.theme_files import load_themes

    settings, service = _context(ctx)
    themes = load_themes()
    match = next((t for t in themes if t.slug == theme), None)
    if match is None:
        try:
            find_chart(theme, "any", themes)   # raises, naming the themes there are
        except _errors() as exc:
            _fail(exc)
    size = _size(preset, width, height, scale)
    folder.mkdir(parents=True, exist_ok=True)
    renderer = _renderer(settings)
    failed = []
    written: list[str] = []
    try:
        for spec in tqdm(match.charts, desc=f"Exporting {theme}", unit="chart", file=sys.stderr):
            try:
                image = export_chart(theme, spec.id, fmt, size, service, renderer,
                                     base_url=base_url or settings.public_url or None, themes=themes)
            except _errors() as exc:
                failed.append(f"{spec.id}: {getattr(exc, 'reason', None) or exc}")
                continue
            (folder / image.filename).write_bytes(image.content)
            written.append(f"  {image.filename}" + (f"  {image.link}" if image.link else ""))
    finally:
        renderer.close()
    click.echo(f"{len(written)} of {len(match.charts)} charts of {theme} written to {folder}")
    for line in written:
        click.echo(line)
    for line in failed:
        click.echo(f"  failed: {line}", err=True)
    if failed:
        raise SystemExit(1)
