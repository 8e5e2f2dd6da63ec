"""BM25F over an in-memory inverted index of one registry version.

SQLite's FTS5 ``bm25()`` is computed for every row that matches: a three-word question matches
40,000 of 100,000 entries and ranking them took most of a search. This index is built once per
registry version from the indexed text of every entry (title, description, tags, publisher: the
rows of the registry's full-text table, or any backend's), and a search is a few numpy operations
over the postings of the request's terms.

Text is read as FTS5's ``unicode61 remove_diacritics 2`` tokenizer reads it (runs of letters and
digits, lower case, accents folded) and stemmed with the Snowball English stemmer (Porter2: the
successor of the Porter stemmer FTS5 uses, which also stems "employ" and "employment" alike).

Scoring is BM25F (Robertson & Zaragoza 2009): a term's frequency in each field is normalised by
that field's length against the field's average, weighted by the field's weight and summed into one
pseudo-frequency per (entry, term), which is stored, so a search only saturates and sums
(``idf · tf (k1 + 1) / (tf + k1)``). A title of five words holding "trees" counts for far more
than a description of 200 words holding it twice: per-field normalisation is what FTS5's
whole-row length cannot do.

Memory: one int32 rowid and one float32 pseudo-frequency per distinct (entry, term) pair, plus the
vocabulary (``nbytes`` reports it; about 50 MB at 100,000 synthetic entries, see the README).

Pure: the index is built from rows a backend supplies and holds no connection, so any registry
backend (SQLite, PostgreSQL) can build it and rank with it; :func:`fuse` is the shared fusion of that ranking
with semantic similarity.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

import numpy as np

FIELDS = ("title", "description", "tags", "publisher")
# BM25F field weights and length normalisation (b) per field. The title says what the data is; tags
# are chosen words; a publisher's name matches requests naming it; the description is long and
# mostly methodology. Standard b = 0.75 everywhere except the publisher (a name, not prose).
FIELD_WEIGHTS = (5.0, 1.0, 2.0, 1.0)
FIELD_B = (0.75, 0.75, 0.75, 0.3)
K1 = 1.2
# Another name of what is asked (added by the synonyms, not typed) counts half as much as a word
# the person typed: "noise pollution" must not rank "air quality" entries above "Noise Pollution".
SYNONYM_WEIGHT = 0.5
MAX_PREFIX_TERMS = 512
BUILD_CHUNK = 8192        # entries read into one chunk while the index is built
SNIPPET_TOKENS = 24       # words in a result's snippet, as FTS5's snippet() was asked for
SNIPPET_CHARS = 4_000     # a description is read up to here for its snippet (bounded work)
SNIPPET_REACH = 200       # characters a snippet's words span, about (to find its best stretch)   # a prefix as typed reads at most this many of its commonest completions

_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)


def _fold(text: str) -> str:
    """Lower case with accents removed (``café`` → ``cafe``), as FTS5's remove_diacritics 2."""
    text = text.lower()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Analyser:
    """Text → stemmed tokens; each distinct word is stemmed once (bounded cache)."""

    MAX_CACHED = 500_000

    def __init__(self):
        import Stemmer

        self._stem = Stemmer.Stemmer("english").stemWord
        self._cache: dict[str, str] = {}

    def stem(self, word: str) -> str:
        out = self._cache.get(word)
        if out is None:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache.clear()
            out = self._cache[word] = self._stem(word)
        return out

    def words(self, text: str) -> list[str]:
        """Unstemmed tokens of a text."""
        return _TOKEN_RE.findall(_fold(text or ""))

    def terms(self, text: str) -> list[str]:
        return [self.stem(w) for w in self.words(text)]


@dataclass
class Clause:
    """One thing a request asks for: terms that must all be in an entry (a word is one term, or
    several when it is written with a hyphen or a dot; another name of it is a phrase), the last
    one a prefix when it is still being typed. ``weight`` scales what it adds."""

    terms: tuple[str, ...]
    prefix: bool = False
    weight: float = 1.0
    is_word: bool = True      # a word of the request (not another name added for it)


