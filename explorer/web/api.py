"""HTTP routes beside the Dash pages: the registry as JSON, a DCAT export, preview geometry."""

from __future__ import annotations

import hashlib
import re
import time

from flask import Flask, Response, g, jsonify, request

from explorer.data.cache import cache_key, cached
from explorer.catalogue.dcat import catalogue_jsonld
from explorer.catalogue.registry import FACETS
from explorer.services import Services, entry_document
from explorer.web.compression import cache_compressed_by

# answers of /api/datasets kept in the process: (memo table name, size), seconds
SEARCH_ANSWERS = ("api search answers", 256)
SEARCH_ANSWER_SECONDS = 60
SEARCH_ANSWER_BYTES = 64 * 1024     # 256 kept answers: 16 MB at most (a page of 100 results is ~40 kB)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message, "status": status})
    response.status_code = status
    return response


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw[:20]!r}") from None
    return max(low, min(high, value))


def _cacheable(body: bytes, mimetype: str, max_age: int = 3600) -> Response:
    """``body`` with a strong ETag of its bytes (304 when it matches) and ``max_age`` of caching;
    compressed by explorer/web/compression.py as the client accepts."""
    etag = hashlib.sha256(body).hexdigest()[:32]
    held = _held_etag(etag)
    response = Response(status=304) if held else Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.set_etag(held or etag)
    return response


def register(server: Flask, services: Services) -> None:
    registry = services.registry

    @server.get("/api/datasets")
    def api_search():
        try:
            limit = _int_arg("limit", 20, 0, 1000)
            offset = _int_arg("offset", 0, 0, 10**9)
        except ValueError as exc:
            return _error(400, str(exc))
        filters = {key: request.args.getlist(key) for key in FACETS if request.args.getlist(key)}
        sort = "updated" if request.args.get("sort") == "updated" else "relevance"

        # the same question asked again of the same registry is answered from this process's memo
        # (the words are read, corrected and scored once); for a minute at most, for what the
        # registry does not count as a change (an index still being built for a very large
        # registry), and only answers of a bounded size (a thousand results are not kept)
        key = (registry.version, request.query_string)
        answers = services.data.memos.table(*SEARCH_ANSWERS)
        kept = answers.peek(key)
        if kept is None or time.monotonic() - kept[0] > SEARCH_ANSWER_SECONDS:
            results = registry.search(request.args.get("q", ""), filters, limit=limit, offset=offset, sort=sort)
            kept = (time.monotonic(), jsonify(results.to_dict()).get_data())
            if len(kept[1]) <= SEARCH_ANSWER_BYTES:
                answers.put(key, kept)
        return Response(kept[1], mimetype="application/json")

    @server.get("/api/datasets/<dataset_id>")
    def api_dataset(dataset_id: str):
        if not _ID_RE.match(dataset_id):
            return _error(400, "not a dataset id")
        entry = registry.get(dataset_id)
        if entry is None:
            return _error(404, f"no dataset {dataset_id!r} in the registry")
        return jsonify(entry_document(registry, entry))

    @server.get("/api/dcat")
    @server.get("/catalogue.jsonld")
    def api_dcat():
        # the public address when set; else the request's, whose Host explorer/web/security.py checked
        base = (services.settings.public_url or request.host_url).rstrip("/")
        body = cached(services.cache, cache_key("dcat", registry.version, base),
                      lambda: catalogue_jsonld(list(registry.all()), base))
        return Response(body, mimetype="application/ld+json")

    @server.route("/api/<path:rest>")
    @server.route("/geo/<path:rest>")
    def api_not_found(rest: str):
        # Anything else under /api or /geo is a JSON 404, not the app's HTML page.
        return _error(404, "no such API route")

    @server.get("/geo/<dataset_id>.geojson")
    def geo_preview(dataset_id: str):
        from explorer.geo.joins import DatasetError
        from explorer.geo.geometry_payload import encode, preview_geojson

        if not _ID_RE.match(dataset_id):
            return _error(400, "not a dataset id")
        resource_id = request.args.get("resource") or None
        variable = request.args.get("variable") or None
        if resource_id is not None and not _ID_RE.match(resource_id):
            return _error(400, "not a resource id")
        try:
            loaded = services.data.load(dataset_id, resource_id)
        except DatasetError as exc:
            return _error(404 if exc.stage == "registry" else 422, str(exc))
        if not loaded.is_spatial:
            return _error(422, f"{dataset_id}: {loaded.join_error or 'no geometry to map'}")
        if variable is not None and variable not in loaded.frame.columns:
            return _error(400, f"{dataset_id} has no column {variable!r}")
        key = cache_key("preview-geojson", dataset_id, loaded.resource.id, variable,
                        loaded.entry.content_hash(), 2)
        body = cached(services.cache, key,
                      lambda: encode(preview_geojson(loaded.frame, loaded.kind, variable)))
        return _cacheable(body, "application/geo+json")

    # Map layer geometry by URL: geobuf for dash-leaflet, GeoJSON for anything else --------------
    @server.get("/geo/<dataset_id>/<resource_id>.pbf")
    def geo_layer_geobuf(dataset_id: str, resource_id: str):
        return _geo_layer(services, dataset_id, resource_id, "geobuf")

    @server.get("/geo/<dataset_id>/<resource_id>.geojson")
    def geo_layer_geojson(dataset_id: str, resource_id: str):
        return _geo_layer(services, dataset_id, resource_id, "geojson")

    # a layer's compressed geometry is kept by the payload's own key: compressed once per process
    for endpoint, fmt in (("geo_layer_geobuf", "geobuf"), ("geo_layer_geojson", "geojson")):
        cache_compressed_by(server, endpoint, lambda req, fmt=fmt: _geo_key(services, req, fmt))


