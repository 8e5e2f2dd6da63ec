"""Short permalinks: ``/l/<code>`` stands for one of the app's own views.

An exported image's footer and the UI's "Copy link" carry ``<base>/l/<code>`` instead of the full
map or chart address, which is long enough to wrap over several lines under a map.

* A code is derived from the target itself (40 bits of its sha256, in lower-case base32
  without the look-alike letters i, l, o and u), so the same view always gets the same code and
  nothing needs coordinating between processes. Should two targets ever share a prefix, the later
  one takes a longer prefix of its own hash.
* Links live in a small SQLite file under EXPLORER_HOME (``links.sqlite3``), or in the shared
  PostgreSQL database when EXPLORER_DATABASE_URL is set (``PgLinkStore``), apart from the
  registry: a registry rebuilt from its catalogues must not break links already printed in
  reports. Each shorten is one ``BEGIN IMMEDIATE`` transaction with ``INSERT OR IGNORE``, so
  several gunicorn workers (or threads) shortening the same view at once leave one row.
* Only same-site, relative targets under ``/map``, ``/catalogue``, ``/themes`` and ``/dataset/``
  are accepted, and a stored target is checked again before it is used: ``/l/<code>`` can never
  send a browser to another site.
* Links go into reports, so they must keep working: a link made for an exported image or by the
  UI's "Copy link" (``keep=True``) is kept for good, and so is any link once it has been opened.
  Only a link made through the public ``/api/shorten`` and never opened is removed, once it is
  older than ``unopened_days`` (EXPLORER_LINK_UNOPENED_DAYS; 0 keeps every link). The sweep runs
  when a new link is written, at most once an hour per process.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # 32 symbols: no i, l, o, u
CODE_LENGTH = 8                                 # 40 bits
MAX_CODE_LENGTH = 16
MAX_TARGET_LENGTH = 2000
CODE_RE = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH},{MAX_CODE_LENGTH}}}$")
ALLOWED_PATHS = ("/map", "/catalogue", "/themes")      # these exactly …
ALLOWED_PREFIXES = ("/themes/", "/dataset/")           # … or below these
_PATH_RE = re.compile(r"^/[A-Za-z0-9._~/-]*$")
_QUERY_RE = re.compile(r"^[\x21-\x7e]*$")              # printable ASCII, no spaces or controls
FILE_NAME = "links.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    code TEXT PRIMARY KEY,
    target TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
"""
# Added later; rows written before they existed count as kept (they may already be in reports).
_COLUMNS = {
    "kept": "ALTER TABLE links ADD COLUMN kept INTEGER NOT NULL DEFAULT 1",
    "opened_at": "ALTER TABLE links ADD COLUMN opened_at TEXT",
}
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
SWEEP_EVERY = 3600.0                               # seconds between sweeps of one store


class LinkError(ValueError):
    """A target that may not be shortened or a code that is not one; the message says why."""


def check_target(target: object) -> str:
    """``target`` if it is a relative address of one of the app's shareable views, else LinkError."""
    if not isinstance(target, str) or not target:
        raise LinkError("no target given: pass the view's path and query, such as /map?layer=…")
    if len(target) > MAX_TARGET_LENGTH:
        raise LinkError(f"the target is {len(target):,} characters long; at most {MAX_TARGET_LENGTH:,} are allowed")
    if "\\" in target or not _QUERY_RE.match(target):
        raise LinkError("the target holds a backslash, a space or a control or non-ASCII character")
    if not target.startswith("/") or target.startswith("//"):
        raise LinkError("the target must be a path on this site, starting with a single '/'")
    if "#" in target:
        raise LinkError("the target may not have a #fragment")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        raise LinkError("the target must be a path on this site, not an address with a scheme or host")
    path = parts.path
    if not _PATH_RE.match(path):
        raise LinkError(f"the target's path {path[:80]!r} holds characters no page of this app uses")
    segments = path.split("/")[1:]
    if any(s in ("", ".", "..") for s in segments[:-1]) or segments[-1] in (".", ".."):
        raise LinkError(f"the target's path {path[:80]!r} has an empty, '.' or '..' segment")
    if path not in ALLOWED_PATHS and not any(path.startswith(p) and len(path) > len(p) for p in ALLOWED_PREFIXES):
        raise LinkError(f"only the map, the catalogue, theme and dataset pages can be shortened, not {path[:80]!r}")
    return target


def check_code(code: object) -> str:
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise LinkError(f"not a link code: {str(code)[:40]!r} (codes are {CODE_LENGTH}–{MAX_CODE_LENGTH} "
                        f"characters of {ALPHABET})")
    return code