class LexicalIndex:
    """Postings of every term of one registry version: ``rids[ptr[t]:ptr[t+1]]`` (sorted) are the
    entries holding term ``t`` and ``tf`` their BM25F pseudo-frequencies."""

    def __init__(self, version: int, size: int, n_docs: int, vocabulary: list[str],
                 ptr: np.ndarray, rids: np.ndarray, tf: np.ndarray, analyser: Analyser):
        self.version = version
        self.size = size                 # one more than the largest rowid
        self.n_docs = n_docs
        self.vocabulary = vocabulary     # sorted terms; a term's id is its place here
        self.term_id = {t: i for i, t in enumerate(vocabulary)}
        self.ptr, self.rids, self.tf = ptr, rids, tf
        self.df = np.diff(ptr).astype(np.int64)
        self.analyser = analyser

    # Building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, rows: Iterable[tuple], version: int = 0,
              analyser: Analyser | None = None) -> "LexicalIndex":
        """From ``(rowid, title, description, tags, publisher)`` rows (text as indexed).

        Rows are read in chunks of BUILD_CHUNK: each chunk's words become, per distinct (term,
        entry) pair, its count in each field (the chunk's tokens are then dropped), so memory
        while building is about the postings' own, not the catalogue's text. The field lengths'
        averages are known at the end, when the pseudo-frequencies are computed."""
        analyser = analyser or Analyser()
        stem_id: dict[str, int] = {}       # stem → provisional term id (in order of first sight)

        class _Ids(dict):                  # unstemmed word → its stem's provisional id
            def __missing__(self, word: str) -> int:
                i = self[word] = stem_id.setdefault(analyser.stem(word), len(stem_id))
                return i

        lookup = _Ids().__getitem__
        n_fields = len(FIELDS)
        rowids: list[int] = []
        lengths: list[list[int]] = [[] for _ in FIELDS]
        tokens: list[list[int]] = [[] for _ in FIELDS]
        chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # (term, entry, counts)

        def flush(first: int) -> None:
            n = len(rowids) - first
            keys, counts = [], []
            for f in range(n_fields):
                lens = np.asarray(lengths[f][first:], dtype=np.int64)
                if not lens.sum():
                    keys.append(np.zeros(0, dtype=np.int64))
                    counts.append(np.zeros(0, dtype=np.int64))
                    continue
                doc = np.repeat(np.arange(n, dtype=np.int64), lens)
                key, count = np.unique(np.asarray(tokens[f], dtype=np.int64) * n + doc, return_counts=True)
                keys.append(key)
                counts.append(count)
                tokens[f] = []
            key, where = np.unique(np.concatenate(keys), return_inverse=True)
            per_field = np.zeros((key.size, n_fields), dtype=np.uint16)
            at = 0
            for f in range(n_fields):
                m = keys[f].size
                per_field[where[at:at + m], f] = np.minimum(counts[f], 65535)
                at += m
            chunks.append(((key // n).astype(np.int32), (key % n + first).astype(np.int32), per_field))

        first = 0
        for row in rows:
            rowids.append(int(row[0]))
            for f in range(n_fields):
                words = analyser.words(row[1 + f])
                lengths[f].append(len(words))
                tokens[f].extend(map(lookup, words))
            if len(rowids) - first >= BUILD_CHUNK:
                flush(first)
                first = len(rowids)
        if len(rowids) > first:
            flush(first)
        n_docs = len(rowids)
        rowid_arr = np.asarray(rowids, dtype=np.int64)
        size = int(rowid_arr.max()) + 1 if n_docs else 1
        # provisional ids → final ids (the place of the stem in the sorted vocabulary)
        vocabulary = sorted(stem_id)
        remap = np.zeros(max(len(stem_id), 1), dtype=np.int32)
        for i, t in enumerate(vocabulary):
            remap[stem_id[t]] = i
        norms = []
        for f in range(n_fields):
            lens = np.asarray(lengths[f], dtype=np.float64)
            average = float(lens.mean()) if lens.size else 0.0
            norms.append((1.0 - FIELD_B[f] + FIELD_B[f] * lens / average) if average else None)
        terms, docs, tfs = [], [], []
        while chunks:
            term, doc, per_field = chunks.pop(0)
            tf = np.zeros(term.size, dtype=np.float64)
            for f in range(n_fields):
                if norms[f] is not None:
                    tf += FIELD_WEIGHTS[f] * per_field[:, f] / norms[f][doc]
            terms.append(remap[term])
            docs.append(doc)
            tfs.append(tf.astype(np.float32))
        term = np.concatenate(terms) if terms else np.zeros(0, dtype=np.int32)
        del terms
        order = np.argsort(term, kind="stable")      # by term; entries stay in row order
        term = term[order]
        rids = rowid_arr[np.concatenate(docs)[order]].astype(np.int32) if docs else np.zeros(0, dtype=np.int32)
        del docs
        tf = np.concatenate(tfs)[order] if tfs else np.zeros(0, dtype=np.float32)
        del tfs, order
        ptr = np.searchsorted(term, np.arange(len(vocabulary) + 1)).astype(np.int64)
        # within a term, entries are in the order rows came: sort each run by rowid if they did not
        if rids.size > 1 and np.any((np.diff(rids.astype(np.int64)) <= 0) & (np.diff(term) == 0)):
            order = np.lexsort((rids, term))
            rids, tf = rids[order], tf[order]
        return cls(version, size, n_docs, vocabulary, ptr, rids, tf, analyser)

    @property
    def nbytes(self) -> int:
        """Memory held: the arrays, and the vocabulary's strings and dictionary (estimated)."""
        import sys

        strings = sum(sys.getsizeof(t) for t in self.vocabulary)
        return int(self.ptr.nbytes + self.rids.nbytes + self.tf.nbytes + self.df.nbytes
                   + strings + sys.getsizeof(self.term_id) + sys.getsizeof(self.vocabulary))

    # Reading --------------------------------------------------------------------------------
    def _expand(self, prefix: str) -> list[int]:
        """Term ids starting with ``prefix`` as typed or with its stem ("populations" as typed
        must find the stem "popul"; "hous" the stem "hous"), the commonest MAX_PREFIX_TERMS."""
        found: set[int] = set()
        for start in {prefix, self.analyser.stem(prefix)}:
            lo = bisect.bisect_left(self.vocabulary, start)
            hi = bisect.bisect_left(self.vocabulary, start + "\uffff")
            found.update(range(lo, hi))
        found = sorted(found)
        if len(found) > MAX_PREFIX_TERMS:
            found = sorted(found, key=lambda t: -self.df[t])[:MAX_PREFIX_TERMS]
        return found

    def _term(self, term: str, prefix: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """(rowids, pseudo-frequencies) of a term; of all its completions, summed, for a prefix."""
        if not prefix:
            t = self.term_id.get(term)
            if t is None:
                return None
            lo, hi = self.ptr[t], self.ptr[t + 1]
            return self.rids[lo:hi], self.tf[lo:hi]
        ids = self._expand(term)
        if not ids:
            return None
        if len(ids) == 1:
            lo, hi = self.ptr[ids[0]], self.ptr[ids[0] + 1]
            return self.rids[lo:hi], self.tf[lo:hi]
        dense = np.zeros(self.size, dtype=np.float32)
        for t in ids:
            lo, hi = self.ptr[t], self.ptr[t + 1]
            dense[self.rids[lo:hi]] += self.tf[lo:hi]
        rids = np.flatnonzero(dense).astype(np.int32)
        return rids, dense[rids]

    def clause(self, text: str, prefix: bool = False, weight: float = 1.0,
               is_word: bool = True) -> Clause | None:
        """The clause of a word or phrase as typed (None when it has no letters or digits).
        A prefix is read unstemmed: "hous" as typed must find "housing" (stem "hous")."""
        words = self.analyser.words(text)
        if not words:
            return None
        terms = [self.analyser.stem(w) for w in words]
        if prefix:
            terms[-1] = words[-1]
        return Clause(tuple(terms), prefix, weight, is_word)

    def snippet(self, text: str, clauses: list[Clause], tokens: int = SNIPPET_TOKENS) -> str:
        """The stretch of ``text`` of ``tokens`` words holding the most of the request's terms,
        each match between \\x02 and \\x03, "…" where text is cut (the shape of FTS5's
        ``snippet()``, computed for a page's rows from their own text)."""
        if not text:
            return ""
        exact = {t for c in clauses for i, t in enumerate(c.terms)
                 if not (c.prefix and i == len(c.terms) - 1)}
        prefixes = tuple({t for c in clauses if c.prefix for t in (c.terms[-1], self.analyser.stem(c.terms[-1]))})
        # a stem is its word less a suffix, the last letter perhaps changed (y → i): a word can only
        # match when it starts like a term without its last letter; only those are stemmed
        starts = sorted({t[:-1] or t for t in exact} | set(prefixes), key=len, reverse=True)
        head = text[:SNIPPET_CHARS]
        folded = head.lower() if head.isascii() else None   # same offsets as the text
        search_in = folded if folded is not None else head
        # the matches, found by one regex pass (words that start like a term), each checked
        hits: list[tuple[int, int, str]] = []               # (start, end, term)
        if starts:
            pattern = re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, starts)) + r")",
                                 re.IGNORECASE)
            for m in pattern.finditer(search_in):
                token = _TOKEN_RE.match(search_in, m.start())
                if token is None:
                    continue
                a, b = token.span()
                word = folded[a:b] if folded is not None else _fold(head[a:b])
                term = self.analyser.stem(word)
                if term in exact or (prefixes and (word.startswith(prefixes) or term.startswith(prefixes))):
                    hits.append((a, b, term))
        # the stretch of about `tokens` words (SNIPPET_REACH characters) holding the most distinct
        # terms, then the most matches; only that part of the text is split into words
        first = 0
        best_key = (0, 0)
        counts: dict[str, int] = {}
        k = 0                                   # hits[j:k] lie within the stretch from hits[j]
        for j, (a, _, _) in enumerate(hits):
            while k < len(hits) and hits[k][0] < a + SNIPPET_REACH:
                counts[hits[k][2]] = counts.get(hits[k][2], 0) + 1
                k += 1
            key = (len(counts), k - j)
            if key > best_key:
                first, best_key = a, key
            gone = hits[j][2]
            counts[gone] -= 1
            if not counts[gone]:
                del counts[gone]
        lo = max(0, first - 60)
        region = [m.span() for m in _TOKEN_RE.finditer(search_in, lo, min(len(head), first + SNIPPET_REACH * 2))]
        if not region:
            return ""
        marked = {a for a, _, _ in hits}
        at = next((i for i, (a, _) in enumerate(region) if a >= first), 0)
        begin = max(0, min(at - 3, len(region) - tokens))
        if lo > 0 and begin == 0:
            begin = 1   # the region's first word may be cut
        spans = region[begin:begin + tokens]
        if not spans:
            spans = region[:tokens]
        out = ["…" if spans[0][0] > 0 else ""]
        pos = spans[0][0]
        for a, b in spans:
            out.append(text[pos:a])
            out.append(f"\x02{text[a:b]}\x03" if a in marked else text[a:b])
            pos = b
        if _TOKEN_RE.search(search_in, pos) is not None or len(text) > SNIPPET_CHARS:
            out.append("…")
        else:
            out.append(text[pos:])   # the closing full stop
        return "".join(out)

    def holds(self, clause: Clause) -> bool:
        """Does any entry hold every term of the clause?"""
        return self.matching(clause).size > 0

    def matching(self, clause: Clause) -> np.ndarray:
        """Rowids holding every term of the clause (sorted)."""
        out = None
        for i, term in enumerate(clause.terms):
            found = self._term(term, clause.prefix and i == len(clause.terms) - 1)
            if found is None:
                return np.zeros(0, dtype=np.int32)
            rids = found[0]
            out = rids if out is None else np.intersect1d(out, rids, assume_unique=True)
            if not out.size:
                break
        return out if out is not None else np.zeros(0, dtype=np.int32)

    def score(self, clauses: list[Clause]) -> tuple[np.ndarray, np.ndarray, int]:
        """(rowids matching any clause, their BM25F scores, how many of the request's words the
        best-covered entry holds).

        Each distinct term is counted once per entry, with the largest weight of the clauses that
        hold it and that the entry satisfies (all of the clause's terms present)."""
        score = np.zeros(self.size, dtype=np.float64)
        matched = np.zeros(self.size, dtype=bool)
        words_held = np.zeros(self.size, dtype=np.int16)
        # term (with its prefix flag) → {rowid mask source}: gather per clause, then score
        best: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray | None, float]]]] = {}
        for clause in clauses:
            postings = []
            for i, term in enumerate(clause.terms):
                p = clause.prefix and i == len(clause.terms) - 1
                found = self._term(term, p)
                if found is None:
                    postings = None
                    break
                postings.append(((term, p), found))
            if not postings:
                continue
            if len(postings) == 1:
                allowed = None          # a one-term clause: every entry holding the term
            else:
                allowed = postings[0][1][0]
                for _, (rids, _) in postings[1:]:
                    allowed = np.intersect1d(allowed, rids, assume_unique=True)
                if not allowed.size:
                    continue
            if clause.is_word:
                holders = postings[0][1][0] if allowed is None else allowed
                words_held[holders] += 1
            for key, (rids, tf) in postings:
                slot = best.setdefault(key, (rids, tf, []))
                slot[2].append((allowed, clause.weight))
        n = max(self.n_docs, 1)
        for (rids, tf, uses) in best.values():
            df = rids.size
            idf = np.log1p((n - df + 0.5) / (df + 0.5))
            contribution = idf * tf * (K1 + 1.0) / (tf + K1)
            weight = np.zeros(rids.size, dtype=np.float64)
            for allowed, w in uses:
                if allowed is None:
                    np.maximum(weight, w, out=weight)
                else:
                    inside = np.isin(rids, allowed, assume_unique=True)
                    weight[inside] = np.maximum(weight[inside], w)
            keep = weight > 0
            score[rids[keep]] += contribution[keep] * weight[keep]
            matched[rids[keep]] = True
        rids = np.flatnonzero(matched)
        return rids, score[rids], int(words_held.max()) if words_held.size else 0


