"""The registry: catalogue entries in an embedded SQLite database with FTS5 search and facets.

One row per entry holds its JSON; an FTS5 table indexes title, description, tags and publisher
(Porter stemming, diacritics folded, prefix indexes for what is being typed) and ranks with BM25
field weights; a facet table holds one row per (entry, facet, value). Writes happen in
transactions: a harvest that fails half-way leaves the registry as it was.

Searching: a request is read for its content words (``catalogue.query``), a word the registry
does not hold is corrected from its own vocabulary (an unstemmed FTS5 table of titles, tags and
publishers: ``catalogue.spelling``), and other names of what is asked are added
(``synonyms.query_synonyms``, at half weight). BM25F over an in-memory inverted index of the
registry version (``catalogue.lexical``: built once per version, in the background for a large
registry, FTS5's ``bm25()`` answering until it is ready) ranks the entries holding any of them;
that ranking is fused (a convex combination of normalised scores, ``lexical.fuse``) with the
cosine similarity of the request to every entry's vector (``catalogue.semantic``; vectors stored
in the ``vectors`` table per entry content hash, kept in memory per registry version). Filters, the total, the ordering and the facet
counts are array operations over a facet index (which entries carry each facet value, the title
and last-updated orders) read once per registry version (a counter every write increases); the
page's rows and snippets are read for those 20 rows only.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import re
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

from explorer.catalogue import lexical, semantic
from explorer.catalogue.query import Understood, understand
from explorer.catalogue.spelling import Speller
from explorer.catalogue.models import Entry
from explorer.catalogue.synonyms import expansions, normalise

SCHEMA_VERSION = 3  # 2: prefix indexes on the full-text table; 3: words table, vectors

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
    tokenize = 'porter unicode61 remove_diacritics 2', prefix = '2 3 4 5'
);
CREATE TABLE IF NOT EXISTS facets (
    entry_rowid INTEGER NOT NULL REFERENCES entries(rowid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS facets_kv ON facets(key, value, entry_rowid);
CREATE INDEX IF NOT EXISTS facets_entry ON facets(entry_rowid);
CREATE INDEX IF NOT EXISTS entries_sort ON entries(sort_title);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_words USING fts5(
    words, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_words_vocab USING fts5vocab(entries_words, 'row');
CREATE TABLE IF NOT EXISTS vectors (
    entry_rowid INTEGER PRIMARY KEY REFERENCES entries(rowid) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    vec BLOB NOT NULL
);
"""

# Fusion: LEXICAL_SHARE × (BM25F ÷ the best BM25F) + (1 − LEXICAL_SHARE) × similarity scaled
# over the results (lexical.fuse). Equal shares: not tuned.
LEXICAL_SHARE = 0.5
# Entries that only the semantic ranking finds join the results when they are among its first
# SEMANTIC_POOL and at least SEMANTIC_FLOOR similar to the request.
SEMANTIC_POOL = 30
SEMANTIC_FLOOR = 0.35
# When no word of the request is in the registry, only a close meaning counts (random letters
# reach 0.3–0.4 against some entry with this model; a real word and its topic 0.5 and more).
SEMANTIC_ALONE_FLOOR = 0.5
# Above COARSE_FROM vectors, similarity is scanned on their first COARSE_DIM numbers and the best
# COARSE_REFINE results (or the page, if deeper) are scored again on all of them.
COARSE_FROM = 20_000
COARSE_DIM = 64
COARSE_REFINE = 200


@dataclass
class Hit:
    entry: Entry
    score: float
    snippet: str = ""
    why: dict = field(default_factory=dict)   # {"words": [...], "similar_meaning": bool}

    def why_text(self) -> str:
        """Why this result is here, in words: "Matches “air”, “quality” · similar in meaning"."""
        parts = []
        words = self.why.get("words") or []
        if words:
            parts.append("Matches " + ", ".join(f"“{w}”" for w in words))
        if self.why.get("similar_meaning"):
            parts.append("similar in meaning" if parts else "Similar in meaning to your search")
        return " · ".join(parts)


