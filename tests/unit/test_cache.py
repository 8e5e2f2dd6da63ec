"""Cache configuration and the fall-through when a cache backend fails."""

from __future__ import annotations

import pytest

from explorer.data.cache import cache_config, cached, make_cache
from explorer.settings import Settings


def test_filesystem_is_the_default(tmp_path):
    config = cache_config(Settings(home=tmp_path))
    assert config["CACHE_TYPE"] == "FileSystemCache"
    assert config["CACHE_DIR"] == str(tmp_path / "cache")


def test_unknown_cache_url_is_named(tmp_path):
    with pytest.raises(ValueError, match="EXPLORER_CACHE_URL='memcached://x'"):
        cache_config(Settings(home=tmp_path, cache_url="memcached://x"))


def test_cached_computes_once_and_survives_a_broken_backend(tmp_path):
    cache = make_cache(Settings(home=tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"value": 42}

    assert cached(cache, "k", compute) == {"value": 42}
    assert cached(cache, "k", compute) == {"value": 42}
    assert len(calls) == 1

    class Broken:
        def get(self, key):
            raise ConnectionError("backend down")

        def set(self, key, value, timeout=None):
            raise ConnectionError("backend down")

    assert cached(Broken(), "k", compute) == {"value": 42}
    assert len(calls) == 2
