"""HTTP routes for short permalinks (the store is :mod:`explorer.maps.shortlinks`).

    GET /l/<code>                         302 to the stored view (a path on this site)
    GET|POST /api/shorten?target=/map?…   {"code", "path", "url", "target"} for a view of this app

A malformed code or a target that is not one of the app's views is a 400 naming the problem, an
unknown code a 404 (JSON when the client asks for JSON, else a line of plain text). A client that
shortens more than EXPLORER_SHORTEN_RATE links a minute gets a 429 with Retry-After (counted by
Flask-Limiter, see :mod:`explorer.web.ratelimit`: in Redis, shared by every worker and host, when
the cache is Redis). Links made
here are swept if never opened (see :mod:`explorer.maps.shortlinks`).
"""

from __future__ import annotations

import sqlite3

from flask import Flask, Response, jsonify, redirect, request

from explorer.web.ratelimit import install_limiter, limit_response, per_minute
from explorer.maps.shortlinks import LinkError, _pg_error, short_url, store_for


def _error(status: int, message: str, as_json: bool) -> Response:
    if as_json:
        response = jsonify({"error": message, "status": status})
    else:
        response = Response(f"{status}: {message}\n", mimetype="text/plain")
    response.status_code = status
    return response


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def register(server: Flask, services) -> None:
    settings = services.settings
    rate = max(0, int(getattr(settings, "shorten_rate", 0) or 0))
    limiter = install_limiter(server, settings)

    def too_many(request_limit):
        return limit_response(request_limit, f"too many short links from this address: at most "
                                             f"{rate} a minute")

    def base_url() -> str:
        return (getattr(settings, "public_url", "") or request.host_url).rstrip("/")

    @server.get("/l/<code>")
    def follow_short_link(code: str):
        as_json = _wants_json()
        try:
            target = store_for(settings).resolve(code)
        except LinkError as exc:
            return _error(400, str(exc), as_json)
        if target is None:
            return _error(404, f"no link {code!r} here: it was never made on this site, or its link "
                               "store was reset. Open the map or the themes from the home page.", as_json)
        response = redirect(target, code=302)   # relative: the browser stays on this site
        response.headers["Cache-Control"] = "no-store"
        return response

    def api_shorten():
        body = request.get_json(silent=True) if request.is_json else None
        target = (body or {}).get("target") if isinstance(body, dict) else None
        target = target if target is not None else request.values.get("target")
        try:
            code = store_for(settings).shorten(target, keep=False)
        except LinkError as exc:
            return _error(400, str(exc), True)
        except (sqlite3.Error, _pg_error()):
            return _error(503, "the link store is busy or cannot be written; try again", True)
        return jsonify({"code": code, "path": f"/l/{code}", "url": short_url(base_url(), code), "target": target})

    if rate:   # 0: no limit
        api_shorten = limiter.limit(per_minute(rate), on_breach=too_many)(api_shorten)
    server.add_url_rule("/api/shorten", "api_shorten", api_shorten, methods=["GET", "POST"])
