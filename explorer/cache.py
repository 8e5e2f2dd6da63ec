"""The cache: flask-caching, filesystem by default, Redis when EXPLORER_CACHE_URL says so.

The same object works with or without a Flask app (the CLI has none): ``make_cache(settings)``
returns a ``flask_caching.Cache`` bound to a private Flask app of its own; the Dash app shares it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Callable, TypeVar

from flask import Flask
from flask_caching import Cache

from .settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


def cache_config(settings: Settings) -> dict:
    url = (settings.cache_url or "").strip()
    base = {"CACHE_DEFAULT_TIMEOUT": settings.cache_timeout, "CACHE_KEY_PREFIX": "explorer:"}
    if url in ("", "filesystem"):
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        return {**base, "CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(settings.cache_dir),
                "CACHE_THRESHOLD": 2000}
    if url == "simple":
        return {**base, "CACHE_TYPE": "SimpleCache"}
    if url == "null":
        return {**base, "CACHE_TYPE": "NullCache"}
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            import redis  # noqa: F401
        except ImportError:
            raise ValueError(f"EXPLORER_CACHE_URL={url!r} needs the redis client: "
                             "pip install 'london-data-explorer[redis]'") from None
        return {**base, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url}
    raise ValueError(f"EXPLORER_CACHE_URL={url!r}: expected '', 'simple', 'null' or a redis:// URL")


def make_cache(settings: Settings, server: Flask | None = None) -> Cache:
    cache = Cache(config=cache_config(settings))
    cache.init_app(server or Flask("explorer-cache"))
    return cache


def cache_key(*parts: object) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cached(cache: Cache | None, key: str, compute: Callable[[], T], timeout: int | None = None) -> T:
    """Return the cached value for key, computing and storing it on a miss.

    A cache that fails (Redis down, disk full) is logged and bypassed: the value is computed.
    """
    if cache is None:
        return compute()
    try:
        value = cache.get(key)
    except Exception as exc:  # noqa: BLE001 - any backend failure means "miss"
        log.warning("cache read failed (%s); computing %s", exc, key)
        value = None
    if value is not None:
        return value
    value = compute()
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        log.warning("cache write failed (%s) for %s", exc, key)
    return value