# Fusion -----------------------------------------------------------------------------------------
@dataclass
class Fused:
    rids: np.ndarray          # every result, in no order
    scores: np.ndarray        # their fused scores (higher is better)
    similar: set              # results found (also) for their meaning


def fuse(size: int, lexical: list[tuple[np.ndarray, np.ndarray, float]],
         semantic: tuple[np.ndarray, np.ndarray] | None, *, pool: int = 30, floor: float = 0.35,
         alone_floor: float = 0.5, alpha: float = 0.5, refine=None, refine_top: int = 200) -> Fused:
    """A convex combination of the lexical rankings — ``(rowids, scores higher-better, weight)``,
    each divided by its best score — and of the semantic similarity ``(rowids, cosine)`` of the
    entries that may be shown (filters applied), min–max scaled over the results:
    ``alpha · lexical + (1 − alpha) · meaning``.

    Every lexical match is a result; so are the ``pool`` entries most similar in meaning when at
    least ``floor`` similar (``alone_floor`` when no word matched: random letters reach 0.3–0.4
    against some entry).

    Scores, not ranks: reciprocal rank fusion (k = 60) gave the 1st and the 10th lexical result
    1/61 and 1/70, so a middling match in meaning decided the order as much as a title holding
    every word; a convex combination of normalised scores keeps how far apart results are (Bruch,
    Gai & Ingber 2023, "An analysis of fusion functions for hybrid retrieval"). Equal weights
    (alpha 0.5), not tuned: 0.3 and 0.7 were measured and were no better on either request set.

    ``refine(rowids) → similarities``, when given, says that ``semantic`` holds approximate
    similarities: the ``refine_top`` best results are then scored again with exact ones (scaled
    as the others were)."""
    score = np.zeros(size, dtype=np.float64)
    member = np.zeros(size, dtype=bool)
    for rids, scores, weight in lexical:
        if rids.size:
            top = float(scores.max())
            score[rids] += alpha * weight * (np.round(scores / top, 6) if top > 0 else 1.0)
            member[rids] = True
    lexical_found = bool(member.any())
    similar: set = set()
    if semantic is not None and semantic[0].size:
        vec_rids, sims = semantic
        n = min(pool * (2 if refine is not None else 1), sims.size)
        if n:
            top = np.argpartition(-sims, n - 1)[:n]
            near = sims[top]
            if refine is not None:   # approximate: the pool is chosen, and held to the floor, exactly
                near = np.nan_to_num(refine(vec_rids[top]), nan=-1.0)
                keep = np.argsort(-near, kind="stable")[:pool]
                top, near = top[keep], near[keep]
            top = top[near >= (floor if lexical_found else alone_floor)]
            member[vec_rids[top]] = True
            similar = set(vec_rids[top].tolist())
        in_set = member[vec_rids]
        found = np.round(sims[in_set], 2)   # differences under 0.01 mean nothing to this model
        if found.size:
            lo, hi = float(found.min()), float(found.max())
            span = (hi - lo) or 1.0
            meaning = np.zeros(size, dtype=np.float64)
            meaning[vec_rids[in_set]] = (1.0 - alpha) * (found - lo) / span
            score += meaning
            if refine is not None:
                rids = np.flatnonzero(member)
                n = min(refine_top, rids.size)
                if n:
                    best = rids[np.argpartition(-score[rids], n - 1)[:n]]
                    exact = np.round(refine(best), 2)
                    change = (1.0 - alpha) * np.clip((exact - lo) / span, 0.0, 1.0) - meaning[best]
                    score[best] += np.nan_to_num(change, nan=0.0)
    rids = np.flatnonzero(member)
    return Fused(rids, score[rids], similar)
