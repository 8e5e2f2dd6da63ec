"""One dataset described by two sources is one entry: a curated (bundled) entry and the London
Datastore record of the same dataset are merged, the curated fields winning.

A harvested record matches a curated entry when the curated entry's ``upstream_url`` names the
record's London Datastore page (by slug or id), or when their titles are the same words (case,
punctuation and little words aside). Several curated entries may describe files of one London
Datastore dataset (the LAEI 2019 by borough, MSOA and LSOA): the record is merged into each of them
and is not stored as an entry of its own.

A merged entry keeps ``extras.sources`` (every source that describes it) and
``extras.curated_fields`` (the fields the curated entry set), so harvesting either source again
gives the same entry: curated fields from the curated side, the others from the harvested side.
"""

from __future__ import annotations

import re

from explorer.catalogue.models import Entry

CURATED = "bundled"
_LITTLE = {"for", "the", "of", "and", "in", "by", "a", "an", "to", "on"}
_LDS_PAGE = re.compile(r"data\.london\.gov\.uk/dataset/([^/?#]+)", re.I)


def _key(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", (text or "").lower()) if w not in _LITTLE)


def _keys_of_record(entry: Entry) -> set[frozenset[str]]:
    keys = {_key(entry.title), _key(entry.id)}
    for value in (entry.upstream_url, entry.extras.get("lds_id") if isinstance(entry.extras, dict) else None):
        if isinstance(value, str):
            match = _LDS_PAGE.search(value)
            keys.add(_key(match.group(1) if match else value))
    keys.discard(frozenset())
    return keys


def _empty(value) -> bool:
    return value in (None, "", [], {})


def merge(curated: Entry, harvested: Entry, curated_fields: list[str] | None = None) -> Entry:
    """The curated entry with the harvested record's fields where the curated one says nothing."""
    mine = curated.to_dict()
    fields = curated_fields if curated_fields is not None else [
        k for k, v in mine.items() if k not in ("extras", "source") and not _empty(v)]
    out = harvested.to_dict()
    for key in fields:
        if key in mine:
            out[key] = mine[key]
    out["id"] = curated.id
    out["source"] = curated.source or CURATED
    extras = dict(harvested.extras or {})
    extras.update({k: v for k, v in (curated.extras or {}).items() if k not in ("sources", "curated_fields")})
    sources = list(dict.fromkeys([*(curated.extras or {}).get("sources", [curated.source or CURATED]),
                                  *(harvested.extras or {}).get("sources", [harvested.source])]))
    extras["sources"] = sources
    extras["curated_fields"] = fields
    out["extras"] = extras
    return Entry.from_dict(out)


class Merger:
    """Decides, for each entry of one harvest, which entries to store."""

    def __init__(self, registry, label: str):
        self.registry = registry
        self.label = label
        self._curated: dict[frozenset[str], list[str]] | None = None

    def _index(self) -> dict[frozenset[str], list[str]]:
        if self._curated is None:
            self._curated = {}
            for entry in self.registry.from_source(CURATED):
                keys = {_key(entry.title)}
                match = _LDS_PAGE.search(entry.upstream_url or "")
                if match:
                    keys.add(_key(match.group(1)))
                for key in keys - {frozenset()}:
                    self._curated.setdefault(key, []).append(entry.id)
        return self._curated

    def __call__(self, entry: Entry) -> list[Entry]:
        if self.label == CURATED:
            stored = self.registry.get(entry.id)
            others = [s for s in (stored.extras or {}).get("sources", []) if s != CURATED] if stored else []
            if stored is None or not others:
                return [entry]
            # keep what the other sources said; the curated fields are the new ones
            return [merge(entry, stored)]
        matches: list[str] = []
        for key in _keys_of_record(entry):
            matches += self._index().get(key, [])
        matches = list(dict.fromkeys(matches))
        if not matches:
            return [entry]
        out = []
        for curated_id in matches:
            base = self.registry.get(curated_id)
            if base is None:
                continue
            fields = (base.extras or {}).get("curated_fields")
            out.append(merge(base, entry, fields))
        if out and entry.id not in matches and self.registry.get(entry.id) is not None:
            self.registry.delete(entry.id)  # stored on its own before: it is one of these now
        return out or [entry]