def _digest_code(target: str) -> str:
    """The target's sha256 in base32 (the whole hash: 52 characters; a code is a prefix)."""
    number = int.from_bytes(hashlib.sha256(target.encode("ascii")).digest(), "big")
    out = []
    for _ in range(52):
        number, digit = divmod(number, 32)
        out.append(ALPHABET[digit])
    return "".join(out)


class LinkStore:
    """Short codes and their targets in one SQLite file; safe across threads and processes."""

    def __init__(self, path: Path | str, unopened_days: int = 0):
        self.path = str(path)
        self.unopened_days = int(unopened_days)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._memory_lock = threading.Lock()     # ":memory:" shares one connection between threads
        self._memory_conn: sqlite3.Connection | None = None
        self._last_sweep: float | None = None   # monotonic time of the last sweep
        with self._locked() as conn:
            conn.executescript(_SCHEMA)
            have = {row[1] for row in conn.execute("PRAGMA table_info(links)")}
            for column, ddl in _COLUMNS.items():
                if column not in have:
                    try:
                        conn.execute(ddl)
                    except sqlite3.OperationalError as exc:   # another process added it first
                        if "duplicate column" not in str(exc):
                            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (the one shared connection, locked, for ":memory:")."""
        if self.path == ":memory:":
            with self._memory_lock:
                if self._memory_conn is None:
                    self._memory_conn = self._connect()
                yield self._memory_conn
            return
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():   # never use a connection across a fork
            conn = self._local.conn = self._connect()
            self._local.pid = os.getpid()
        yield conn

    def shorten(self, target: str, keep: bool = True) -> str:
        """The code for ``target`` (checked first), stored if it is new. Same target, same code.
        ``keep`` marks the link as one that is never swept (made for a report); a kept link stays
        kept when the same view is shortened again without it."""
        target = check_target(target)
        digest = _digest_code(target)
        with self._locked() as conn:
            row = conn.execute("SELECT code, kept FROM links WHERE target = ?", (target,)).fetchone()
            if row and row[1]:
                return row[0]
            conn.execute("BEGIN IMMEDIATE")     # one writer at a time, across processes too
            try:
                code, row = self._shorten_in(conn, target, digest, keep)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if not row:
            self._maybe_sweep()
        return code

    def _shorten_in(self, conn, target: str, digest: str, keep: bool) -> tuple[str, object]:
        """Inside the write transaction: (code, the row already there or None)."""
        row = conn.execute("SELECT code FROM links WHERE target = ?", (target,)).fetchone()
        if row:
            code = row[0]
            if keep:
                conn.execute("UPDATE links SET kept = 1 WHERE code = ?", (code,))
            else:   # handed out again: the time it may wait to be opened starts again
                conn.execute("UPDATE links SET created_at = ? WHERE code = ? AND kept = 0",
                             (_stamp(datetime.now(timezone.utc)), code))
            return code, row
        return self._insert(conn, target, digest, keep), None

    @staticmethod
    def _insert(conn: sqlite3.Connection, target: str, digest: str, keep: bool = True) -> str:
        for length in range(CODE_LENGTH, MAX_CODE_LENGTH + 1):
            code = digest[:length]
            conn.execute("INSERT OR IGNORE INTO links(code, target, kept) VALUES (?, ?, ?)",
                         (code, target, int(keep)))
            row = conn.execute("SELECT target FROM links WHERE code = ?", (code,)).fetchone()
            if row and row[0] == target:
                return code
        raise LinkError("no free code for this target (the link table holds colliding codes)")

    def resolve(self, code: str) -> str | None:
        """The target stored for ``code``, or None; LinkError for a malformed code or a stored
        target that would no longer pass the checks (it is never handed out)."""
        code = check_code(code)
        with self._locked() as conn:
            row = conn.execute("SELECT target, opened_at FROM links WHERE code = ?", (code,)).fetchone()
            if row and row[1] is None:     # first opening: from now on the link is never swept
                try:
                    conn.execute("UPDATE links SET opened_at = ? WHERE code = ? AND opened_at IS NULL",
                                 (_stamp(datetime.now(timezone.utc)), code))
                except sqlite3.Error as exc:   # a read-only or busy store still redirects
                    import logging

                    logging.getLogger(__name__).warning("link %s opened but not marked: %s", code, exc)
        return check_target(row[0]) if row else None

    def sweep(self, now: datetime | None = None) -> int:
        """Remove links that are not kept, were never opened and are older than
        ``unopened_days``; the number removed (0 when expiry is off)."""
        if self.unopened_days <= 0:
            return 0
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=self.unopened_days)
        with self._locked() as conn:
            cursor = conn.execute(
                "DELETE FROM links WHERE kept = 0 AND opened_at IS NULL AND created_at < ?",
                (_stamp(cutoff),))
            return cursor.rowcount

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if self.unopened_days <= 0 or (self._last_sweep is not None and now - self._last_sweep < SWEEP_EVERY):
            return
        self._last_sweep = now
        try:
            self.sweep()
        except sqlite3.Error:               # a busy store: the next write sweeps instead
            self._last_sweep = None

    def count(self) -> int:
        with self._locked() as conn:
            return conn.execute("SELECT COUNT(*) FROM links").fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._memory_conn is not None:
            self._memory_conn.close()
            self._memory_conn = None


# PostgreSQL (EXPLORER_DATABASE_URL): the same table, shared by every host ----------------------
PG_MIGRATIONS = [
    """CREATE TABLE IF NOT EXISTS links (
        code TEXT PRIMARY KEY,
        target TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        kept INTEGER NOT NULL DEFAULT 1,
        opened_at TEXT
    )""",
]


class PgLinkStore(LinkStore):
    """The link table in PostgreSQL: same codes, same rules. Two hosts shortening the same view at
    once both insert with ``ON CONFLICT DO NOTHING`` and read back the one row that won."""

    def __init__(self, url: str, unopened_days: int = 0):
        from explorer.db import pg_database
        from explorer.db.migrations import apply_steps

        self.path = url
        self.unopened_days = int(unopened_days)
        self._last_sweep = None
        apply_steps(pg_database(url), "links", PG_MIGRATIONS)

    @property
    def db(self):
        """This process's pool for the database (a forked worker opens its own)."""
        from explorer.db import pg_database

        return pg_database(self.path)

    def shorten(self, target: str, keep: bool = True) -> str:
        target = check_target(target)
        digest = _digest_code(target)
        row = self.db.one("SELECT code, kept FROM links WHERE target = ?", (target,))
        if row and row[1]:
            return row[0]
        with self.db.transaction() as conn:     # INSERT OR IGNORE runs as ON CONFLICT DO NOTHING
            code, row = self._shorten_in(conn, target, digest, keep)
        if not row:
            self._maybe_sweep()
        return code

    def resolve(self, code: str) -> str | None:
        code = check_code(code)
        row = self.db.one("SELECT target, opened_at FROM links WHERE code = ?", (code,))
        if row and row[1] is None:
            self.db.conn().execute("UPDATE links SET opened_at = ? WHERE code = ? AND opened_at IS NULL",
                                   (_stamp(datetime.now(timezone.utc)), code))
        return check_target(row[0]) if row else None

    def sweep(self, now: datetime | None = None) -> int:
        if self.unopened_days <= 0:
            return 0
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=self.unopened_days)
        return self.db.conn().execute(
            "DELETE FROM links WHERE kept = 0 AND opened_at IS NULL AND created_at < ?", (_stamp(cutoff),)).rowcount

    def _maybe_sweep(self) -> None:
        try:
            super()._maybe_sweep()
        except Exception:                  # a busy database: the next write sweeps instead
            self._last_sweep = None

    def count(self) -> int:
        return self.db.one("SELECT COUNT(*) FROM links")[0]

    def close(self) -> None:
        """The pool is the process's (shared with the other stores); nothing of our own to close."""


