"""Rate limits for routes that write (``/api/shorten``), counted by Flask-Limiter.

``install_limiter(server, settings)`` gives the Flask server its :class:`flask_limiter.Limiter`:

- counted in the Redis the app already caches in when ``EXPLORER_CACHE_URL`` is a ``redis://``,
  ``rediss://`` or ``unix://`` URL, so every worker and every host behind one Redis share one
  budget per client; in this process's memory otherwise (one budget per worker);
- a **moving window**: at most N requests from one client in any 60 seconds (so a burst of N, then
  one more each time the oldest of them is a minute old);
- the client is ``request.remote_addr`` (the visitor's address behind EXPLORER_TRUSTED_PROXIES, see
  ``explorer/web/app.py``);
- when Redis cannot be reached, the limiter counts in memory until it answers again and never turns
  a request into an error (a dead Redis costs the socket timeout, not the site).

``limit_response(request_limit, message)`` is the 429 every limited route answers: a JSON
``{"error", "status"}`` naming the limit, with ``Retry-After`` in whole seconds.
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, jsonify
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from flask_limiter.util import get_remote_address

from explorer.data.cache import REDIS_SCHEMES
from explorer.settings import Settings

KEY_PREFIX = "explorer"
# Redis answers in well under this, or the limiter counts in memory meanwhile (cf. explorer/data/cache.py);
# keys as explorer:limits:LIMITER/explorer/<address>/<endpoint>/<n>/1/minute, beside the cache's explorer:…
REDIS_OPTIONS = {"socket_timeout": 1.0, "socket_connect_timeout": 0.25, "key_prefix": "explorer:limits"}


def storage_uri(settings: Settings) -> str:
    """Where limits are counted: the cache's Redis when there is one, else this process's memory."""
    url = (settings.cache_url or "").strip()
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://"):]
    if url.startswith(REDIS_SCHEMES):
        return url
    return "memory://"


def install_limiter(server: Flask, settings: Settings) -> Limiter:
    uri = storage_uri(settings)
    # the route's own 429 (limit_response), ahead of the plain error pages of explorer/web/security.py
    server.register_error_handler(RateLimitExceeded, lambda exc: exc.get_response())
    return Limiter(
        get_remote_address,
        app=server,
        storage_uri=uri,
        storage_options=REDIS_OPTIONS if uri != "memory://" else {},
        strategy="moving-window",
        key_prefix=KEY_PREFIX,
        headers_enabled=False,          # the 429 says Retry-After itself; no X-RateLimit-* on every answer
        in_memory_fallback_enabled=uri != "memory://",
        swallow_errors=True,            # a storage failure lets the request through, logged
    )


def per_minute(count: int) -> str:
    return f"{int(count)} per 1 minute"


def retry_after(reset_at: float, now: float | None = None) -> int:
    """Whole seconds for a Retry-After header (at least 1) until ``reset_at`` (a Unix time)."""
    now = time.time() if now is None else now
    return max(1, math.ceil(reset_at - now))


def limit_response(request_limit: RequestLimit, message: str) -> Response:
    seconds = retry_after(request_limit.window[0])    # when the window frees a request (reset_at rounds up a second)
    response = jsonify({"error": f"{message}; try again in {seconds} s", "status": 429})
    response.status_code = 429
    response.headers["Retry-After"] = str(seconds)
    return response