@dataclass
class SearchResults:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    query: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    mode: str = "all"  # "all" terms, "any" term (fallback), or "browse" (no query)
    sort: str = "relevance"          # or "updated" (last updated first)
    understood: list[str] = field(default_factory=list)   # the words that decided the ranking
    did_you_mean: str | None = None  # the request with misspelt words corrected
    suggestions: list[str] = field(default_factory=list)  # closest searches, when nothing matched

    def to_dict(self) -> dict:
        """The stable JSON shape of `explorer catalogue search --json` and /api/datasets."""
        return {
            "query": self.query,
            "filters": self.filters,
            "total": self.total,
            "match": self.mode,
            "sort": self.sort,
            "understood": self.understood,
            "did_you_mean": self.did_you_mean,
            "suggestions": self.suggestions,
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
                    "why": h.why,
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


MAX_INDEXED_PREFIX = 5  # the longest prefix in the full-text table's prefix indexes


def _cheap_per_row(match: str) -> bool:
    """One quoted word, whole or with an indexed prefix: FTS5 finds one rowid without expanding."""
    parts = match.split(" AND ") if " AND " in match else match.split(" OR ")
    if len(parts) != 1:
        return False
    word = parts[0]
    return not word.endswith("*") or len(word) - 3 <= MAX_INDEXED_PREFIX


def fts_query(text: str, mode: str = "all") -> str:
    """Turn what a person typed into a safe FTS5 query: every word quoted; the last one a prefix."""
    words = [w.strip("-'") for w in _TOKEN_RE.findall(normalise(text))]
    words = [w for w in words if w]
    if not words:
        return ""
    parts = []
    for i, word in enumerate(words):
        quoted = '"' + word.replace('"', '""') + '"'
        if i == len(words) - 1 and len(word) >= 2:
            quoted += "*"
        if len(word) >= 4 and word[-1] in "yY":
            # Porter stems "employ" to "emploi" but "employment" to "employ": also match the word
            # without its final y, so the word itself finds what its derived forms find.
            stem = '"' + word[:-1].replace('"', '""') + '"*'
            quoted = f"({quoted} OR {stem})"
        parts.append(quoted)
    return (" AND " if mode == "all" else " OR ").join(parts)


def _quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def request_match(words: list[str], synonyms: list[str], mode: str = "any",
                  prefix_last: bool = False) -> str:
    """The FTS5 expression for the words of a request (each quoted; a word ending in y also as its
    stem, as in :func:`fts_query`; the last one a prefix when it is being typed) and the other
    names of what it asks for (as phrases, OR)."""
    parts = []
    for i, word in enumerate(words):
        quoted = _quote(word)
        if prefix_last and i == len(words) - 1 and len(word) >= 2:
            quoted += "*"
        if len(word) >= 4 and word[-1] == "y":
            quoted = f"({quoted} OR {_quote(word[:-1])}*)"
        parts.append(quoted)
    if mode == "all":
        return " AND ".join(parts)
    parts += [_quote(" ".join(_TOKEN_RE.findall(s))) for s in synonyms if _TOKEN_RE.findall(s)]
    return " OR ".join(dict.fromkeys(parts))


def _words_row(rowid: int, entry: Entry) -> tuple:
    """The unstemmed words of an entry (title, tags, publisher): the vocabulary of "Did you mean"."""
    return (rowid, normalise(" ".join([entry.title, *entry.tags, *entry.themes, entry.publisher])))


_WORDS_INSERT = "INSERT INTO entries_words(rowid, words) VALUES (?, ?)"


def _synonyms(entry: Entry) -> list[str]:
    return expansions(" ".join([entry.title, entry.description, *entry.tags, entry.publisher]))


def _fts_row(rowid: int, entry: Entry) -> tuple:
    """The indexed text of an entry: title, description, tags (with themes and the other names of
    its acronyms) and publisher."""
    return (rowid, normalise(entry.title), normalise(entry.description),
            " ".join(entry.tags + entry.themes + _synonyms(entry)), normalise(entry.publisher))


_FTS_INSERT = ("INSERT INTO entries_fts(rowid, title, description, tags, publisher)"
               " VALUES (?, ?, ?, ?, ?)")


def _record(obj):
    """``Entry.to_dict()`` without its deep copies (the dict is only serialised): the same JSON in
    a fifth of the time, which a harvest of 1,249 entries felt (asdict took 2.9 s of it)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _record(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_record(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _record(v) for k, v in obj.items()}
    return obj


def _digest(record: dict) -> str:
    """The hash of an entry's content, ignoring where it came from (as ``Entry.content_hash``),
    computed from a dict already made, so an upsert turns the entry into a dict once."""
    blob = json.dumps({k: v for k, v in record.items() if k != "source"}, sort_keys=True,
                      ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class _FacetIndex:
    """Which entries carry each facet value, and the title order, as arrays (one registry version).

    ``rows[v]`` are the rowids holding value ``v`` (= ``values[v]``, a (key, value) pair);
    ``pair_rowid``/``pair_value`` list every (entry, value) pair for counting with ``bincount``;
    ``title_pos[rowid]`` is an entry's place in title order (-1 = no entry)."""

    version: int
    by_title: np.ndarray                 # rowids in title order
    title_pos: np.ndarray
    values: list[tuple[str, str]]
    value_id: dict[tuple[str, str], int]
    rows: list[np.ndarray]
    pair_rowid: np.ndarray
    pair_value: np.ndarray
    by_key: dict[str, np.ndarray]        # value ids of each facet key, in value order
    totals: dict[str, list[tuple[str, int]]]
    row_ptr: np.ndarray | None = None    # value ids of entry r: row_values[row_ptr[r]:row_ptr[r + 1]]
    row_values: np.ndarray | None = None
    updated_pos: np.ndarray | None = None  # an entry's place in "last updated first" order

    @classmethod
    def read(cls, conn: sqlite3.Connection, version: int) -> "_FacetIndex":
        by_title = np.fromiter((r for (r,) in conn.execute(
            "SELECT rowid FROM entries ORDER BY sort_title")), dtype=np.int64)
        size = int(by_title.max()) + 1 if by_title.size else 1
        title_pos = np.full(size, -1, dtype=np.int64)
        title_pos[by_title] = np.arange(by_title.size)
        values: list[tuple[str, str]] = []
        rows: list[np.ndarray] = []
        for key, value, ids in conn.execute(
                "SELECT key, value, group_concat(entry_rowid) FROM facets GROUP BY key, value"
                " ORDER BY key, value"):
            values.append((key, value))
            rows.append(np.unique(np.array(ids.split(","), dtype=np.int64)))
        lengths = [len(r) for r in rows]
        pair_rowid = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        pair_value = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        keep = pair_rowid < size  # a facet row whose entry is gone counts for nothing
        pair_rowid, pair_value = pair_rowid[keep], pair_value[keep]
        by_key: dict[str, list[int]] = {}
        for v, (key, _) in enumerate(values):
            by_key.setdefault(key, []).append(v)
        index = cls(version=version, by_title=by_title, title_pos=title_pos, values=values,
                    value_id={pair: v for v, pair in enumerate(values)}, rows=rows,
                    pair_rowid=pair_rowid, pair_value=pair_value,
                    by_key={k: np.asarray(v, dtype=np.int64) for k, v in by_key.items()}, totals={})
        by_row = np.argsort(pair_rowid, kind="stable")
        index.row_values = pair_value[by_row]
        index.row_ptr = np.searchsorted(pair_rowid[by_row], np.arange(size + 1))
        index.totals = index.counts(None, 1000)
        by_updated = np.fromiter((r for (r,) in conn.execute(
            "SELECT rowid FROM entries ORDER BY updated IS NULL, updated DESC, sort_title")), dtype=np.int64)
        index.updated_pos = np.full(size, -1, dtype=np.int64)
        index.updated_pos[by_updated] = np.arange(by_updated.size)
        return index

    def values_of(self, rowids: np.ndarray) -> np.ndarray:
        """The facet value ids of these entries, one per (entry, value) pair: reads only their
        pairs, so a search matching a fifth of the registry does a fifth of the work."""
        starts, ends = self.row_ptr[rowids], self.row_ptr[rowids + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if not total:
            return np.zeros(0, dtype=np.int64)
        # positions: each entry's run start, repeated, plus 0, 1, 2 … within its run
        offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        return self.row_values[offsets + np.arange(total)]

    def counts(self, mask: np.ndarray | None, limit: int,
               rowids: np.ndarray | None = None) -> dict[str, list[tuple[str, int]]]:
        """Facet counts over the entries in ``mask`` (all when None), or over ``rowids`` (the same
        entries, listed, when the caller has them): per facet, most first, then by value, at most
        ``limit`` values."""
        if rowids is not None:
            picked = self.values_of(rowids)
        elif mask is None:
            picked = self.pair_value
        else:
            picked = self.pair_value[mask[self.pair_rowid]]
        n = np.bincount(picked, minlength=len(self.values))
        out: dict[str, list[tuple[str, int]]] = {}
        for key in FACETS:
            ids = self.by_key.get(key)
            if ids is None:
                continue
            counts = n[ids]
            present = counts > 0
            ids, counts = ids[present], counts[present]
            order = np.argsort(-counts, kind="stable")[:limit]  # ties keep value order
            if order.size:
                out[key] = [(self.values[i][1], int(c)) for i, c in zip(ids[order], counts[order])]
        return out

    def mask_for(self, filters: dict[str, list[str]]) -> np.ndarray | None:
        """Entries passing the filters (OR within a facet, AND across facets); None = no filter."""
        mask = None
        for key, wanted in filters.items():
            hit = np.zeros(self.title_pos.size, dtype=bool)
            for value in wanted:
                v = self.value_id.get((key, value))
                if v is not None:
                    ids = self.rows[v]
                    hit[ids[ids < hit.size]] = True
            mask = hit if mask is None else (mask & hit)
        return mask


def _typing(text: str, words: list[str]) -> bool:
    """Is the request's last word still being typed (the text ends with it, no space or mark)?"""
    return bool(words) and bool(re.search(re.escape(words[-1]) + r"$", normalise(text).lower()))



def _why_stem(word: str) -> str:
    return (word if len(word) <= 5 else word[:max(5, len(word) - 3)]).lower()


@functools.lru_cache(maxsize=256)
def _why_pattern(terms: tuple[str, ...]) -> tuple[re.Pattern, frozenset]:
    """One pattern for the stems of all of a request's words (an entry's text is read once), and
    the stems that start another one ("air", "airport"): a match of the longer hides them."""
    stems = {_why_stem(w) for w in terms}
    hidden = frozenset(x for x in stems if any(y != x and y.startswith(x) for y in stems))
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(x) for x in sorted(stems, key=len, reverse=True))
                         + ")")
    return pattern, hidden


