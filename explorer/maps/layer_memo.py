"""Where what is derived from a layer's data is kept: tables of the app's memos.

Each kind of derived data (layer descriptions, prepared geometry, values, search trees, long-table
views) has one bounded table on the DataService's ``memos`` (:mod:`explorer.data.memo`), so it
lives and dies with its app; a key names the dataset, the resource and the entry's content hash,
so a changed registry entry is computed again.
"""

from __future__ import annotations

from explorer.data.cache import cache_key

# how many of each kind one app keeps
SIZES = {"info": 64, "geometry": 16, "trees": 16, "values": 128, "series": 16}


def memo_table(service, name: str):
    """The app's table for derived data of kind ``name`` (one of :data:`SIZES`)."""
    return service.memos.table(f"maps.{name}", SIZES[name])


def memo_key(loaded, *parts) -> str:
    """The key of something derived from a loaded dataset, and ``parts`` saying what."""
    return cache_key("maps", loaded.entry.id, loaded.resource.id, loaded.entry.content_hash(), *parts)
