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

A search asks PostgreSQL whether a word is held at all (a GIN lookup, for "Did you mean") and, in
one statement, for the postings of all the request's terms: the GIN index finds the entries
holding any of them, the request's lexemes are picked out of each one's tsvector and their
positions summed, per field, into BM25F pseudo-frequencies with the field weights and length
normalisation of ``explorer.catalogue.lexical``. :class:`PgLexical` then scores with that module's
own ``LexicalIndex.score``, so the ranking function, the fusion with semantic similarity
(``lexical.fuse``) and every constant are one code on both backends.

Cost: a search reads the whole tsvector of every entry matching any of its terms (PostgreSQL has
no cheaper way to one lexeme's positions), so it grows with the matches: 133 ms p50 at 1,249
entries, 228 ms at 10,000 (README, "Many hosts"), where the in-memory index takes 20–40 ms.
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

    def holds(self, terms: list[tuple[str, bool]]) -> bool:
        """Does any entry hold every one of these (lexeme, prefix) terms? One GIN lookup."""
        query = " & ".join(self._operand(t, prefix) for t, prefix in terms)
        with self.db.pool.connection() as raw:
            return bool(raw.execute("SELECT EXISTS (SELECT 1 FROM registry_entries WHERE tsv @@ %s::tsquery)",
                                    (query,)).fetchone()[0])

    def _starts(self, term: str) -> list[str]:
        """What a prefix as typed finds (as the in-memory index's ``_expand``): lexemes starting with
        it or with its stem; of two nested prefixes only the shorter (it finds both)."""
        starts = sorted({term, self.analyser.stem(term)})
        return [s for s in starts if not any(o != s and s.startswith(o) for o in starts)]

    def _operand(self, term: str, prefix: bool) -> str:
        """One term as a tsquery operand (quoted; a prefix as the OR of what it finds)."""
        if not prefix:
            return f"'{_escape(term)}'"
        return "(" + " | ".join(f"'{_escape(s)}':*" for s in self._starts(term)) + ")"

    def postings(self, keys: list[tuple[str, bool]], averages: np.ndarray) -> dict[tuple[str, bool], list[tuple]]:
        """{(term, prefix): [(entry id, BM25F pseudo-frequency)]} of every entry holding each term —
        the lexeme itself, or for a prefix every lexeme starting with it or with its stem (their
        frequencies summed, as the in-memory index sums a prefix's completions) — in one statement:
        the GIN index finds the entries holding any of them, each entry's tsvector is read once.
        Each position counts its field's weight over the field's length normalisation
        (``lexical.FIELD_WEIGHTS``, ``FIELD_B``), summed in the database."""
        names, patterns, exact, starts = [], [], [], []
        for i, (term, prefix) in enumerate(keys):
            if not prefix:
                names.append(str(i))
                patterns.append(_like(term)[:-1])        # no wildcard: LIKE is equality
                exact.append(term)
                continue
            for start in self._starts(term):   # disjoint: a lexeme is counted once
                names.append(str(i))
                patterns.append(_like(start))
                starts.append(_like(start))
        if not names:
            return {}
        cases, params = [], []
        for f, label in enumerate(LABELS):
            average = float(averages[f]) if averages[f] > 0 else 1.0
            b = float(lexical.FIELD_B[f])
            cases.append(f"WHEN '{label}' THEN %s / (1.0 - %s + %s * COALESCE(e.field_lengths[{f + 1}], 0) / %s)")
            params += [float(lexical.FIELD_WEIGHTS[f]), b, b, average]
        weight = f"CASE w {' '.join(cases)} ELSE 0 END"
        query = " | ".join(self._operand(t, prefix) for t, prefix in keys)
        with self.db.pool.connection() as raw:
            # the lexemes of the request are picked out of each matching entry's tsvector first
            # (one comparison per lexeme), and only those are matched to the request's terms
            rows = raw.execute(
                f"SELECT k.name, e.id, SUM({weight}) FROM ("
                "SELECT e.id, e.field_lengths, l.lexeme, l.weights FROM registry_entries e"
                " CROSS JOIN LATERAL unnest(e.tsv) l WHERE e.tsv @@ %s::tsquery"
                " AND (l.lexeme = ANY(%s::text[]) OR l.lexeme LIKE ANY(%s::text[]))) e"
                " JOIN unnest(%s::text[], %s::text[]) AS k(name, pattern) ON e.lexeme LIKE k.pattern"
                " CROSS JOIN LATERAL unnest(e.weights) w GROUP BY k.name, e.id",
                (*params, query, exact, starts, names, patterns)).fetchall()
        out: dict[tuple[str, bool], list[tuple]] = {key: [] for key in keys}
        for name, entry_id, tf in rows:
            out[keys[int(name)]].append((entry_id, tf))
        return out


class PgLexical(lexical.LexicalIndex):
    """``lexical.LexicalIndex`` for one search whose postings are read from PostgreSQL.

    ``_term`` reads a term's postings from the database (entry ids mapped to the replica's rowids;
    all the terms of a request in one statement, see ``score``) and ``holds`` is a GIN lookup;
    ``clause``, ``matching`` and the scoring itself are the in-memory index's own."""

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
            self._fetch([key])
        return self._terms[key]

    def _fetch(self, keys: list[tuple[str, bool]]) -> None:
        """Read the postings of these terms (those not read yet in this search) in one statement."""
        keys = [k for k in dict.fromkeys(keys) if k not in self._terms]
        if not keys:
            return
        found = self.search.postings(keys, self._averages)
        rowid_of, size = self._rowid_of, self.size
        for key in keys:
            # an entry not in this host's replica yet cannot be shown: it is left out
            pairs = sorted((r, tf) for r, tf in ((rowid_of.get(i, -1), tf) for i, tf in found.get(key, ()))
                           if 0 <= r < size)
            if not pairs:
                self._terms[key] = None
                continue
            rids = np.fromiter((r for r, _ in pairs), dtype=np.int32, count=len(pairs))
            self._terms[key] = (rids, np.fromiter((tf for _, tf in pairs), dtype=np.float32, count=len(pairs)))

    def holds(self, clause: lexical.Clause) -> bool:
        """Does any entry hold every term of the clause? (A GIN lookup; postings are read only to
        score.)"""
        last = len(clause.terms) - 1
        return self.search.holds([(t, clause.prefix and i == last) for i, t in enumerate(clause.terms)])

    def score(self, clauses: list[lexical.Clause]):
        """The in-memory index's own scoring, once the postings of every term are read together."""
        self._fetch([(t, c.prefix and i == len(c.terms) - 1) for c in clauses for i, t in enumerate(c.terms)])
        return super().score(clauses)
