"""A source in one line, as a chart's folded source card and an image's footer print it:
"Greater London Authority (GLA) · OGL v3 · updated 3 Mar 2024"."""

from __future__ import annotations

import re
from datetime import date

_ABBREVIATION = re.compile(r"\(([A-Z][A-Za-z&]{1,9})\)\s*$")
_LICENCES = (
    (re.compile(r"open government licen[cs]e\s*(?:for public sector information\s*)?v?(?:ersion\s*)?(\d)", re.I),
     "OGL v{0}"),
    (re.compile(r"open government licen[cs]e", re.I), "OGL"),
    (re.compile(r"open data commons open database licen[cs]e|\bODbL\b", re.I), "ODbL"),
    (re.compile(r"creative commons attribution[- ]share ?alike\s*(\d(?:\.\d)?)?", re.I), "CC BY-SA {0}"),
    (re.compile(r"creative commons attribution\s*(\d(?:\.\d)?)?", re.I), "CC BY {0}"),
)


def short_publisher(publisher: str | None) -> str:
    """The publisher's abbreviation when it gives one ("Greater London Authority (GLA)" → "GLA")."""
    if not publisher:
        return "publisher not stated"
    found = _ABBREVIATION.search(publisher.strip())
    return found.group(1) if found else publisher.strip()


def short_licence(licence: str | None) -> str:
    if not licence:
        return "licence not stated"
    for pattern, short in _LICENCES:
        found = pattern.search(licence)
        if found:
            return short.format(*(g or "" for g in found.groups())).strip()
    return licence.strip()


def readable_date(text: str | None) -> str | None:
    """"2024-03-03" → "3 Mar 2024"; a year or a year and month stay as they are."""
    if not text:
        return None
    text = str(text)[:10]
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    return f"{day.day} {day:%b %Y}"


def source_line(publisher: str | None, licence: str | None, updated: str | None) -> str:
    parts = [short_publisher(publisher), short_licence(licence)]
    when = readable_date(updated)
    if when:
        parts.append(f"updated {when}")
    return " · ".join(parts)
