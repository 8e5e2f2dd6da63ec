"""Which caveats a reader must see beside a chart, and which are notes for whoever handles the file.

A chart for the public shows what changes how its numbers read ("Modelled, not measured", "Counts,
not rates"); who repackaged a file is in its folded source card; how the file is encoded or
separated is for the dataset page, where people who download it look."""

from __future__ import annotations

import re

READER, SOURCE, HANDLING = "reader", "source", "handling"

# What changes how the numbers read, even when the sentence also names a file or a column
_READER = re.compile(
    r"modelled|not measure|not rates|relative|different years|covers only|units are not stated|example data|"
    r"volunteered|average hides|approximate|not a concentration|not stated; the values", re.IGNORECASE)
# Facts about the file, not about what its numbers mean
_HANDLING = re.compile(
    r"separat|encod|utf-?8|cp1252|byte-order|line endings|gzip|vsigzip|decompress|\bcsv\b|geojson|topojson|"
    r"\bxlsx?\b|\.tab\b|\.dat\b|\btab files\b|layer is named|field names|file names|schema|long format|"
    r"column|written as|written with|quoted with|missing values|day-first|mislabelled|placeholder coordinates|"
    r"keyed by|join on|joined by|hash keys|\bcodes?\b.*\bmatch|rows (?:for|include|beyond|with)|"
    r"attributes .*empty|pandas|must stay beside|transverse mercator|epsg|british national grid|"
    r"\(resource [\w-]+\)",
    re.IGNORECASE)
# Who made or moved the file, and under which terms
_SOURCE = re.compile(
    r"licen[cs]e|repackaged|reformatted|converted|cleaned|extracted|compiled|reshaped|selected for|"
    r"derived (?:by|from)|computed by|summed to|extended by|downloaded by|held as|simplified by|prepared for|by a third party|"
    r"not published by|not an? (?:ons|official)|holding repository|stand-in|extract date|edition",
    re.IGNORECASE)


def kind(caveat: str) -> str:
    """READER, SOURCE or HANDLING (see the module's docstring)."""
    text = str(caveat)
    if _READER.search(text):
        return READER
    if _HANDLING.search(text):
        return HANDLING
    if _SOURCE.search(text):
        return SOURCE
    return READER


def split(caveats) -> dict[str, list[str]]:
    """The caveats by kind, each once, in their order."""
    out: dict[str, list[str]] = {READER: [], SOURCE: [], HANDLING: []}
    seen: set[str] = set()
    for caveat in caveats or []:
        key = " ".join(str(caveat).split()).casefold()
        if key in seen:
            continue
        seen.add(key)
        out[kind(caveat)].append(caveat)
    return out
