"""The registry: catalogue entries in an embedded SQLite database with FTS5 search and facets.

One row per entry holds its JSON; an FTS5 table indexes title, description, tags and publisher
(Porter stemming, diacritics folded) and ranks with BM25 field weights; a facet table holds one row
per (entry, facet, value) so counts are a GROUP BY. Writes happen in transactions: a harvest that
fails half-way leaves the registry as it was.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .models import Entry
from .synonyms import expansions, normalise

SCHEMA_VERSION = 1

# Facet keys as they appear in URLs, the CLI (--facet KEY=VALUE) and JSON output.
FACETS: dict[str, str] = {
    "theme": "Theme",
    "publisher": "Publisher",
    "format": "Format",
    "licence": "Licence",
    "geography": "Smallest geography",
    "frequency": "Update frequency",
    "access": "Access",
}

# BM25 weights: title, description, tags, publisher.
FIELD_WEIGHTS = (10.0, 1.0, 4.0, 3.0)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS entries (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    sort_title TEXT NOT NULL,
    updated TEXT,
    data TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    harvested_at TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
    title, description, tags, publisher,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS facets (
    entry_rowid INTEGER NOT NULL REFERENCES entries(rowid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS facets_kv ON facets(key, value, entry_rowid);
CREATE INDEX IF NOT EXISTS facets_entry ON facets(entry_rowid);
CREATE INDEX IF NOT EXISTS entries_sort ON entries(sort_title);
"""


@dataclass
class Hit:
    entry: Entry
    score: float
    snippet: str = ""


@dataclass
class SearchResults:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    query: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    mode: str = "all"  # "all" terms, "any" term (fallback), or "browse" (no query)

    def to_dict(self) -> dict:
        """The stable JSON shape of `explorer catalogue search --json` and /api/datasets."""
        return {
            "query": self.query,
            "filters": self.filters,
            "total": self.total,
            "match": self.mode,
            "results": [
                {
                    "id": h.entry.id,
                    "title": h.entry.title,
                    "publisher": h.entry.publisher,
                    "score": round(h.score, 4),
                    "licence": h.entry.licence,
                    "themes": h.entry.themes,
                    "formats": h.entry.formats,
                    "smallest_geography": h.entry.smallest_geography,
                    "update_frequency": h.entry.update_frequency,
                    "access_level": h.entry.access_level,
                    "updated": h.entry.updated,
                    "snippet": h.snippet,
                }
                for h in self.hits
            ],
            "facets": {key: [{"value": v, "count": c} for v, c in values]
                       for key, values in self.facets.items()},
        }


def facet_values(entry: Entry) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    pairs += [("theme", t.lower()) for t in entry.themes]
    if entry.publisher:
        pairs.append(("publisher", entry.publisher))
    pairs += [("format", f) for f in entry.formats]
    if entry.licence:
        pairs.append(("licence", entry.licence))
    if entry.smallest_geography:
        pairs.append(("geography", entry.smallest_geography))
    if entry.update_frequency:
        pairs.append(("frequency", entry.update_frequency))
    pairs.append(("access", entry.access_level))
    return list(dict.fromkeys(pairs))


_TOKEN_RE = re.compile(r"[\w£€$%\-']+", re.UNICODE)


def fts_query(text: str, mode: str = "all") -> str:
    """Turn what a person typed into a safe FTS5 query: every word quoted; the last one a prefix."""
    words = [w.strip("-'") for w in _TOKEN_RE.findall(normalise(text))]
    words = [w for w in words if w]
    if not words:
        return ""
    parts = ['"' + w.replace('"', '""') + '"' for w in words]
    if len(words[-1]) >= 2:
        parts[-1] = parts[-1] + "*"
    return (" AND " if mode == "all" else " OR ").join(parts)


