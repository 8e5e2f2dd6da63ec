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

_PATTERNS = [(re.compile(r"(?<![\w.])(" + "|".join(re.escape(t) for t in group) + r")(?![\w])", re.I), group)
             for group in GROUPS]


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def expansions(text: str) -> list[str]:
    """The other names of every term in the text (not the ones already there)."""
    text = normalise(text)
    found: list[str] = []
    for pattern, group in _PATTERNS:
        present = {m.group(1).lower() for m in pattern.finditer(text)}
        if present:
            found += [t for t in group if t not in present]
    return list(dict.fromkeys(found))
