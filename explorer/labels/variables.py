"""A variable's human label: from the registry (a resource's ``labels`` option) or the theme file
when they give one, else read from the column's name — never the raw column on a page.

    NO2-2019-mean   → "NO₂ annual mean, 2019"        PM10d-2019-mean → "Days PM10 above 50 µg/m³, 2019"
    202603          → "March 2026"                    median_income   → "Median income"
    MajorText       → "Major text"                    1995            → "1995"

Identifier columns (ukgridcode, LSOA11CD) are never offered as variables: explorer/maps/columns.py.
"""

from __future__ import annotations

import calendar
import re

POLLUTANTS = {"no2": "NO₂", "nox": "NOx", "pm10": "PM10", "pm25": "PM2.5", "pm2.5": "PM2.5", "pm2_5": "PM2.5",
              "o3": "O₃", "so2": "SO₂", "co2": "CO₂"}
STATISTICS = {"mean": "annual mean", "median": "median", "max": "highest", "min": "lowest",
              "std": "spread (standard deviation)", "sd": "spread (standard deviation)"}
_POLLUTANT_COLUMN = re.compile(
    r"^(?P<poll>NO2|NOx|PM10d|PM10|PM25|PM2\.5|PM2_5|O3|SO2)[-_ ]?(?P<year>(?:19|20)\d\d)?[-_ ]?"
    r"(?P<stat>mean|median|max|min|std|sd)?$", re.IGNORECASE)
_MONTH = re.compile(r"^(?P<year>(?:19|20)\d\d)[-_]?(?P<month>0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
# ONS geography columns: LSOA11CD → "LSOA code (2011)", LAD22NM → "Local authority name (2022)"
_ONS_COLUMN = re.compile(r"^(?P<level>OA|LSOA|MSOA|WD|LAD|LA|CTY|RGN|CTRY|UTLA|LTLA)(?P<year>\d\d)(?P<part>CD|NM)$",
                         re.IGNORECASE)
_ONS_LEVELS = {"oa": "Output area", "lsoa": "LSOA", "msoa": "MSOA", "wd": "Ward", "lad": "Local authority",
               "la": "Local authority", "cty": "County", "rgn": "Region", "ctry": "Country",
               "utla": "Upper-tier local authority", "ltla": "Lower-tier local authority"}
_PLAIN = {"gss_code": "Area code", "gsscode": "Area code", "gss": "Area code", "name": "Name"}
_WORDS = {"pct": "%", "percent": "%", "pop": "population", "no": "number", "num": "number", "avg": "average",
          "hh": "household", "imd": "IMD", "lsoa": "LSOA", "msoa": "MSOA", "gss": "GSS", "nm": "name",
          "ptal": "PTAL", "ai": "access index", "co2": "CO₂", "ghg": "greenhouse gas", "kt": "kilotonnes",
          "gla": "GLA", "uk": "UK", "tfl": "TfL", "osm": "OSM", "laei": "LAEI"}


_MONTH_NAMES = frozenset(calendar.month_abbr[1:]) | frozenset(calendar.month_name[1:])


def period_label(text: str, short: bool = False) -> str:
    """"202603" → "March 2026" ("Mar 2026" when ``short``); "2019" stays "2019"."""
    found = _MONTH.match(str(text))
    if found:
        names = calendar.month_abbr if short else calendar.month_name
        return f"{names[int(found['month'])]} {found['year']}"
    return str(text)


def _words(column: str) -> str:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(column))          # camelCase
    parts = [p for p in re.split(r"[_\-\s.]+", text) if p]
    words = []
    for part in parts:
        key = part.lower()
        if key in POLLUTANTS:
            words.append(POLLUTANTS[key])
        elif key in _WORDS:
            words.append(_WORDS[key])
        elif key.capitalize() in _MONTH_NAMES:
            words.append(key.capitalize())        # "Year ending Dec 2017", not "dec"
        else:
            words.append(part if part.isupper() and len(part) <= 5 else part.lower())
    if not words:
        return str(column)
    text = " ".join(words).replace(" %", " (%)")
    return text[0].upper() + text[1:]


def resource_labels(resource) -> dict[str, str]:
    """A resource's own human labels for its columns: its ``labels`` option ({column: label}) in the
    catalogue. Anything that is not a column name and a line of text is left out (catalogues come
    from strangers); a label is plain text, at most 200 characters."""
    raw = (getattr(resource, "options", None) or {}).get("labels")
    if not isinstance(raw, dict):
        return {}
    out = {}
    for column, label in raw.items():
        if isinstance(column, (str, int)) and isinstance(label, str) and label.strip():
            out[str(column)] = " ".join(label.split())[:200]
    return out


def variable_label(column: str | None, labels: dict | None = None) -> str:
    """The label a page shows for ``column``; ``labels`` are the registry's or theme file's own."""
    if column is None or column == "":
        return ""
    column = str(column)
    if labels and labels.get(column):
        return str(labels[column])
    found = _POLLUTANT_COLUMN.match(column)
    if found and (found["year"] or found["stat"]):
        poll = found["poll"].lower()
        if poll == "pm10d":
            text = "Days with PM10 above 50 µg/m³"
        else:
            text = f"{POLLUTANTS.get(poll, found['poll'])} {STATISTICS.get((found['stat'] or 'mean').lower())}"
        return text + (f", {found['year']}" if found["year"] else "")
    if _MONTH.match(column) or _YEAR.match(column):
        return period_label(column)
    found = _ONS_COLUMN.match(column)
    if found:
        part = "code" if found["part"].upper() == "CD" else "name"
        return f"{_ONS_LEVELS[found['level'].lower()]} {part} (20{found['year']})"
    if column.lower() in _PLAIN:
        return _PLAIN[column.lower()]
    return _words(column)


def unit_label(unit: str | None) -> str | None:
    """Units as a reader writes them: "ug/m3" → "µg/m³"."""
    if not unit:
        return None
    text = str(unit).strip()
    return {"ug/m3": "µg/m³", "µg/m3": "µg/m³", "ugm-3": "µg/m³", "gbp": "£", "pounds": "£",
            "percent": "%", "pct": "%"}.get(text.lower(), text)
