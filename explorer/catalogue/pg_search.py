"""Full-text search of the registry in PostgreSQL: a ``tsvector`` per entry and a GIN index.

Each row of ``registry_entries`` carries ``tsv``: the entry's four indexed texts (title,
description, tags with themes and the other names of its acronyms, publisher — the texts the
SQLite registry indexes, ``registry._fts_row``) as English stems with their positions, one weight
label per field (title A, tags B, publisher C, description D), and ``field_lengths``, each field's
length in tokens. The stems are made by the registry's one analyser (``lexical.Analyser``: FTS5's
``unicode61`` tokens, accents folded, the Snowball English stemmer — the algorithm of PostgreSQL's
``english`` configuration) and stored as a tsvector literal, so PostgreSQL holds exactly the terms
the in-memory index holds on SQLite, and a request's word finds the same entries on both. The
registry's writes fill both columns in the statement that stores the entry.

A search asks PostgreSQL, through the GIN index, for the postings of each of the request's terms
(every entry holding it, with the term's positions in each field); :class:`PgLexical` turns them
into BM25F pseudo-frequencies with the field weights and lengths of ``explorer.catalogue.lexical``
and scores with that module's own ``LexicalIndex.score``, so the ranking function, the fusion with
semantic similarity (``lexical.fuse``) and every constant are one code on both backends.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import numpy as np

from explorer.catalogue import lexical

FTS_MIGRATION = """
ALTER TABLE registry_entries ADD COLUMN IF NOT EXISTS tsv tsvector;
ALTER TABLE registry_entries ADD COLUMN IF NOT EXISTS field_lengths INTEGER[];
CREATE INDEX IF NOT EXISTS registry_entries_tsv ON registry_entries USING GIN (tsv)
"""
# weight label of each field of lexical.FIELDS (title, description, tags, publisher)
LABELS = ("A", "D", "B", "C")
_FIELD_OF_LABEL = {label: f for f, label in enumerate(LABELS)}
MAX_POSITION = 16383          # PostgreSQL keeps positions 1 … 16383
MAX_POSITIONS_PER_LEXEME = 256
MAX_LEXEME_BYTES = 2046       # a longer "word" cannot be a tsvector lexeme (and no one searches for it)
MAX_TSVECTOR_BYTES = 900_000  # PostgreSQL refuses a tsvector over 1 MB: a longer text is indexed up to here


def fields_of(entry) -> tuple[str, str, str, str]:
    """(title, description, tags, publisher): the texts the registry indexes for an entry."""
    from explorer.catalogue.registry import _fts_row

    _rowid, title, description, tags, publisher = _fts_row(0, entry)
    return title, description, tags, publisher


def tsvector_of(texts, analyser: lexical.Analyser) -> tuple[str, list[int]]:
    """(tsvector literal, field lengths) of the four texts: each stem with its positions and the
    field's weight label; positions run on across the fields, as ``||`` of tsvectors would."""
    positions: dict[str, list[str]] = defaultdict(list)
    lengths = []
    at = size = 0
    for f, text in enumerate(texts):
        terms = analyser.terms(text or "")
        lengths.append(len(terms))
        for term in terms:
            at += 1
            kept = positions.get(term)
            if kept is None:
                if len(term.encode()) > MAX_LEXEME_BYTES or size > MAX_TSVECTOR_BYTES:
                    continue
                kept = positions[term]
                size += len(term.encode()) + 8
            if len(kept) < MAX_POSITIONS_PER_LEXEME and at <= MAX_POSITION:
                kept.append(f"{at}{LABELS[f]}")
                size += 2
    literal = " ".join(f"'{_escape(term)}':{','.join(found)}" for term, found in positions.items())
    return literal, lengths


