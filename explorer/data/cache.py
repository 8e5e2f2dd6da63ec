"""The cache: flask-caching, filesystem by default, Redis when EXPLORER_CACHE_URL says so.

The same object works with or without a Flask app (the CLI has none): ``make_cache(settings)``
returns a ``flask_caching.Cache`` bound to a private Flask app of its own; the Dash app shares it.

With a ``redis://`` URL the backend is :class:`ResilientRedisCache`: Redis shared by every worker
and host, with short socket timeouts, and a local filesystem cache (under EXPLORER_HOME) that takes
over while Redis cannot be reached. The first failure logs one warning; Redis is tried again after
a short back-off (doubling up to half a minute while it stays down) and used again, with an info
line, as soon as it answers. No request waits longer than the socket timeout for a dead Redis.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit, urlunsplit

from flask import Flask
from flask_caching import Cache
from flask_caching.backends.base import BaseCache

from explorer.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


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
    if url.startswith(REDIS_SCHEMES):
        try:
            import redis  # noqa: F401
        except ImportError:
            raise ValueError(f"EXPLORER_CACHE_URL={url!r} needs the redis client: "
                             "pip install 'redis>=5'") from None
        fallback = settings.cache_dir / "redis-fallback"
        fallback.mkdir(parents=True, exist_ok=True)
        return {**base, "CACHE_TYPE": f"{__name__}.ResilientRedisCache", "CACHE_REDIS_URL": url,
                "CACHE_DIR": str(fallback), "CACHE_THRESHOLD": 2000}
    raise ValueError(f"EXPLORER_CACHE_URL={url!r}: expected '', 'simple', 'null' or a redis:// URL")


def make_cache(settings: Settings, server: Flask | None = None) -> Cache:
    cache = Cache(config=cache_config(settings))
    cache.init_app(server or Flask("explorer-cache"))
    return cache


@lru_cache(maxsize=1)
def code_digest() -> str:
    """The app's code (every module of explorer/, layouts/ and callbacks/) and the Dash and plotly
    it runs on, as one sha256: a deploy that changes how a page is drawn (or its component ids) must
    not be served pages from before it, and ``explorer warm`` run by the new version fills the keys
    its workers read."""
    import dash
    import plotly

    root = Path(__file__).resolve().parents[2]
    blob = hashlib.sha256(f"{dash.__version__} {plotly.__version__}".encode())
    for package in ("explorer", "layouts", "callbacks"):
        folder = root / package
        for path in sorted(folder.rglob("*.py")):
            blob.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return blob.hexdigest()


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


# Redis with a local fallback ----------------------------------------------------------------------
def redact_url(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + netloc, parts.path, parts.query, parts.fragment))


class ResilientRedisCache(BaseCache):
    """A flask-caching backend: Redis while it answers, a local cache while it does not.

    Every operation goes to Redis unless Redis failed less than the back-off ago; a Redis error
    (refused, reset, timed out) switches to the local cache for ``retry_after`` seconds, doubling
    while Redis stays down, up to ``max_retry_after``. State is per process (each worker finds out
    for itself); values written locally during an outage are not copied to Redis afterwards (their
    keys name their inputs, so nothing stale can be read back from either side).
    """

    retry_after = 2.0
    max_retry_after = 30.0
    socket_timeout = 1.0
    connect_timeout = 0.25

    def __init__(self, url: str, fallback: BaseCache, default_timeout: int = 300,
                 key_prefix: str = "explorer:"):
        super().__init__(default_timeout=default_timeout)
        import redis
        from flask_caching.backends.rediscache import RedisCache
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url
        self.label = redact_url(url)
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        client = redis.Redis.from_url(
            url, socket_timeout=self.socket_timeout, socket_connect_timeout=self.connect_timeout,
            retry=Retry(NoBackoff(), 0), retry_on_timeout=False, health_check_interval=0)
        self.redis = RedisCache(host=client, default_timeout=default_timeout, key_prefix=key_prefix)
        self.fallback = fallback
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._wait = self.retry_after

    @classmethod
    def factory(cls, app: Flask, config: dict[str, Any], args: list[Any],
                kwargs: dict[str, Any]) -> "ResilientRedisCache":
        from flask_caching.backends.filesystemcache import FileSystemCache

        timeout = kwargs.get("default_timeout", config.get("CACHE_DEFAULT_TIMEOUT", 300))
        prefix = config.get("CACHE_KEY_PREFIX") or "explorer:"
        fallback = FileSystemCache(config["CACHE_DIR"], threshold=config.get("CACHE_THRESHOLD", 500),
                                   default_timeout=timeout)
        return cls(config["CACHE_REDIS_URL"], fallback, default_timeout=timeout, key_prefix=prefix)

    # State -------------------------------------------------------------------------------------
    @property
    def using_redis(self) -> bool:
        """False while Redis is considered down (requests use the local cache)."""
        return self._down_since is None

    def _should_try_redis(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._retry_at

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = now
                self._wait = self.retry_after
            else:
                self._wait = min(self._wait * 2, self.max_retry_after)
            self._retry_at = now + self._wait
        if first:
            log.warning("shared cache: Redis at %s cannot be reached (%s: %s); using the local "
                        "cache and trying Redis again in %.1f s", self.label, type(exc).__name__,
                        exc, self._wait)
        else:
            log.debug("shared cache: Redis at %s still down (%s); next try in %.1f s",
                      self.label, exc, self._wait)

    def _answered(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            down_for = time.monotonic() - self._down_since
            self._down_since = None
            self._wait = self.retry_after
        log.warning("shared cache: Redis at %s is back after %.0f s; using it again",
                    self.label, down_for)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self._should_try_redis():
            try:
                result = getattr(self.redis, name)(*args, **kwargs)
            except self._errors as exc:
                self._failed(exc)
            else:
                self._answered()
                return result
        return getattr(self.fallback, name)(*args, **kwargs)

    # The cache API (flask-caching's BaseCache) -------------------------------------------------
    def get(self, key: str) -> Any:
        return self._call("get", key)

    def get_many(self, *keys: str) -> list[Any]:
        return self._call("get_many", *keys)

    def get_dict(self, *keys: str) -> dict[str, Any]:
        return self._call("get_dict", *keys)

    def set(self, key: str, value: Any, timeout: int | None = None) -> Any:
        return self._call("set", key, value, timeout=timeout)

    def set_many(self, mapping: dict[str, Any], timeout: int | None = None) -> Any:
        return self._call("set_many", mapping, timeout=timeout)

    def add(self, key: str, value: Any, timeout: int | None = None) -> bool:
        return self._call("add", key, value, timeout=timeout)

    def delete(self, key: str) -> bool:
        return self._call("delete", key)

    def delete_many(self, *keys: str) -> Any:
        return self._call("delete_many", *keys)

    def has(self, key: str) -> bool:
        return self._call("has", key)

    def clear(self) -> bool:
        return self._call("clear")

    def inc(self, key: str, delta: int = 1) -> Any:
        return self._call("inc", key, delta)

    def dec(self, key: str, delta: int = 1) -> Any:
        return self._call("dec", key, delta)
