""""Did you mean …": close words from the registry's own vocabulary.

The vocabulary is every word of the entries' titles, tags and publishers (an FTS5 vocabulary table
gives each word and how many entries hold it). A request word that matches nothing in the registry
is compared with it by edit distance (insertions, deletions, substitutions and swapped neighbours:
``polution`` → ``pollution``, ``employmnet`` → ``employment``), through an index of each word with
one letter deleted (the symmetric-delete method), built once per registry version when first
needed. The commonest of the closest words wins.
"""

from __future__ import annotations

from collections import defaultdict


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def distance(a: str, b: str) -> int:
    """Damerau–Levenshtein distance (optimal string alignment)."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


class Speller:
    """Corrections from one registry version's vocabulary: ``{word: entries holding it}``."""

    MIN_LENGTH = 4   # shorter words are too often right and unknown (codes, acronyms)

    def __init__(self, vocabulary: dict[str, int]):
        self.counts = {w: n for w, n in vocabulary.items() if w.isalpha() and len(w) >= 3}
        self._index: dict[str, list[str]] = defaultdict(list)
        for word in self.counts:
            self._index[word].append(word)
            for variant in _deletes(word):
                self._index[variant].append(word)

    def correct(self, word: str) -> str | None:
        """The closest vocabulary word, or None when there is none near enough."""
        word = word.lower()
        if not self.MIN_LENGTH <= len(word) <= 25 or not word.isalpha() or word in self.counts:
            return None
        limit = 1 if len(word) < 7 else 2
        candidates: set[str] = set(self._index.get(word, ()))
        near = _deletes(word)
        for variant in near:
            candidates.update(self._index.get(variant, ()))
        if limit > 1 and not candidates:
            for variant in near:
                for again in _deletes(variant):
                    candidates.update(self._index.get(again, ()))
        best: tuple | None = None
        for cand in candidates:
            d = distance(word, cand)
            if d == 0 or d > limit:
                continue
            key = (d, -self.counts[cand], cand)
            if best is None or key < best:
                best = key
        return best[2] if best else None