_stores: dict[str, LinkStore] = {}
_stores_lock = threading.Lock()


def store_for(settings) -> LinkStore:
    """The link store: PostgreSQL when EXPLORER_DATABASE_URL is set, else the file under
    ``settings.home`` (one object per file or database per process)."""
    from explorer.db import database_url

    url = database_url(settings)
    days = int(getattr(settings, "link_unopened_days", 0) or 0)
    if url:
        with _stores_lock:
            store = _stores.get(url)
            if store is None:
                store = _stores[url] = PgLinkStore(url, unopened_days=days)
            store.unopened_days = days
            return store
    path = str(Path(settings.home) / FILE_NAME)
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = LinkStore(path, unopened_days=days)
        store.unopened_days = days
        return store


def _pg_error() -> type[BaseException]:
    try:
        import psycopg
    except ImportError:                    # not installed: no PostgreSQL errors can occur
        return OSError
    return psycopg.Error


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_STAMP)


def short_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/l/{code}"


def link_for(settings, base_url: str, target: str) -> str:
    """``<base>/l/<code>`` for ``target``, or the full ``<base><target>`` when the link cannot be
    stored (a read-only home, say): an export is still made and still leads back to the view."""
    import logging

    try:
        return short_url(base_url, store_for(settings).shorten(target))
    except (LinkError, sqlite3.Error, OSError, _pg_error()) as exc:
        logging.getLogger(__name__).warning("no short link for %s: %s", target[:120], exc)
        return base_url.rstrip("/") + target
