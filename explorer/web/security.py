"""Hardening for the Flask server under the Dash app, in development and production alike.

``install_security(app, settings)`` adds, to every response:

- a **Content-Security-Policy** the app's own pages satisfy: scripts only from this origin plus the
  sha256 hashes of the inline scripts Dash itself writes into the index page (its renderer start-up
  line and the clientside callbacks), computed by ``dash.Dash.csp_hashes()`` - so no
  ``'unsafe-inline'`` and no ``'unsafe-eval'`` for scripts. ``_dash-config`` is a JSON data block
  (``type="application/json"``), which CSP does not treat as a script. Styles keep
  ``'unsafe-inline'``: React, Leaflet and plotly.js write style attributes and inject ``<style>``
  elements at run time, and a style cannot run code. Map tiles may come from OpenStreetMap and
  CARTO (``img-src``); ``data:`` and ``blob:`` images and ``blob:`` workers are allowed for
  dash-leaflet and plotly's map traces. ``frame-ancestors`` comes from ``EXPLORER_FRAME_ANCESTORS``
  (``'self'`` by default; widen it for the embed mode);
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``, ``X-Frame-Options`` (only when the
  frame ancestors can be said in it) and a restrictive ``Permissions-Policy``;
- **compression** (brotli or gzip, as the client accepts) for text, JSON, JavaScript, CSS, SVG and
  geometry bodies, by Flask-Compress (explorer/web/compression.py);
- long **cache lifetimes** for fingerprinted static files: ``/assets/…?m=<mtime>`` and
  ``/_dash-component-suites/…`` (Dash puts a version/mtime fingerprint in those URLs), one hour
  for the unfingerprinted ones.

It also refuses paths with ``..``, ``.`` or empty segments, backslashes, or encoded dots, slashes,
backslashes, NULs or percent signs (400) before any route sees them (no page or file of this app
needs them), limits request bodies (``MAX_CONTENT_LENGTH``, Dash callback bodies are small),
and answers errors with a plain message (JSON under ``/api``, ``/geo`` and Dash's own routes),
never a stack trace; the trace goes to the server log.

Before any route runs (issue 13):

- the query string is read within bounds (explorer/guards/request_limits.py): exact repeats are
  dropped, an over-long query or too many values are a 400;
- with ``EXPLORER_PUBLIC_URL`` unset, a ``Host`` that is not loopback, the served address or in
  ``EXPLORER_ALLOWED_HOSTS`` is a 400, so no link the app writes can carry a forged host;
- ``/assets/`` serves only the asset types the app has (stylesheets, scripts, images, fonts):
  ``/assets/__init__.py`` is a 404;
- Dash callback requests are checked against the callback they name (explorer/web/callback_guard.py).

After every route: absolute paths under the data folder or the app's home are written relative to
them in text and JSON answers (explorer/web/path_redaction.py): the server's folders stay private.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from explorer.settings import Settings
from explorer.web.compression import install_compression
from explorer.web.path_redaction import Redactor
from explorer.guards.request_limits import REFUSED_KEY, QueryLimits, QueryRefused, host_policy

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024
TILE_HOSTS = ("https://*.tile.openstreetmap.org", "https://*.basemaps.cartocdn.com")
STATIC_MAX_AGE = 365 * 24 * 3600
UNVERSIONED_MAX_AGE = 3600
JSON_PREFIXES = ("/api/", "/geo/", "/_dash-", "/catalogue.jsonld")
# what /assets/ may serve: the types the app's assets folder holds (never its __init__.py)
ASSET_TYPES = frozenset({".css", ".js", ".map", ".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp",
                         ".ico", ".woff", ".woff2", ".ttf", ".otf"})

_KEYWORDS = {"'self'", "'none'"}
_SOURCE_RE = re.compile(
    r"^https?:$"                                                           # a scheme: https:
    r"|^(?:(?:https?|wss?)://)?(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::(?:\d{1,5}|\*))?$",  # a host
    re.IGNORECASE)
_ENCODED_TRAVERSAL = re.compile(r"%(?:2e|2f|5c|00|25)", re.IGNORECASE)  # . / \ NUL and %xx (double encoding)
_INLINE_SCRIPT_RE = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)


# Policy ------------------------------------------------------------------------------------------
def parse_frame_ancestors(value: str) -> list[str]:
    """The CSP ``frame-ancestors`` sources from EXPLORER_FRAME_ANCESTORS, checked one by one."""
    tokens = (value or "").split()
    if not tokens:
        return ["'self'"]
    for token in tokens:
        if token.lower() in _KEYWORDS:
            continue
        if token == "*" or not _SOURCE_RE.match(token):
            raise ValueError(f"EXPLORER_FRAME_ANCESTORS: {token!r} is not a frame-ancestors source "
                             "(use 'self', 'none', a scheme such as https: or an origin such as "
                             "https://www.london.gov.uk)")
    lowered = [t.lower() for t in tokens]
    if "'none'" in lowered and len(tokens) > 1:
        raise ValueError("EXPLORER_FRAME_ANCESTORS: 'none' cannot be combined with other sources")
    return [t.lower() if t.lower() in _KEYWORDS else t for t in tokens]


def content_security_policy(frame_ancestors: list[str], script_hashes: list[str] | tuple = ()) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *dict.fromkeys(script_hashes)],  # each hash once, in order
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *TILE_HOSTS],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": list(frame_ancestors),
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


# What a browser renders as a document (and so can run script in or be framed): the full policy.
# Everything else (JSON, JavaScript, CSS, geobuf, PNG …) gets a short policy that allows nothing:
# the full one cost about 0.9 KB of headers on every callback response.
DOCUMENT_TYPES = {"text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml"}


def resource_policy(frame_ancestors: list[str]) -> str:
    return f"default-src 'none'; frame-ancestors {' '.join(frame_ancestors)}"


def inline_script_hashes(html: str) -> list[str]:
    """CSP sha256 sources for every inline script an HTML page would run (comments and JSON data
    blocks are not scripts). Used by the tests to check the policy against the real index page."""
    out = []
    for attrs, body in _INLINE_SCRIPT_RE.findall(_COMMENT_RE.sub("", html)):
        if re.search(r"\bsrc\s*=", attrs, re.IGNORECASE):
            continue
        kind = re.search(r"\btype\s*=\s*[\"']?([^\"'\s>]+)", attrs, re.IGNORECASE)
        if kind and kind.group(1).lower() not in ("text/javascript", "application/javascript", "module"):
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        out.append(f"'sha256-{digest}'")
    return out


def frame_options(frame_ancestors: list[str]) -> str | None:
    if frame_ancestors == ["'self'"]:
        return "SAMEORIGIN"
    if frame_ancestors == ["'none'"]:
        return "DENY"
    return None  # other origins cannot be said in X-Frame-Options; CSP frame-ancestors rules


# Static lifetimes --------------------------------------------------------------------------------
def _cache_static(response: Response) -> None:
    if response.status_code not in (200, 304):
        return
    path = request.path
    if path.startswith("/assets/") or path == "/_favicon.ico":
        versioned = bool(request.args.get("m") or request.args.get("v"))
    elif path.startswith("/_dash-component-suites/"):
        versioned = response.cache_control.max_age == STATIC_MAX_AGE  # Dash saw a fingerprint
    else:
        return
    if versioned:
        response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}, immutable"
    else:
        response.headers["Cache-Control"] = f"public, max-age={UNVERSIONED_MAX_AGE}"


# Errors ------------------------------------------------------------------------------------------
def _wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def _plain_error(status: int, message: str) -> Response:
    if _wants_json():
        response = jsonify({"error": message, "status": status})
    else:
        response = Response(f"{status}: {message}\n", mimetype="text/plain")
    response.status_code = status
    return response


def _suspicious_path() -> str | None:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    raw_path = raw.split("?", 1)[0]
    if _ENCODED_TRAVERSAL.search(raw_path):
        return "encoded dots, slashes or NUL in the path"
    path = request.path
    if "\\" in path or "\x00" in path:
        return "a backslash or NUL in the path"
    segments = path.split("/")
    if any(segment in ("..", ".") for segment in segments):
        return "a '..' or '.' segment in the path"
    if "" in segments[1:-1]:
        return "an empty segment ('//') in the path"
    return None


# Installation -----------------------------------------------------------------------------------
def install_security(app, settings: Settings | None = None, *,
                     max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
    """Install headers, CSP, compression, static cache lifetimes, path and size limits and plain error
    pages on a Dash app (or on a bare Flask server: then no inline script is allowed)."""
    settings = settings or Settings()
    server: Flask = app if isinstance(app, Flask) else app.server
    dash_app = None if isinstance(app, Flask) else app
    ancestors = parse_frame_ancestors(settings.frame_ancestors)
    xfo = frame_options(ancestors)
    state: dict[str, str] = {}
    state_lock = threading.Lock()

    server.config["MAX_CONTENT_LENGTH"] = max_request_bytes
    server.config["PROPAGATE_EXCEPTIONS"] = False
    server.debug = False
    server.wsgi_app = QueryLimits(server.wsgi_app)  # type: ignore[method-assign]
    host_allowed = None if settings.public_url else host_policy(settings.allowed_hosts)

    def policy() -> str:
        # Hashes are taken on first use, after every clientside callback has been registered.
        with state_lock:
            if "csp" not in state:
                hashes = list(dash_app.csp_hashes()) if dash_app is not None else []
                state["csp"] = content_security_policy(ancestors, hashes)
            return state["csp"]

    @server.before_request
    def _refuse_traversal():
        problem = _suspicious_path()
        if problem:
            log.info("refused %s: %s", request.path[:200], problem)
            return _plain_error(400, f"bad path ({problem})")
        refused = request.environ.get(REFUSED_KEY)
        if refused:
            log.info("refused %s: %s", request.path[:200], refused)
            return _plain_error(400, f"bad query ({refused})")
        if host_allowed is not None and not host_allowed(request.host):
            log.info("refused %s: Host %r is not one of this server's", request.path[:200],
                     request.host[:100])
            return _plain_error(400, "this server does not answer to that Host (its operator can "
                                     "set EXPLORER_PUBLIC_URL or EXPLORER_ALLOWED_HOSTS)")
        if request.path.startswith("/assets/"):
            name = request.path.rsplit("/", 1)[-1].lower()
            if "." not in name or name[name.rindex("."):] not in ASSET_TYPES:
                return _plain_error(404, "no such file")
        return None

    # registered first, so it runs last (Flask runs after-request functions last first): it
    # compresses the body every other one has finished with
    install_compression(server)

    @server.after_request
    def _harden(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = (policy() if response.mimetype in DOCUMENT_TYPES
                                              else resource_policy(ancestors))
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), payment=(), usb=()"
        if xfo:
            headers["X-Frame-Options"] = xfo
        _cache_static(response)
        return response

    redactor = Redactor(settings.data_dir, settings.home)

    @server.after_request
    def _no_server_paths(response: Response) -> Response:
        # registered after the compressor, so it runs before it: on the uncompressed body
        redactor.response(request.path, response)
        return response

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if isinstance(exc, InternalServerError):
            return _internal_error(exc)
        return _plain_error(exc.code or 500, exc.description or exc.name)

    @server.errorhandler(QueryRefused)
    def _query_refused(exc: QueryRefused):
        # the router's or the map's query (a Dash callback's url.search) over the limits
        log.info("refused %s: %s", request.path[:200], exc)
        return _plain_error(400, f"bad query ({exc})")

    @server.errorhandler(InternalServerError)
    def _internal_error(exc: InternalServerError):
        # Flask has already logged the traceback (to the server's error log); the user gets a line.
        return _plain_error(500, "something went wrong on our side; the error has been logged")

    if dash_app is not None:
        from explorer.web.callback_guard import install_callback_guard

        install_callback_guard(dash_app)  # callback bodies checked; bad values a 400, not a 500

    try:
        from dash.exceptions import DependencyException, InvalidResourceError
    except ImportError:  # pragma: no cover - Dash is a dependency
        return

    @server.errorhandler(DependencyException)
    @server.errorhandler(InvalidResourceError)
    def _unknown_static(exc: Exception):
        # Dash raises these for a component-suite path it did not register: a 404, not a 500.
        return _plain_error(404, "no such file")
