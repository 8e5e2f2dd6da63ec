"""HTTP routes for exports: chart and map images, and data zips with provenance.

    /export/chart/<theme>/<chart>.<png|svg|pdf>?preset=a4|slide|square&width=&height=&scale=&highlight=
    /export/map.<png|svg|pdf>?<the map's permalink query>&preset=&width=&height=&scale=&title=
    /download/chart/<theme>/<chart>.zip?highlight=
    /download/layer.zip?<the map's permalink query>
    /export/dataset-chart/<dataset>.<png|svg|pdf>?<the chart builder's choices>&preset=&width=&height=&scale=
    /download/dataset-chart/<dataset>.zip?<the chart builder's choices>

Unknown themes, charts, datasets or formats are a JSON 404, impossible sizes and chart-builder
choices that do not fit the data (an unknown column, text as a measure …) a 400, data that cannot be drawn
a 422, a render that timed out a 503 (the renderer has restarted; the next request works).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request

from explorer.themes.chart_builder import BuilderError
from explorer.export.chart_image import ExportNotFound, ExportUnavailable, check_format, export_chart
from explorer.export.renderer import RenderError, RenderTimeout, shared_renderer
from explorer.export.sizes import SizeError, resolve_size

log = logging.getLogger(__name__)


IMAGE_TIMEOUT = 600          # seconds an exported image is served from the cache


class _TilesMissing(Exception):
    """A map image drawn without the basemap it asked for (carries the image)."""

    def __init__(self, image: dict):
        super().__init__("basemap tiles missing")
        self.image = image


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message, "status": status})
    response.status_code = status
    return response


def _file(content: bytes, mimetype: str, filename: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _size():
    args = request.args
    return resolve_size(args.get("preset"), args.get("width"), args.get("height"), args.get("scale"))


def _highlight() -> list[str]:
    return [h for h in request.args.getlist("highlight") if h][:50]


def _map_query() -> str:
    """The permalink part of the query string (the size options are not part of the view)."""
    keep = [(k, v) for k, vs in request.args.lists() for v in vs
            if k not in ("preset", "width", "height", "scale", "title")]
    from urllib.parse import urlencode

    return "?" + urlencode(keep, safe=",:~")


def _theme_datasets(services, slug: str) -> list[str]:
    themes = getattr(services, "themes", None)  # loaded and checked at start-up (callbacks/themes.py)
    if themes is None:
        from explorer.themes.theme_files import load_themes

        themes = {t.slug: t for t in load_themes()}
    theme = themes.get(slug)
    return theme.dataset_ids() if theme is not None else []


def _guarded(fn):
    try:
        return fn()
    except ExportNotFound as exc:
        return _error(404, exc.reason)
    except SizeError as exc:
        return _error(400, str(exc))
    except BuilderError as exc:
        return _error(400, f"{exc.field}: {exc.reason}")
    except ExportUnavailable as exc:
        return _error(422, exc.reason)
    except RenderTimeout as exc:
        return _error(503, str(exc))
    except RenderError as exc:
        log.warning("export failed: %s", exc)
        return _error(500, str(exc))


def register(server: Flask, services) -> None:
    settings = services.settings

    def base_url() -> str:
        return (getattr(settings, "public_url", "") or request.host_url).rstrip("/")

    def renderer():
        return shared_renderer(getattr(settings, "export_timeout", None))

    def remembered(datasets: list[str], render):
        """An image rendered once is served from the app's cache (shared by workers with Redis)
        for ten minutes: fifty people exporting one chart must not queue for fifty renders.
        The key holds the exact request and each dataset's registry content hash, so a
        re-harvested entry is drawn again. A map whose basemap tiles could not be fetched is kept
        only as long as the tile module would not ask the failing server again anyway (a minute):
        a render in that time would draw the same tile-less map, and after it the next export
        tries the tiles again."""
        from dataclasses import asdict

        from explorer.data.cache import cache_key, cached
        from explorer.export.basemap import watch_tiles
        from explorer.export.chart_image import ExportedImage

        key = cache_key("export-image", 1, request.path, sorted(request.args.items(multi=True)), base_url(),
                        services.registry.versions(datasets))
        def draw() -> dict:
            with watch_tiles() as missed:
                image = asdict(render())
            if missed:
                raise _TilesMissing(image)
            return image

        try:
            return ExportedImage(**cached(services.cache, key, draw, timeout=IMAGE_TIMEOUT))
        except _TilesMissing as missing:
            from explorer.export import tiles

            if tiles.RETRY_AFTER >= 1:
                cached(services.cache, key, lambda: missing.image, timeout=int(tiles.RETRY_AFTER))
            return ExportedImage(**missing.image)

    @server.get("/export/chart/<theme>/<chart>.<fmt>")
    def export_chart_image(theme: str, chart: str, fmt: str):
        def run():
            size, fmt_ok = _size(), check_format(fmt)
            image = remembered(_theme_datasets(services, theme), lambda: export_chart(
                theme, chart, fmt_ok, size, services.data, renderer(), base_url=base_url(), highlight=_highlight()))
            return _file(image.content, image.mimetype, image.filename)

        return _guarded(run)

    @server.get("/export/map.<fmt>")
    def export_map_image(fmt: str):
        from explorer.export.map_figure import export_map

        def run():
            title = (request.args.get("title") or "").strip()[:200] or None
            size, fmt_ok = _size(), check_format(fmt)
            datasets = [v.split(",")[0].split(":")[0] for v in request.args.getlist("layer")]
            image = remembered(datasets, lambda: export_map(_map_query(), fmt_ok, size, services.data, renderer(),
                                                            base_url=base_url(), title=title))
            return _file(image.content, image.mimetype, image.filename)

        return _guarded(run)

    @server.get("/download/chart/<theme>/<chart>.zip")
    def download_chart(theme: str, chart: str):
        from explorer.export.data_package import chart_package

        def run():
            package = chart_package(theme, chart, services.data, base_url=base_url(), highlight=_highlight())
            return _file(package.content, "application/zip", package.filename)

        return _guarded(run)

    @server.get("/download/layer.zip")
    def download_layer():
        from explorer.export.data_package import layer_package

        def run():
            package = layer_package(_map_query(), services.data, base_url=base_url())
            return _file(package.content, "application/zip", package.filename)

        return _guarded(run)

    MAX_QUERY = 4000     # bytes of a chart builder's query: far more than any real chart needs

    def builder_params() -> dict[str, list[str]]:
        if len(request.query_string) > MAX_QUERY:
            raise BuilderError("query", f"the address's query is {len(request.query_string):,} bytes; at most {MAX_QUERY:,}")
        return {k: vs for k, vs in request.args.lists()}

    @server.get("/export/dataset-chart/<dataset_id>.<fmt>")
    def export_dataset_chart_image(dataset_id: str, fmt: str):
        from explorer.export.dataset_chart import export_dataset_chart

        def run():
            size, fmt_ok, params = _size(), check_format(fmt), builder_params()
            image = remembered([dataset_id], lambda: export_dataset_chart(
                dataset_id, params, fmt_ok, size, services.data, renderer(), base_url=base_url()))
            return _file(image.content, image.mimetype, image.filename)

        return _guarded(run)

    @server.get("/download/dataset-chart/<dataset_id>.zip")
    def download_dataset_chart(dataset_id: str):
        from explorer.export.dataset_chart import dataset_chart_package

        def run():
            package = dataset_chart_package(dataset_id, builder_params(), services.data, base_url=base_url())
            return _file(package.content, "application/zip", package.filename)

        return _guarded(run)

    @server.route("/export/<path:rest>")
    @server.route("/download/<path:rest>")
    def export_not_found(rest: str):
        return _error(404, "no such export: use /export/chart/<theme>/<chart>.<png|svg|pdf>, "
                           "/export/map.<png|svg|pdf>, /export/dataset-chart/<dataset>.<png|svg|pdf>, "
                           "/download/chart/<theme>/<chart>.zip, /download/dataset-chart/<dataset>.zip or "
                           "/download/layer.zip")