def _geo_key(services: Services, req, fmt: str) -> str | None:
    from explorer.maps.layer_geometry import payload_key

    known = g.get("geo_payload_key")     # the view's own, when it answered with the payload
    if known is not None:
        return known
    args = req.view_args or {}
    try:
        return payload_key(services.data, args["dataset_id"], args["resource_id"], fmt)[0]
    except Exception:  # noqa: BLE001 - an unknown layer: its (error) answer is not kept
        return None


GEO_MAX_AGE = 86400
_GEO_MIMETYPES = {"geobuf": "application/x-protobuf", "geojson": "application/geo+json"}
# A layer's geometry answer kept in the process (payload key, resource id, bytes): the same few
# layers are asked for by every visitor, and reading several hundred kB from the shared cache,
# reading the registry entry and hashing it cost ~2 ms of CPU per request. Open entries only;
# bodies over GEO_KEPT_MAX_BYTES are read from the shared cache each time.
GEO_KEPT = ("web.geo_answers", 24)
GEO_KEPT_MAX_BYTES = 4 * 1024 * 1024


def _kept_key(services: Services, dataset_id: str, resource_id: str, fmt: str) -> tuple:
    """What a kept geometry answer depends on beyond the URL: the registry's version (a write, a
    re-harvest, an access change: any of them a new version) and the data folder."""
    return (dataset_id, resource_id, fmt, services.registry.version, str(services.settings.data_dir))


def _held_etag(etag: str) -> str | None:
    """The ETag of the copy of this payload the client holds, plain or compressed (Flask-Compress
    answers ``<etag>:br``), or None."""
    header = request.if_none_match
    if not header:
        return None
    if header.star_tag:
        return etag
    return next((tag for tag in header if tag == etag or tag.startswith(f"{etag}:")), None)


def _geo_layer(services: Services, dataset_id: str, resource_id: str, fmt: str) -> Response:
    """A layer's geometry (explorer.maps.layer_geometry.geometry_payload), computed once and cached by the
    entry's content hash: compressed as the client accepts (explorer/web/compression.py, which
    keeps the compressed bytes by the same key), a strong ETag (304 when it matches),
    and a day of browser caching (the URL changes with nothing; the ETag with the data). An open
    entry's answer is then kept in the process (:data:`GEO_KEPT`, by the registry's version)."""
    from explorer.geo.joins import DatasetError
    from explorer.maps.layer_geometry import geometry_payload, payload_key
    from explorer.maps.layer_info import NotMappable

    if not _ID_RE.match(dataset_id):
        return _error(400, "not a dataset id")
    if not _ID_RE.match(resource_id):
        return _error(400, "not a resource id")
    data = services.data
    kept_as = _kept_key(services, dataset_id, resource_id, fmt)
    kept = data.memos.table(*GEO_KEPT).peek(kept_as)
    if kept is not None:
        key, resource, body = kept
    else:
        try:
            key, resource = payload_key(data, dataset_id, resource_id, fmt)
        except DatasetError as exc:
            return _error(404, str(exc))
        body = None
    etag = key
    held = _held_etag(etag)
    if held:
        response = Response(status=304)
        etag = held                 # the representation the client holds
    elif body is not None:
        response = Response(body, mimetype=_GEO_MIMETYPES[fmt])
    else:
        try:
            payload = cached(services.cache, f"{key}:body",
                             lambda: geometry_payload(data, dataset_id, resource, fmt))
        except NotMappable as exc:
            return _error(422, f"{dataset_id}/{resource}: {exc.reason}")
        except DatasetError as exc:
            return _error(404 if exc.stage == "registry" else 422, str(exc))
        except Exception:  # noqa: BLE001 - a broken file is this layer's problem, not the app's
            import logging
            logging.getLogger(__name__).exception("geometry of %s/%s failed", dataset_id, resource)
            return _error(500, f"{dataset_id}/{resource}: the geometry could not be prepared")
        response = Response(payload, mimetype=_GEO_MIMETYPES[fmt])
        if len(payload) <= GEO_KEPT_MAX_BYTES and data.entry(dataset_id).access_level == "open":
            data.memos.table(*GEO_KEPT).put(kept_as, (key, resource, payload))
    g.geo_payload_key = key     # compression keeps its bytes by it (_geo_key)
    response.headers["Cache-Control"] = f"public, max-age={GEO_MAX_AGE}"
    response.set_etag(etag)
    return response
