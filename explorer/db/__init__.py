"""Where the shared state lives: SQLite files under EXPLORER_HOME, or one PostgreSQL database.

``EXPLORER_DATABASE_URL`` empty keeps the embedded default (``links.sqlite3``,
``accounts.sqlite3`` beside the registry); ``postgresql://user@host:port/name`` puts short links,
accounts, tokens, publishing versions, the audit log and access requests in that database, so
every host behind a load balancer sees the same rows.

* ``explorer.db.postgres`` — psycopg 3 with a connection pool, behind the same small interface
  as the SQLite wrapper (``explorer.accounts.db.Database``).
* ``explorer.db.migrations`` — the ``schema_migrations`` table: versioned schema steps, run on
  start and by ``explorer db upgrade``.
* ``explorer.db.locks`` — background work that must run once across all hosts.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

_databases: dict[str, object] = {}
_lock = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child (a gunicorn worker) must not use its parent's pool: the pool's threads did
    not come along and its sockets are the parent's. Forget it (closing would end the parent's
    sessions) and let the child open its own."""
    global _lock
    _lock = threading.Lock()
    _databases.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def is_postgres(url: str | None) -> bool:
    return (urlsplit(url or "").scheme or "").lower() in {"postgresql", "postgres"}


def check_url(url: str) -> str:
    """'' or a postgresql:// URL; anything else is refused with the setting's name."""
    if not url or is_postgres(url):
        return url or ""
    raise ValueError(f"EXPLORER_DATABASE_URL must be empty (SQLite under EXPLORER_HOME) or "
                     f"postgresql://user@host:port/name, not a {urlsplit(url).scheme or 'plain'!r} address")


def pg_database(url: str):
    """The process's one pooled PostgreSQL database for ``url``."""
    from explorer.db.postgres import PgDatabase

    with _lock:
        db = _databases.get(url)
        if db is None:
            db = _databases[url] = PgDatabase(url)
        return db


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for printing)."""
    parts = urlsplit(url or "")
    if not parts.password:
        return url or ""
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def database_url(settings) -> str:
    return check_url(getattr(settings, "database_url", "") or "")


def close_all() -> None:
    with _lock:
        for db in _databases.values():
            db.close()
        _databases.clear()


def close(url: str) -> None:
    """Close this process's pool for ``url`` (tests dropping a database; a host shutting down)."""
    with _lock:
        db = _databases.pop(url, None)
    if db is not None:
        db.close()
