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


# Words people use for what the catalogue calls by another name. Used when a request is read
# (not at index time): the request "property prices" also looks for "house prices". Each group
# is a set of names for one thing; matching is on whole words of the request.
QUERY_GROUPS: tuple[tuple[str, ...], ...] = (
    ("property prices", "house prices", "home prices", "housing prices"),
    ("property", "housing", "dwellings"),
    ("homes", "housing", "dwellings"),
    ("houses", "housing", "dwellings"),
    ("homeless", "homelessness", "rough sleeping", "rough sleepers"),
    ("rough sleepers", "rough sleeping", "homelessness"),
    ("pollution", "air quality", "emissions"),
    ("polluted", "air quality", "pollution"),
    ("smog", "air quality"),
    ("jobs", "employment", "workforce"),
    ("jobless", "unemployment"),
    ("unemployment", "claimants", "jobseekers"),
    ("wages", "earnings", "pay"),
    ("salaries", "earnings", "pay"),
    ("salary", "earnings", "pay"),
    ("gdp", "gross value added", "gva"),
    ("economy", "economic"),
    ("cycle", "cycling", "bicycle"),
    ("bike", "cycling", "bicycle", "cycle hire"),
    ("bikes", "cycling", "bicycle", "cycle hire"),
    ("accidents", "collisions", "casualties"),
    ("crashes", "collisions", "casualties"),
    ("crime", "offences", "police"),
    ("kids", "children"),
    ("school children", "pupils"),
    ("tube", "underground"),
    ("metro", "underground"),
    ("trains", "rail", "underground"),
    ("buses", "bus"),
    ("rent", "rents", "rental"),
    ("rental", "rents"),
    ("rubbish", "waste"),
    ("trash", "waste"),
    ("garbage", "waste"),
    ("flooding", "flood"),
    ("floods", "flood"),
    ("ev", "electric vehicle"),
    ("chargers", "charging"),
    ("deprived", "deprivation"),
    ("poor", "poverty", "deprivation"),
    ("wealth", "income"),
    ("earnings", "income", "pay"),
    ("immigration", "migration", "migrants"),
    ("immigrants", "migration", "migrants"),
    ("foreigners", "migration", "country of birth"),
    ("tourists", "tourism", "visitors"),
    ("tourist", "tourism", "visitors"),
    ("trees", "tree canopy", "street trees"),
    ("greenery", "green space", "green infrastructure"),
    ("parks", "green space", "open space"),
    ("vote", "election"),
    ("voting", "election"),
    ("fires", "fire brigade", "lfb"),
    ("firefighters", "fire brigade", "lfb"),
    ("doctors", "gp", "health"),
    ("obese", "obesity"),
    ("overweight", "obesity"),
    ("fat", "obesity"),
    ("covid", "coronavirus", "covid-19"),
    ("coronavirus", "covid-19"),
    ("inhabitants", "population"),
    ("race", "ethnicity", "ethnic group"),
    ("ethnic", "ethnicity", "ethnic group"),
    ("ethnicity", "ethnic group"),
    ("suicide", "mental health"),
    ("depression", "mental health"),
    ("happiness", "well-being", "wellbeing"),
    ("knife", "knife crime", "violence"),
    ("stabbings", "knife crime", "violence"),
    ("gangs", "youth violence", "serious violence"),
    ("solar", "photovoltaic", "pv"),
    ("renewable", "low carbon", "solar"),
    ("co2", "carbon", "greenhouse gas"),
    ("carbon", "greenhouse gas", "co2"),
    ("noisy", "noise"),
    ("shops", "retail", "high streets"),
    ("businesses", "business", "enterprises"),
    ("firms", "business", "enterprises"),
    ("companies", "business", "enterprises"),
    ("exam", "gcse", "results"),
    ("exams", "gcse", "results"),
    ("council housing", "social housing", "local authority housing"),
    ("social housing", "local authority housing", "registered social landlord"),
)

_QUERY_GROUPS_RE = [(re.compile(r"(?<![\w])" + re.escape(group[0]) + r"(?![\w])"), group[1:])
                    for group in QUERY_GROUPS]


def query_synonyms(text: str) -> list[str]:
    """Other names for what a request asks about (not words already in it)."""
    text = normalise(text).lower()
    found: list[str] = []
    for pattern, others in _QUERY_GROUPS_RE:
        if pattern.search(text):
            found += [o for o in others if not re.search(r"(?<![\w])" + re.escape(o) + r"(?![\w])", text)]
    found += expansions(text)
    return list(dict.fromkeys(found))
