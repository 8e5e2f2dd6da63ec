"""Words people type for the acronyms and symbols that London data is written in.

At index time an entry that says "NO₂" or "LSOA" also becomes findable as "nitrogen dioxide" or
"lower layer super output area" (and the other way round), so a search does not depend on which
of the two the publisher happened to write. Text is NFKC-normalised first, so "NO₂" reads "NO2".
"""

from __future__ import annotations

import re
import unicodedata

# Each group: terms that mean the same thing. Matching is on whole words, case-insensitive.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("no2", "nitrogen dioxide"),
    ("nox", "nitrogen oxides"),
    ("pm2.5", "pm25", "fine particulate matter", "fine particles"),
    ("pm10", "particulate matter"),
    ("o3", "ozone"),
    ("so2", "sulphur dioxide"),
    ("co2", "carbon dioxide"),
    ("ghg", "greenhouse gas"),
    ("imd", "index of multiple deprivation", "deprivation index"),
    ("iod", "indices of deprivation"),
    ("lsoa", "lower layer super output area"),
    ("msoa", "middle layer super output area"),
    ("lad", "local authority district"),
    ("laei", "london atmospheric emissions inventory"),
    ("laqn", "london air quality network"),
    ("ptal", "public transport accessibility level"),
    ("leggi", "london energy and greenhouse gas inventory"),
    ("gigl", "greenspace information for greater london"),
    ("osm", "openstreetmap"),
    ("mps", "metropolitan police service"),
    ("gla", "greater london authority"),
    ("ons", "office for national statistics"),
    ("tfl", "transport for london"),
    ("hhi", "household income"),
    ("poi", "points of interest"),
)

# One pass over the text finds every term: a lookahead at each word start, so terms that overlap
# ("fine particulate matter" holds "particulate matter") are all seen. This relies on no term being
# a whole-word prefix of another (at one position at most one term can match); a test checks it.
_GROUP_OF: dict[str, int] = {term: i for i, group in enumerate(GROUPS) for term in group}
_TERMS_RE = re.compile(
    r"(?<![\w.])(?=(" + "|".join(re.escape(t) for t in sorted(_GROUP_OF, key=len, reverse=True))
    + r")(?![\w]))", re.I)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def expansions(text: str) -> list[str]:
    """The other names of every term in the text (not the ones already there)."""
    present: dict[int, set[str]] = {}
    for match in _TERMS_RE.finditer(normalise(text)):
        term = match.group(1).lower()
        present.setdefault(_GROUP_OF[term], set()).add(term)
    found: list[str] = []
    for index in sorted(present):
        found += [t for t in GROUPS[index] if t not in present[index]]
    return list(dict.fromkeys(found))