def _escape(lexeme: str) -> str:
    return lexeme.replace("\\", "\\\\").replace("'", "''")


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class PgSearch:
    """One database's full-text side: per-version statistics and the postings of terms."""

    def __init__(self, db):
        self.db = db
        self.analyser = lexical.Analyser()
        self._stats: tuple[str, int, np.ndarray] | None = None   # (version, entries, average field lengths)
        self._lock = threading.Lock()

    def tsvector(self, entry) -> tuple[str, list[int]]:
        return tsvector_of(fields_of(entry), self.analyser)

    def stats(self, raw) -> tuple[str, int, np.ndarray]:
        """(registry version, entries, average length of each field) — read once per version."""
        row = raw.execute("SELECT value FROM registry_meta WHERE key = 'version'").fetchone()
        version = row[0] if row else "0"
        cached = self._stats
        if cached is not None and cached[0] == version:
            return cached
        averages = ", ".join(f"COALESCE(AVG(field_lengths[{f + 1}]), 0)" for f in range(len(lexical.FIELDS)))
        row = raw.execute(f"SELECT COUNT(*), {averages} FROM registry_entries").fetchone()
        cached = (version, int(row[0]), np.array([float(v) for v in row[1:]], dtype=np.float64))
        with self._lock:
            self._stats = cached
        return cached

    def postings(self, raw, exact: str | None, prefixes: list[str]) -> list[tuple]:
        """(entry id, field lengths, weight labels of each position) of every entry holding the
        lexeme ``exact``, or a lexeme starting with one of ``prefixes`` (one row per lexeme)."""
        if exact is not None:
            query = f"'{_escape(exact)}'"
            return raw.execute(
                "SELECT e.id, e.field_lengths, l.weights FROM registry_entries e CROSS JOIN LATERAL unnest(e.tsv) l"
                " WHERE e.tsv @@ %s::tsquery AND l.lexeme = %s", (query, exact)).fetchall()
        query = " | ".join(f"'{_escape(p)}':*" for p in prefixes)
        return raw.execute(
            "SELECT e.id, e.field_lengths, l.weights FROM registry_entries e CROSS JOIN LATERAL unnest(e.tsv) l"
            " WHERE e.tsv @@ %s::tsquery AND l.lexeme LIKE ANY(%s)", (query, [_like(p) for p in prefixes])).fetchall()


class PgLexical(lexical.LexicalIndex):
    """``lexical.LexicalIndex`` for one search whose postings are read from PostgreSQL.

    Only ``_term`` differs: the postings of a term come from the GIN index (entry ids mapped to the
    replica's rowids), and their BM25F pseudo-frequencies are computed here with the module's
    field weights and length normalisation; ``clause``, ``holds``, ``matching`` and ``score`` are
    the in-memory index's own."""

    def __init__(self, search: PgSearch, version: int, size: int, rowid_of: dict[str, int]):
        self.search = search
        self.version = version
        self.size = size
        self.analyser = search.analyser
        self._rowid_of = rowid_of
        self._terms: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray] | None] = {}
        with search.db.raw_transaction() as raw:
            _version, self.n_docs, self._averages = search.stats(raw)

    def _term(self, term: str, prefix: bool):
        key = (term, prefix)
        if key not in self._terms:
            self._terms[key] = self._read(term, prefix)
        return self._terms[key]

    def _read(self, term: str, prefix: bool):
        starts = sorted({term, self.analyser.stem(term)}) if prefix else []
        with self.search.db.raw_transaction() as raw:
            rows = self.search.postings(raw, None if prefix else term, starts)
        if not rows:
            return None
        weights = np.asarray(lexical.FIELD_WEIGHTS, dtype=np.float64)
        field_b = np.asarray(lexical.FIELD_B, dtype=np.float64)
        averages = np.where(self._averages > 0, self._averages, 1.0)
        tf: dict[int, float] = defaultdict(float)
        for entry_id, lengths, labels in rows:
            rowid = self._rowid_of.get(entry_id)
            if rowid is None or rowid >= self.size:
                continue            # not in this host's replica yet: it cannot be shown
            counts = np.zeros(len(lexical.FIELDS))
            for label in labels or ():
                counts[_FIELD_OF_LABEL.get(label, 1)] += 1
            lengths = np.asarray(lengths or [0] * len(lexical.FIELDS), dtype=np.float64)
            norm = 1.0 - field_b + field_b * lengths / averages
            tf[rowid] += float(np.sum(weights * counts / norm))
        if not tf:
            return None
        rids = np.fromiter(sorted(tf), dtype=np.int32, count=len(tf))
        return rids, np.fromiter((tf[r] for r in rids.tolist()), dtype=np.float32, count=len(tf))