def _synonyms(entry: Entry) -> list[str]:
    return expansions(" ".join([entry.title, entry.description, *entry.tags, entry.publisher]))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Registry:
    """The catalogue store. Thread-safe: one SQLite connection per thread, WAL journal."""

    def __init__(self, path: Path | str):
        self.path = str(path)
        self._memory = self.path == ":memory:"
        self._local = threading.local()
        self._shared_conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        with self._lock:
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
            conn.commit()

    # Connections ---------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._memory:
            if self._shared_conn is None:
                self._shared_conn = sqlite3.connect(":memory:", check_same_thread=False,
                                                    isolation_level=None)
                self._shared_conn.execute("PRAGMA foreign_keys = ON")
            return self._shared_conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            self._local.depth = 0
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._shared_conn is not None:
            self._shared_conn.close()
            self._shared_conn = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write for many upserts; nested calls join the outer transaction."""
        conn = self._conn()
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._lock.acquire()
            conn.execute("BEGIN IMMEDIATE")
        self._local.depth = depth + 1
        try:
            yield
        except BaseException:
            self._local.depth = depth
            if depth == 0:
                conn.execute("ROLLBACK")
                self._lock.release()
            raise
        self._local.depth = depth
        if depth == 0:
            conn.execute("COMMIT")
            self._lock.release()

    # Writes --------------------------------------------------------------------------------
    def upsert(self, entry: Entry) -> str:
        """Store an entry; return 'added', 'updated' or 'unchanged'."""
        digest = entry.content_hash()
        now = _now()
        with self.transaction():
            conn = self._conn()
            row = conn.execute("SELECT rowid, content_hash FROM entries WHERE id = ?",
                               (entry.id,)).fetchone()
            data = json.dumps(entry.to_dict(), ensure_ascii=False, default=str)
            if row is not None and row[1] == digest:
                conn.execute("UPDATE entries SET harvested_at = ?, source = ? WHERE rowid = ?",
                             (now, entry.source, row[0]))
                return "unchanged"
            if row is None:
                cur = conn.execute(
                    "INSERT INTO entries(id, title, sort_title, updated, data, content_hash, source,"
                    " first_seen, harvested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry.id, entry.title, entry.title.casefold(), entry.updated, data, digest,
                     entry.source, now, now))
                rowid = cur.lastrowid
                status = "added"
            else:
                rowid = row[0]
                conn.execute(
                    "UPDATE entries SET title = ?, sort_title = ?, updated = ?, data = ?,"
                    " content_hash = ?, source = ?, harvested_at = ? WHERE rowid = ?",
                    (entry.title, entry.title.casefold(), entry.updated, data, digest,
                     entry.source, now, rowid))
                conn.execute("DELETE FROM entries_fts WHERE rowid = ?", (rowid,))
                conn.execute("DELETE FROM facets WHERE entry_rowid = ?", (rowid,))
                status = "updated"
            conn.execute(
                "INSERT INTO entries_fts(rowid, title, description, tags, publisher)"
                " VALUES (?, ?, ?, ?, ?)",
                (rowid, normalise(entry.title), normalise(entry.description),
                 " ".join(entry.tags + entry.themes + _synonyms(entry)), normalise(entry.publisher)))
            conn.executemany("INSERT INTO facets(entry_rowid, key, value) VALUES (?, ?, ?)",
                             [(rowid, k, v) for k, v in facet_values(entry)])
            self._bump_version(conn)
            return status

    def delete(self, entry_id: str) -> bool:
        with self.transaction():
            conn = self._conn()
            row = conn.execute("SELECT rowid FROM entries WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM entries_fts WHERE rowid = ?", (row[0],))
            conn.execute("DELETE FROM facets WHERE entry_rowid = ?", (row[0],))
            conn.execute("DELETE FROM entries WHERE rowid = ?", (row[0],))
            self._bump_version(conn)
            return True

    def _bump_version(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO meta(key, value) VALUES ('version', '1') ON CONFLICT(key)"
                     " DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._conn().execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key)"
                                 " DO UPDATE SET value = excluded.value", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def version(self) -> int:
        return int(self.get_meta("version") or 0)

    # Reads ---------------------------------------------------------------------------------
    def get(self, entry_id: str) -> Entry | None:
        row = self._conn().execute("SELECT data FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return Entry.from_dict(json.loads(row[0])) if row else None

    def record(self, entry_id: str) -> dict | None:
        """Registry bookkeeping for an entry: source, first seen, last harvested."""
        row = self._conn().execute(
            "SELECT source, first_seen, harvested_at FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            return None
        return {"source": row[0], "first_seen": row[1], "harvested_at": row[2]}

    def count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def ids(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT id FROM entries ORDER BY sort_title")]

    def all(self) -> Iterator[Entry]:
        for (data,) in self._conn().execute("SELECT data FROM entries ORDER BY sort_title"):
            yield Entry.from_dict(json.loads(data))

    def search(self, query: str = "", filters: dict[str, list[str]] | None = None,
               limit: int = 20, offset: int = 0, facet_limit: int = 30) -> SearchResults:
        """Full-text search with facet filters (OR within a facet, AND across facets)."""
        filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items() if k in FACETS}
        filters = {k: vs for k, vs in filters.items() if vs}
        limit = max(0, min(int(limit), 1000))
        offset = max(0, int(offset))
        conn = self._conn()
        mode = "browse"
        match = ""
        if query.strip():
            mode = "all"
            match = fts_query(query, "all")
            if not match:
                mode = "browse"

        def run(match_expr: str) -> tuple[int, list, dict]:
            where, params = self._filter_sql(filters)
            if match_expr:
                base = ("SELECT entries_fts.rowid AS rid, bm25(entries_fts, ?, ?, ?, ?) AS rank"
                        " FROM entries_fts WHERE entries_fts MATCH ?")
                base_params: list = [*FIELD_WEIGHTS, match_expr]
                if where:
                    base += " AND entries_fts.rowid IN (" + where + ")"
                    base_params += params
            else:
                base = "SELECT rowid AS rid, 0.0 AS rank FROM entries"
                base_params = []
                if where:
                    base += " WHERE rowid IN (" + where + ")"
                    base_params += params
            total = conn.execute(f"SELECT COUNT(*) FROM ({base})", base_params).fetchone()[0]
            order = "m.rank, e.sort_title" if match_expr else "e.sort_title"
            snippet_sql = ("snippet(entries_fts, 1, char(2), char(3), '…', 24)" if match_expr
                           else "''")
            page_sql = (f"SELECT e.data, m.rank, {snippet_sql} FROM ({base}) AS m"
                        " JOIN entries AS e ON e.rowid = m.rid")
            if match_expr:
                page_sql += " JOIN entries_fts ON entries_fts.rowid = m.rid AND entries_fts MATCH ?"
                page_params = base_params + [match_expr]
            else:
                page_params = list(base_params)
            page_sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
            rows = conn.execute(page_sql, page_params + [limit, offset]).fetchall()
            counts = self._facet_counts(base, base_params, facet_limit) if total else {}
            return total, rows, counts

        total, rows, counts = run(match)
        if mode == "all" and total == 0 and len(_TOKEN_RE.findall(query)) > 1:
            mode = "any"
            match = fts_query(query, "any")
            total, rows, counts = run(match)
        hits = [Hit(Entry.from_dict(json.loads(data)), float(-rank) + 0.0, snippet or "")
                for data, rank, snippet in rows]
        return SearchResults(total=total, hits=hits, facets=counts, query=query,
                             filters=filters, mode=mode)

    @staticmethod
    def _filter_sql(filters: dict[str, list[str]]) -> tuple[str, list]:
        if not filters:
            return "", []
        clauses = []
        params: list = []
        for key, values in sorted(filters.items()):
            marks = ", ".join("?" for _ in values)
            clauses.append(f"SELECT entry_rowid FROM facets WHERE key = ? AND value IN ({marks})")
            params += [key, *values]
        return " INTERSECT ".join(clauses), params

    def _facet_counts(self, base: str, params: list, facet_limit: int) -> dict[str, list[tuple[str, int]]]:
        rows = self._conn().execute(
            f"SELECT f.key, f.value, COUNT(*) AS n FROM facets AS f"
            f" WHERE f.entry_rowid IN (SELECT rid FROM ({base}))"
            f" GROUP BY f.key, f.value ORDER BY f.key, n DESC, f.value", params).fetchall()
        counts: dict[str, list[tuple[str, int]]] = {key: [] for key in FACETS}
        for key, value, n in rows:
            if key in counts and len(counts[key]) < facet_limit:
                counts[key].append((value, n))
        return {k: v for k, v in counts.items() if v}

    def facet_totals(self) -> dict[str, list[tuple[str, int]]]:
        return self._facet_counts("SELECT rowid AS rid FROM entries", [], 1000)
