"""Response compression, by Flask-Compress: one Accept-Encoding negotiation for every answer.

``install_compression(server)`` hands every response to :class:`flask_compress.Compress`:

- brotli (quality 4) when the client offers it, else gzip (level 6); ``Vary: Accept-Encoding`` on
  every answer; a response that already says ``Content-Encoding`` is left as it is (never
  compressed twice); 2xx answers of at least 500 bytes in the text types below only;
- files sent from disk (the app's ``/assets/``) are compressed as they stream, and answer
  ``If-None-Match`` for the compressed representation (``"<etag>:br"``);
- compressed bytes are kept (an LRU of :data:`CACHE_BYTES` per process) only where the URL, or the
  route's own validator, names the bytes: fingerprinted static files (``/_dash-component-suites/…``,
  ``/assets/…?m=``) and the routes that register a key with :func:`cache_compressed_by` (a map
  layer's geometry, several MB that would otherwise be compressed again for every visitor). Pages
  and JSON differ per request and are compressed each time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

from flask import Flask, Request
from flask_compress import Compress

CACHE_BYTES = 64 * 1024 * 1024
ALGORITHMS = ["br", "gzip"]
MIMETYPES = [
    "text/html", "text/css", "text/plain", "text/csv", "text/javascript", "application/javascript",
    "application/json", "application/ld+json", "application/geo+json", "application/xml",
    "application/x-protobuf", "image/svg+xml",
]
_NOT_KEPT = "-"                     # the key of an answer whose bytes the URL does not name
_KEYS = "explorer.compress_keys"    # server.extensions: endpoint -> key(request) or None


class _KeptBytes:
    """Compressed bodies by key, least recently used dropped past ``max_bytes``; the keys of
    answers that are not to be kept (:data:`_NOT_KEPT`) are never stored."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def set(self, key: str, value: bytes) -> None:
        if key.endswith(";" + _NOT_KEPT) or len(value) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._size += len(value) - (len(old) if old is not None else 0)
            self._items[key] = value
            while self._size > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)


def _fingerprinted(request: Request) -> bool:
    path = request.path
    if path.startswith("/_dash-component-suites/"):
        return True
    return path.startswith("/assets/") and bool(request.args.get("m") or request.args.get("v"))


def install_compression(server: Flask) -> Compress:
    keys: dict[str, Callable[[Request], str | None]] = server.extensions.setdefault(_KEYS, {})

    def cache_key(request: Request) -> str:
        route_key = keys.get(request.endpoint or "")
        if route_key is not None:
            key = route_key(request)
            return f"route:{key}" if key else _NOT_KEPT
        return f"static:{request.full_path}" if _fingerprinted(request) else _NOT_KEPT

    server.config.update(
        COMPRESS_ALGORITHM=ALGORITHMS,
        COMPRESS_ALGORITHM_STREAMING=ALGORITHMS,
        COMPRESS_MIMETYPES=MIMETYPES,
        COMPRESS_LEVEL=6,
        COMPRESS_BR_LEVEL=4,
        COMPRESS_MIN_SIZE=500,
        COMPRESS_CACHE_BACKEND=_KeptBytes,
        COMPRESS_CACHE_KEY=cache_key,
        # files streamed from the assets folder answer If-None-Match for their compressed bytes too
        COMPRESS_STREAMING_ENDPOINT_CONDITIONAL=["static", "_dash_assets.static"],
    )
    return Compress(server)


def cache_compressed_by(server: Flask, endpoint: str, key: Callable[[Request], str | None]) -> None:
    """Keep the compressed answers of ``endpoint`` under ``key(request)`` (None: not kept): the key
    must change whenever the route's bytes do (its ETag, say)."""
    server.extensions.setdefault(_KEYS, {})[endpoint] = key
