"""PostgreSQL behind the same small interface as the SQLite wrapper (``explorer.accounts.db``).

psycopg 3 with a ``psycopg_pool`` connection pool. The stores write plain SQL in SQLite's dialect
(``?`` placeholders, ``INSERT OR IGNORE``, ``x = ? COLLATE NOCASE``, ``cursor.lastrowid``); the few
spellings they use are turned into PostgreSQL's here, so each store keeps one set of statements.
Anything else SQLite-only is refused loudly rather than guessed.

* ``transaction()`` takes one pooled connection for the block (nested blocks join it), like
  ``BEGIN IMMEDIATE`` on SQLite; outside a transaction each statement borrows a connection in
  autocommit mode and returns it at once.
* Rows answer by position and by column name and turn into dicts, as ``sqlite3.Row`` does.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

POOL_THREAD_PREFIX = "explorer-db-pool"   # the pool's threads are named after it (see explorer.web.production)
_NOCASE_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*\?\s+COLLATE\s+NOCASE", re.IGNORECASE)
_OR_IGNORE_RE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO", re.IGNORECASE)
_INSERT_RE = re.compile(r"^\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


@lru_cache(maxsize=1024)
def translate(sql: str, named: bool = False) -> str:
    """One statement in the stores' SQLite dialect, in PostgreSQL's (``named``: ``:name``
    parameters, given as a dict, rather than ``?``)."""
    if re.search(r"\bPRAGMA\b|\bstrftime\s*\(", sql, re.IGNORECASE):
        raise ValueError(f"SQLite-only statement sent to PostgreSQL: {sql[:80]!r}")
    sql = _NOCASE_RE.sub(lambda m: f"lower({m.group(1)}) = lower(?)", sql)
    if _OR_IGNORE_RE.match(sql):
        sql = _OR_IGNORE_RE.sub("INSERT INTO", sql, count=1).rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    sql = sql.replace("%", "%%")
    return _placeholders(sql, named)


def _placeholders(sql: str, named: bool = False) -> str:
    """``?`` → ``%s`` (or ``:name`` → ``%(name)s``) outside quoted literals."""
    out, quote, i = [], None, 0
    while i < len(sql):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?" and not named:
            out.append("%s")
            i += 1
            continue
        elif named and ch == ":" and (i == 0 or sql[i - 1] != ":"):
            match = re.match(r":([A-Za-z_][A-Za-z0-9_]*)", sql[i:])
            if match and not sql[i + 1:i + 2] == ":":
                out.append(f"%({match.group(1)})s")
                i += match.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


class Row(tuple):
    """A result row: by position, by column name, ``dict(row)`` and ``row.keys()``."""

    _names: tuple[str, ...] = ()

    def __new__(cls, names: tuple[str, ...], values):
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no column {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


class Result:
    """What ``execute`` returns: rows already fetched, ``rowcount`` and ``lastrowid``."""

    def __init__(self, rows: list[Row], rowcount: int, lastrowid: Any = None):
        self._rows = rows
        self._at = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> Row | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchall(self) -> list[Row]:
        rows, self._at = self._rows[self._at:], len(self._rows)
        return rows

    def __iter__(self):
        return iter(self.fetchall())


class Connection:
    """A psycopg connection that speaks the stores' dialect (``execute``, ``executemany``)."""

    def __init__(self, raw, identity_tables: set[str]):
        self.raw = raw
        self._identity = identity_tables

    def execute(self, sql: str, params: tuple | list | dict = ()) -> Result:
        named = isinstance(params, dict)
        text = translate(sql, named)
        returning = None
        match = _INSERT_RE.match(text)
        if match and match.group(1).lower() in self._identity and " returning " not in text.lower():
            text = text.rstrip().rstrip(";") + " RETURNING id"
            returning = True
        with self.raw.cursor() as cur:
            cur.execute(text, params if named else tuple(params))
            rows: list[Row] = []
            if cur.description is not None:
                names = tuple(col.name for col in cur.description)
                rows = [Row(names, values) for values in cur.fetchall()]
            lastrowid = rows[0][0] if returning and rows else None
            return Result([] if returning else rows, cur.rowcount, lastrowid)

    def executemany(self, sql: str, seq) -> Result:
        seq = list(seq)
        named = bool(seq) and isinstance(seq[0], dict)
        with self.raw.cursor() as cur:
            cur.executemany(translate(sql, named), seq if named else [tuple(p) for p in seq])
            return Result([], cur.rowcount)


class PgDatabase:
    """The ``Database`` interface (conn, transaction, query, one, ensure_schema) on PostgreSQL."""

    backend = "postgresql"

    def __init__(self, url: str, min_size: int = 1, max_size: int = 10):
        from psycopg_pool import ConnectionPool

        self.url = url
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=True, timeout=30,
                                   kwargs={"autocommit": True}, name=POOL_THREAD_PREFIX)
        self._local = threading.local()
        self._schemas: list[str] = []
        self._identity: set[str] = set()
        self._refresh_identity()

    def _refresh_identity(self) -> None:
        with self.pool.connection() as raw:
            rows = raw.execute("SELECT table_name FROM information_schema.columns WHERE column_name = 'id'"
                               " AND table_schema = current_schema() AND (is_identity = 'YES'"
                               " OR column_default LIKE 'nextval%%')").fetchall()
        self._identity = {r[0].lower() for r in rows}

    def ensure_schema(self, schema: str, component: str | None = None) -> None:
        """Run the store's schema as a versioned migration (see ``explorer.db.migrations``)."""
        if schema in self._schemas:
            return
        from explorer.db.migrations import apply_schema

        apply_schema(self, schema, component)
        self._schemas.append(schema)
        self._refresh_identity()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        current = getattr(self._local, "conn", None)
        if current is not None:             # a nested block joins the outer transaction
            yield current
            return
        with self.pool.connection() as raw:
            conn = Connection(raw, self._identity)
            self._local.conn = conn
            try:
                with raw.transaction():
                    yield conn
            finally:
                self._local.conn = None

    @contextmanager
    def raw_transaction(self):
        """A plain psycopg connection inside one transaction (for PostgreSQL-only statements)."""
        with self.pool.connection() as raw, raw.transaction():
            yield raw

    def conn(self) -> Connection:
        """This thread's transaction connection, or one that borrows a pooled connection per statement."""
        current = getattr(self._local, "conn", None)
        return current if current is not None else _Borrowing(self)

    def query(self, sql: str, params: tuple | list = ()) -> list[Row]:
        return self.conn().execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | list = ()) -> Row | None:
        return self.conn().execute(sql, params).fetchone()

    def close(self) -> None:
        self.pool.close()


class _Borrowing:
    """Outside a transaction: each statement on a pooled connection in autocommit mode."""

    def __init__(self, db: PgDatabase):
        self.db = db

    def execute(self, sql: str, params: tuple | list = ()) -> Result:
        with self.db.pool.connection() as raw:
            return Connection(raw, self.db._identity).execute(sql, params)

    def executemany(self, sql: str, seq) -> Result:
        with self.db.pool.connection() as raw:
            return Connection(raw, self.db._identity).executemany(sql, seq)