def _why(entry: Entry, words: list[str], synonyms: list[str], similar: bool) -> dict:
    """Which of the request's words (or other names of them) an entry holds, and whether it was
    found for its meaning."""
    text = " ".join([entry.title, entry.description, *entry.tags, *entry.themes, entry.publisher,
                     *expansions(entry.title + " " + " ".join(entry.tags))]).lower()
    terms = tuple(dict.fromkeys([*words, *synonyms]))
    if not terms:
        return {"words": [], "similar_meaning": bool(similar)}
    pattern, hidden = _why_pattern(terms)
    present = {m.group(1) for m in pattern.finditer(text)}
    present |= {x for x in hidden - present if re.search(r"(?<!\w)" + re.escape(x), text)}
    found = [w for w in terms if _why_stem(w) in present]
    return {"words": found, "similar_meaning": bool(similar)}


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
        self._index: _FacetIndex | None = None
        self._index_lock = threading.Lock()
        self._embedder = semantic.Embedder()
        self._vectors = None             # (version, rowids, matrix) of the semantic index
        self._coarse = None              # (that tuple, its vectors' first COARSE_DIM numbers)
        self._vectors_lock = threading.Lock()
        self._spelling: tuple[int, Speller] | None = None
        # The in-memory BM25F index of the last registry version it was built for, and the
        # background build of a newer one ("memory"; "fts5" ranks with FTS5's bm25() instead).
        self.lexical_backend = "memory"
        self._lex: lexical.LexicalIndex | None = None
        self._lex_lock = threading.Lock()
        self._lex_thread: threading.Thread | None = None
        self._lex_error: str | None = None
        conn = self._conn()
        with self._lock:
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
            conn.commit()
        self._migrate()

    def _migrate(self) -> None:
        """Bring a registry written by an older version up to this schema."""
        if int(self.get_meta("schema_version") or SCHEMA_VERSION) >= SCHEMA_VERSION:
            return
        with self.transaction():
            conn = self._conn()
            if int(self.get_meta("schema_version") or 0) < 2:
                # Rebuild the full-text table with prefix indexes, from the stored entries.
                create = _SCHEMA[_SCHEMA.index("CREATE VIRTUAL TABLE"):]
                create = create[:create.index(";") + 1]
                conn.execute("DROP TABLE IF EXISTS entries_fts")
                conn.execute(create)
                rows = conn.execute("SELECT rowid, data FROM entries").fetchall()
                conn.executemany(_FTS_INSERT, (_fts_row(rowid, Entry.from_dict(json.loads(data)))
                                               for rowid, data in rows))
            if int(self.get_meta("schema_version") or 0) < 3:
                conn.execute("DELETE FROM entries_words")
                rows = conn.execute("SELECT rowid, data FROM entries").fetchall()
                conn.executemany(_WORDS_INSERT, (_words_row(rowid, Entry.from_dict(json.loads(data)))
                                                 for rowid, data in rows))
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            self._bump_version(conn)

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
                # The version counter goes back too: forget an index read inside the transaction.
                self._index = None
                self._lock.release()
            raise
        self._local.depth = depth
        if depth == 0:
            conn.execute("COMMIT")
            self._lock.release()

    # Writes --------------------------------------------------------------------------------
    def upsert(self, entry: Entry) -> str:
        """Store an entry; return 'added', 'updated' or 'unchanged'."""
        record = _record(entry)
        digest = _digest(record)
        now = _now()
        with self.transaction():
            conn = self._conn()
            row = conn.execute("SELECT rowid, content_hash FROM entries WHERE id = ?",
                               (entry.id,)).fetchone()
            if row is not None and row[1] == digest:
                conn.execute("UPDATE entries SET harvested_at = ?, source = ? WHERE rowid = ?",
                             (now, entry.source, row[0]))
                return "unchanged"
            data = json.dumps(record, ensure_ascii=False, default=str)
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
                conn.execute("DELETE FROM entries_words WHERE rowid = ?", (rowid,))
                conn.execute("DELETE FROM facets WHERE entry_rowid = ?", (rowid,))
                status = "updated"
            conn.execute(_FTS_INSERT, _fts_row(rowid, entry))
            conn.execute(_WORDS_INSERT, _words_row(rowid, entry))
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
            conn.execute("DELETE FROM entries_words WHERE rowid = ?", (row[0],))
            conn.execute("DELETE FROM facets WHERE entry_rowid = ?", (row[0],))
            conn.execute("DELETE FROM vectors WHERE entry_rowid = ?", (row[0],))
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

    def versions(self, entry_ids) -> list[tuple[str, str | None]]:
        """(id, content hash) of each entry, sorted, None for one not in the registry: part of a
        cache key for anything drawn from these entries, so a re-harvested entry is drawn anew."""
        out = []
        for entry_id in sorted(set(entry_ids)):
            entry = self.get(entry_id)
            out.append((entry_id, entry.content_hash() if entry is not None else None))
        return out

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

    def from_source(self, source: str) -> Iterator[Entry]:
        """The entries a source label stored (e.g. 'bundled'), in title order."""
        for (data,) in self._conn().execute("SELECT data FROM entries WHERE source = ? ORDER BY sort_title",
                                            (source,)):
            yield Entry.from_dict(json.loads(data))

    def all(self) -> Iterator[Entry]:
        for (data,) in self._conn().execute("SELECT data FROM entries ORDER BY sort_title"):
            yield Entry.from_dict(json.loads(data))

    def search(self, query: str = "", filters: dict[str, list[str]] | None = None,
               limit: int = 20, offset: int = 0, facet_limit: int = 30,
               sort: str = "relevance") -> SearchResults:
        """Search with facet filters (OR within a facet, AND across facets).

        A request is read for its content words (:func:`explorer.catalogue.query.understand`),
        misspelt words are corrected from the registry's vocabulary, and two scores are combined
        (:func:`explorer.catalogue.lexical.fuse`): BM25F over the words and the other names of
        what is asked for, and semantic similarity of the request to each entry. ``sort="updated"`` orders the same
        results by last update instead."""
        filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items() if k in FACETS}
        filters = {k: vs for k, vs in filters.items() if vs}
        limit = max(0, min(int(limit), 1000))
        offset = max(0, int(offset))
        sort = "updated" if sort == "updated" else "relevance"
        understood = understand(query) if query.strip() else None
        if understood is not None and not understood.words:
            understood = None
        vectors = self._semantic_index() if understood is not None else None
        with self._snapshot() as conn:
            index = self._facet_index(conn)
            allowed = index.mask_for(filters)
            if understood is None:
                total, page, counts = self._browse(index, allowed, limit, offset, facet_limit, sort)
                data = self._rows(conn, page)
                hits = [Hit(Entry.from_dict(json.loads(data[rid])), 0.0) for rid in page]
                return SearchResults(total=total, hits=hits, facets=counts, query=query,
                                     filters=filters, mode="browse", sort=sort)
            lex = self._lexical_index(conn, index.version) if self.lexical_backend == "memory" else None
            words, did_you_mean = self._spell(conn, index, understood, lex)
            synonyms = understood.synonyms
            typing = _typing(query, words)
            match = request_match(words, synonyms, "any", typing)
            # one BM25 ranking over the words and the other names of what they ask for (a separate,
            # half-weight ranking for the other names was tried: worse on every measure)
            clauses = None
            if lex is not None:
                lex_rids, lex_scores, mode, clauses = self._ranked(lex, index, words, synonyms, typing,
                                                                   allowed)
            else:
                mode = "all" if self._any_match(conn, request_match(words, [], "all", typing)) else "any"
                lex_rids, bm25 = self._lexical(conn, index, match, allowed)
                lex_scores = -bm25
            similarities, refine = self._similarities(index, vectors, words, allowed)
            fused = lexical.fuse(index.title_pos.size, [(lex_rids, lex_scores, 1.0)], similarities,
                                 pool=SEMANTIC_POOL, floor=SEMANTIC_FLOOR,
                                 alone_floor=SEMANTIC_ALONE_FLOOR, alpha=LEXICAL_SHARE,
                                 refine=refine, refine_top=max(COARSE_REFINE, offset + limit))
            rids, scores, similar = fused.rids, fused.scores, fused.similar
            total = int(rids.size)
            key = index.updated_pos[rids] if sort == "updated" else -scores
            want = offset + limit
            if 0 < want < total:  # sort only what can reach the page
                cut = np.partition(key, want - 1)[want - 1]
                near = np.flatnonzero(key <= cut)
            else:
                near = np.arange(total)
            order = near[np.lexsort((index.title_pos[rids[near]], key[near]))][offset:offset + limit]
            page, page_scores = rids[order].tolist(), scores[order].tolist()
            counts = index.counts(None, facet_limit, rowids=rids) if total else {}
            data = self._rows(conn, page)
            records = {rid: json.loads(data[rid]) for rid in page}
            if (clauses is not None and page and not _cheap_per_row(match)
                    and index.title_pos.size > self.SYNC_BUILD_MAX):
                # several words in a large registry: FTS5 would run the whole expression over the
                # page's rowid range (most of the table at 100,000 entries); the page's own
                # descriptions are marked instead (slower than FTS5 on a small registry)
                snippets = {rid: lex.snippet(records[rid].get("description") or "", clauses)
                            for rid in page}
            else:
                snippets = self._snippets(conn, match, page) if match and page else {}
            suggestions = self._suggestions(conn, words, did_you_mean, filters) if not total else []
        hits = []
        for rid, score in zip(page, page_scores):
            entry = Entry.from_dict(records[rid])
            hits.append(Hit(entry, round(float(score) * 1000, 4), snippets.get(rid) or "",
                            why=_why(entry, words, synonyms, rid in similar)))
        return SearchResults(total=total, hits=hits, facets=counts, query=query, filters=filters,
                             mode=mode, sort=sort, understood=words, did_you_mean=did_you_mean,
                             suggestions=suggestions)

    # Request understanding -----------------------------------------------------------------
    def _any_match(self, conn: sqlite3.Connection, match: str) -> bool:
        if not match:
            return False
        return conn.execute("SELECT 1 FROM entries_fts WHERE entries_fts MATCH ? LIMIT 1",
                            (match,)).fetchone() is not None

    def _speller(self, conn: sqlite3.Connection, version: int) -> Speller:
        cached = self._spelling
        if cached is not None and cached[0] == version:
            return cached[1]
        vocabulary = dict(conn.execute("SELECT term, doc FROM entries_words_vocab"))
        speller = Speller(vocabulary)
        if not getattr(self._local, "depth", 0):
            self._spelling = (version, speller)
        return speller

    def _spell(self, conn: sqlite3.Connection, index: "_FacetIndex", understood: Understood,
               lex: "lexical.LexicalIndex | None" = None) -> tuple[list[str], str | None]:
        """The request's words with those that match nothing replaced by the closest known word,
        and the corrected request ("Did you mean …") when a word was replaced."""
        words = list(understood.words)
        changed: dict[str, str] = {}
        typing = _typing(understood.text, words)

        def known(word: str, prefix: bool = False) -> bool:
            if lex is None:
                return self._any_match(conn, _quote(word) + ("*" if prefix else ""))
            clause = lex.clause(word, prefix=prefix)
            return clause is not None and lex.holds(clause)

        for i, word in enumerate(words):
            if len(word) < Speller.MIN_LENGTH or not word.isalpha():
                continue
            if known(word, typing and i == len(words) - 1):
                continue
            better = self._speller(conn, index.version).correct(word)
            if better and known(better):
                words[i] = better
                changed[word] = better
        if not changed:
            return words, None
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in changed) + r")\b", re.I)
        fixed = pattern.sub(lambda m: changed[m.group(1).lower()], understood.text.strip())
        return list(dict.fromkeys(words)), fixed

    def _suggestions(self, conn: sqlite3.Connection, words: list[str], did_you_mean: str | None,
                     filters: dict) -> list[str]:
        """Closest searches that do find something: the corrected request, each of its words."""
        out = [did_you_mean] if did_you_mean else []
        if len(words) > 1:
            out += [w for w in words if self._any_match(conn, _quote(w))]
        return list(dict.fromkeys(out))[:5]

    # Semantic similarity -------------------------------------------------------------------
    def _semantic_index(self):
        """(version, rowids, unit vectors) of every entry, for the current registry version.

        Vectors live in the ``vectors`` table keyed by the entry's content hash: only entries
        without a vector for their current content are embedded (after a harvest, that is the new
        and changed ones; in a new process, none)."""
        if not self._embedder.available():
            return None
        version = self.version
        cached = self._vectors
        if cached is not None and cached[0] == version:
            return cached
        with self._vectors_lock:
            cached = self._vectors
            if cached is not None and cached[0] == version:
                return cached
            self.index_vectors()
            conn = self._conn()
            rows = conn.execute(
                "SELECT e.rowid, v.vec FROM entries e JOIN vectors v ON v.entry_rowid = e.rowid"
                " AND v.content_hash = e.content_hash AND v.model = ? ORDER BY e.rowid",
                (semantic.MODEL_NAME,)).fetchall()
            rowids = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
            matrix = semantic.from_blobs([v for _, v in rows])
            cached = (version, rowids, matrix)
            if not getattr(self._local, "depth", 0):
                self._vectors = cached
            return cached

    def index_vectors(self, batch: int = 4096) -> int:
        """Embed the entries whose content has no vector yet; return how many were embedded."""
        if not self._embedder.available():
            return 0
        conn = self._conn()
        missing = conn.execute(
            "SELECT e.rowid, e.content_hash, e.data FROM entries e LEFT JOIN vectors v"
            " ON v.entry_rowid = e.rowid AND v.content_hash = e.content_hash AND v.model = ?"
            " WHERE v.entry_rowid IS NULL", (semantic.MODEL_NAME,)).fetchall()
        done = 0
        for start in range(0, len(missing), batch):
            chunk = missing[start:start + batch]
            texts = []
            for _, _, data in chunk:
                record = json.loads(data)
                texts.append(semantic.entry_text(record.get("title") or "", record.get("tags") or [],
                                                 record.get("description") or ""))
            vecs = self._embedder.embed(texts)
            rows = [(rowid, digest, semantic.MODEL_NAME, semantic.to_blob(vec))
                    for (rowid, digest, _), vec in zip(chunk, vecs)]
            with self.transaction():
                self._conn().executemany(
                    "INSERT INTO vectors(entry_rowid, content_hash, model, vec) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(entry_rowid) DO UPDATE SET content_hash = excluded.content_hash,"
                    " model = excluded.model, vec = excluded.vec", rows)
            done += len(rows)
        return done

    def _lexical(self, conn: sqlite3.Connection, index: "_FacetIndex", match: str,
                 allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Rowids matching ``match`` that pass the filters, with their BM25 (lower is better)."""
        size = index.title_pos.size
        if not match:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        cursor = conn.execute("SELECT rowid, bm25(entries_fts, ?, ?, ?, ?) FROM entries_fts"
                              " WHERE entries_fts MATCH ?", (*FIELD_WEIGHTS, match))
        pairs = np.fromiter(itertools.chain.from_iterable(cursor), dtype=np.float64).reshape(-1, 2)
        rids = pairs[:, 0].astype(np.int64)
        ranks = pairs[:, 1]
        keep = rids < size
        rids, ranks = rids[keep], ranks[keep]
        keep = index.title_pos[rids] >= 0
        if allowed is not None:
            keep &= allowed[rids]
        return rids[keep], ranks[keep]   # in no order: fusion ranks them by value

    def _similarities(self, index: "_FacetIndex", vectors, words: list[str],
                      allowed: np.ndarray | None):
        """((rowids, cosine similarity to the request) of every entry that may be shown, or None;
        and, for a large registry, a function giving the exact similarity of some rowids).

        Up to COARSE_FROM vectors, every similarity is exact. Above, all of them are first read
        from the vectors' first COARSE_DIM numbers (WordLlama is trained Matryoshka-style: a
        prefix of its vector is itself an embedding), a quarter of the memory to stream — the
        full scan was most of a search at 100,000 entries — and the results that can reach the
        page are scored again with all 256 (``lexical.fuse``'s refine step)."""
        if vectors is None or not vectors[1].size:
            return None, None
        _, vec_rids, matrix = vectors
        # the words as typed (corrected): the model finds other names by itself, and the
        # synonyms' words pulled neighbouring topics ("noise pollution" + "air quality")
        request = self._embedder.embed([" ".join(words)])[0]
        if not np.any(request):
            return None, None
        size = index.title_pos.size
        if matrix.shape[0] > COARSE_FROM:
            coarse = self._coarse_vectors(vectors)
            head = request[:COARSE_DIM]
            norm = float(np.linalg.norm(head))
            # einsum, not BLAS: a threaded BLAS matrix-vector product took 50 ms instead of 1
            # on a busy 2-core machine (its threads wait for each other)
            sims = np.einsum("ij,j->i", coarse, head / (norm or 1.0))

            def refine(rids: np.ndarray) -> np.ndarray:
                rows = np.searchsorted(vec_rids, rids)
                rows = np.minimum(rows, vec_rids.size - 1)
                exact = np.einsum("ij,j->i", matrix[rows], request)
                return np.where(vec_rids[rows] == rids, exact, np.nan)   # nan: no vector
        else:
            sims = np.einsum("ij,j->i", matrix, request)
            refine = None
        ok = vec_rids < size
        vec_rids_ok, sims = vec_rids[ok], sims[ok]
        ok = index.title_pos[vec_rids_ok] >= 0
        if allowed is not None:
            ok &= allowed[vec_rids_ok]
        return (vec_rids_ok[ok], sims[ok]), refine

    def _coarse_vectors(self, vectors) -> np.ndarray:
        """The first COARSE_DIM numbers of every vector, unit length again (once per version)."""
        cached = self._coarse
        if cached is not None and cached[0] is vectors:
            return cached[1]
        head = np.ascontiguousarray(vectors[2][:, :COARSE_DIM])
        norms = np.linalg.norm(head, axis=1, keepdims=True)
        np.divide(head, norms, out=head, where=norms > 0)
        self._coarse = (vectors, head)
        return head

    # The in-memory lexical index ----------------------------------------------------------------
    SYNC_BUILD_MAX = 20_000   # a registry this small builds its index within the search (~0.3 s)

    def _ranked(self, lex: "lexical.LexicalIndex", index: "_FacetIndex", words: list[str],
                synonyms: list[str], typing: bool,
                allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, str, list]:
        """(rowids, BM25F scores, "all" or "any") of the request over the in-memory index: every
        entry holding a word or another name of what is asked (a name of several words: all of
        them); "all" when some entry holds every word."""
        clauses = []
        for i, word in enumerate(words):
            clause = lex.clause(word, prefix=typing and i == len(words) - 1 and len(word) >= 2)
            if clause is not None:
                clauses.append(clause)
        n_words = len(clauses)
        for other in synonyms:
            clause = lex.clause(other, weight=lexical.SYNONYM_WEIGHT, is_word=False)
            if clause is not None:
                clauses.append(clause)
        rids, scores, held = lex.score(clauses)
        mode = "all" if n_words and held >= n_words else "any"
        rids = rids.astype(np.int64)
        keep = rids < index.title_pos.size
        rids, scores = rids[keep], scores[keep]
        keep = index.title_pos[rids] >= 0
        if allowed is not None:
            keep &= allowed[rids]
        return rids[keep], scores[keep], mode, clauses

    def _lexical_index(self, conn: sqlite3.Connection, version: int) -> "lexical.LexicalIndex | None":
        """The in-memory index of this registry version, or None while it is being built.

        A registry of up to SYNC_BUILD_MAX entries builds it at once; a larger one builds it in a
        background thread (one at a time) and searches with FTS5's bm25() until it is ready, so a
        write never makes a search wait for a rebuild. Inside a write transaction (uncommitted
        rows) the FTS5 path answers."""
        lex = self._lex
        if lex is not None and lex.version == version:
            return lex
        if getattr(self._local, "depth", 0):
            return None
        if self._lex_error is not None:
            return None
        count = conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        if count <= self.SYNC_BUILD_MAX:
            with self._lex_lock:
                lex = self._lex
                if lex is None or lex.version != version:
                    try:
                        lex = self._build_lexical(conn, version)
                    except Exception as exc:  # noqa: BLE001 - FTS5 answers instead, said once
                        self._lexical_failed(exc)
                        return None
            return lex
        with self._lex_lock:
            running = self._lex_thread is not None and self._lex_thread.is_alive()
            if not running:
                self._lex_thread = threading.Thread(target=self._build_in_background,
                                                    name="registry-lexical-index", daemon=True)
                self._lex_thread.start()
        return None

    def _build_lexical(self, conn: sqlite3.Connection, version: int) -> "lexical.LexicalIndex":
        """Build from the full-text table's rows (the text as indexed) in this snapshot."""
        rows = conn.execute("SELECT rowid, title, description, tags, publisher FROM entries_fts")
        lex = lexical.LexicalIndex.build(rows, version)
        current = self._lex
        if current is None or current.version <= version:
            self._lex = lex
        return lex

    def _build_in_background(self) -> None:
        try:
            with self._snapshot() as conn:
                version = int((conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                               or (0,))[0])
                self._build_lexical(conn, version)
        except Exception as exc:  # noqa: BLE001 - FTS5 keeps answering; said once in the log
            self._lexical_failed(exc)
        finally:
            if not self._memory:
                conn = getattr(self._local, "conn", None)
                if conn is not None:
                    conn.close()
                    self._local.conn = None

    def _lexical_failed(self, exc: Exception) -> None:
        self._lex_error = f"{type(exc).__name__}: {exc}"
        logging.getLogger(__name__).warning("in-memory search index not built (%s): searching with"
                                            " FTS5's bm25() instead", self._lex_error)

    def lexical_ready(self, timeout: float | None = None) -> bool:
        """Wait for a background build of the in-memory index (if one runs); True when the
        index of the current version is in memory."""
        thread = self._lex_thread
        if thread is not None:
            thread.join(timeout)
        lex = self._lex
        return lex is not None and lex.version == self.version
    def facet_totals(self) -> dict[str, list[tuple[str, int]]]:
        with self._snapshot() as conn:
            return self._facet_index(conn).totals

    # Search internals ----------------------------------------------------------------------
    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One consistent view of the database for the statements of one search."""
        conn = self._conn()
        if self._memory:  # one connection shared by every thread: writers hold the lock
            with self._lock:
                yield conn
            return
        if getattr(self._local, "depth", 0) or conn.in_transaction:
            yield conn  # inside a write transaction: it is the view already
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def _facet_index(self, conn: sqlite3.Connection) -> _FacetIndex:
        version = int((conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                       or (0,))[0])
        index = self._index
        if index is not None and index.version == version:
            return index
        with self._index_lock:
            index = self._index
            if index is not None and index.version == version:
                return index
            index = _FacetIndex.read(conn, version)
            # Keep it only when it shows committed data (not the inside of a write transaction).
            if not getattr(self._local, "depth", 0):
                self._index = index
            return index

    def _browse(self, index: _FacetIndex, allowed: np.ndarray | None, limit: int, offset: int,
                facet_limit: int, sort: str = "relevance"):
        """(total, page rowids, facet counts) of browsing: every entry passing the filters, by
        title (or last updated first)."""
        in_order = index.by_title if allowed is None else index.by_title[allowed[index.by_title]]
        if sort == "updated":
            in_order = in_order[np.argsort(index.updated_pos[in_order], kind="stable")]
        total = int(in_order.size)
        page = in_order[offset:offset + limit].tolist()
        if not total:
            return 0, page, {}
        if allowed is None:  # everything: the counts read with the index
            counts = {k: v[:facet_limit] for k, v in index.totals.items()}
        else:
            counts = index.counts(allowed, facet_limit)
        return total, page, counts

    def _rows(self, conn: sqlite3.Connection, rowids: list[int]) -> dict[int, str]:
        if not rowids:
            return {}
        marks = ", ".join("?" for _ in rowids)
        return dict(conn.execute(f"SELECT rowid, data FROM entries WHERE rowid IN ({marks})", rowids))

    def _snippets(self, conn: sqlite3.Connection, match: str, rowids: list[int]) -> dict[int, str]:
        """Highlighted description excerpts for the page's rows only.

        FTS5 evaluates the expression once per rowid of an ``IN`` list. That is cheap for one word
        or an indexed prefix, but a longer prefix or several words are expanded again each time, so
        then the expression runs once over the page's rowid range and ``+rowid IN`` (not given to
        FTS5) keeps the page's rows; snippet() runs for those rows only."""
        marks = ", ".join("?" for _ in rowids)
        sql = ("SELECT rowid, snippet(entries_fts, 1, char(2), char(3), '…', 24) FROM entries_fts"
               " WHERE entries_fts MATCH ?")
        if _cheap_per_row(match):
            return dict(conn.execute(f"{sql} AND rowid IN ({marks})", [match, *rowids]))
        return dict(conn.execute(f"{sql} AND rowid >= ? AND rowid <= ? AND +rowid IN ({marks})",
                                 [match, min(rowids), max(rowids), *rowids]))
