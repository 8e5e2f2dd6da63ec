"""Background work that runs once across every host: a lock held in the shared database.

On PostgreSQL a session-level ``pg_try_advisory_lock`` on a connection of its own, held while the
work runs (a host that dies loses its connection and so its lock); on SQLite (one machine) an
exclusive ``flock`` on a file under EXPLORER_HOME, which every worker process of that machine sees.
"""

from __future__ import annotations

import fcntl
import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL's advisory-lock key space)."""
    return int.from_bytes(hashlib.sha256(f"explorer-lock:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def run_once(settings, name: str, wait: bool = False) -> Iterator[bool]:
    """Yields True while this process holds the lock ``name``; False (at once) when another host
    or process holds it and ``wait`` is off."""
    from explorer.db import database_url

    url = database_url(settings)
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            key = lock_key(name)
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
                got = True
            else:
                got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])
            try:
                yield got
            finally:
                if got:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return
    path = Path(settings.home) / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
