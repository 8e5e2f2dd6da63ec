"""Memos that live on the app, not in module globals.

One :class:`Memos` is made per :class:`explorer.geo.joins.DataService` (``service.memos``), so every
memo of one app lives on that app: a second ``create_app`` in the same process (another data
folder, another registry) starts with its own, and nothing needs clearing by hand between tests.

``memos.table(name, size)`` is a named, bounded, thread-safe LRU (:class:`LRU`); asking again for
the same name gives the same table. ``table.get(key, compute)`` returns the value kept for ``key``
or calls ``compute()`` once: threads asking for the same key at the same time wait for the first
one's result instead of computing it again (a layer's geometry takes seconds), while other keys go
ahead. ``memos.clear()`` forgets everything (after the registry changes).

This keeps what is derived in this process (layer descriptions, encoded geometry, values); the
flask-caching cache (:mod:`explorer.data.cache`) is what processes share.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

__all__ = ["LRU", "Memos"]

_MISSING = object()


class LRU:
    """A bounded least-recently-used map, safe to share between threads."""

    def __init__(self, name: str, size: int):
        if int(size) < 1:
            raise ValueError(f"memo table {name!r}: size must be at least 1, not {size!r}")
        self.name = name
        self.size = int(size)
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.RLock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value kept for ``key``, else ``compute()``'s (kept). One computation per key at a
        time; an exception is not kept (the next caller tries again)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            try:
                with self._lock:
                    if key in self._data:
                        self._data.move_to_end(key)
                        return self._data[key]
                value = compute()
                self.put(key, value)
                return value
            finally:
                with self._lock:
                    if self._key_locks.get(key) is key_lock:
                        del self._key_locks[key]

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """The value kept for ``key`` (or ``default``), computing nothing and leaving the order."""
        with self._lock:
            value = self._data.get(key, _MISSING)
        return default if value is _MISSING else value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def values(self) -> list:
        """The values kept, least recently used first (a copy)."""
        with self._lock:
            return list(self._data.values())

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __repr__(self) -> str:
        return f"LRU({self.name!r}, {len(self)}/{self.size})"


class Memos:
    """The named memo tables of one app (one per ``DataService``)."""

    def __init__(self):
        self._tables: dict[str, LRU] = {}
        self._lock = threading.Lock()

    def table(self, name: str, size: int) -> LRU:
        """The table called ``name``, made with room for ``size`` items on first use. Asking again
        with another size is a mistake in the code (two callers sharing a name by accident)."""
        with self._lock:
            table = self._tables.get(name)
            if table is None:
                table = self._tables[name] = LRU(name, size)
            elif table.size != int(size):
                raise ValueError(f"memo table {name!r} exists with size {table.size}, asked for {size}")
            return table

    def clear(self) -> None:
        """Forget every table's contents (after the registry changes; tests)."""
        with self._lock:
            tables = list(self._tables.values())
        for table in tables:
            table.clear()

    def __repr__(self) -> str:
        with self._lock:
            return f"Memos({', '.join(repr(t) for t in self._tables.values())})"
