"""Small pieces shared by pages: badges, key-value lists, source cards, notices."""

from __future__ import annotations

from dash import dcc, html

from explorer.catalogue.models import Entry

FREQUENCY_LABELS = {
    "daily": "Updated daily", "weekly": "Updated weekly", "monthly": "Updated monthly",
    "quarterly": "Updated quarterly", "biannual": "Updated twice a year", "annual": "Updated yearly",
    "biennial": "Updated every 2 years", "triennial": "Updated every 3 years",
    "irregular": "Updated irregularly", "one-off": "One-off release", "unknown": "Update frequency unknown",
}

GEOGRAPHY_LABELS = {"lsoa": "LSOA", "msoa": "MSOA", "point": "Points", "site": "Sites",
                    "grid": "Grid cells", "output-area": "Output area", "london": "London",
                    "none": "None (not mapped)"}


# where a file was read from, in a visitor's words: the server's folders are never named on a page
ORIGIN_LABELS = {"local": "copy kept on this site", "store": "copy kept on this site",
                 "download": "downloaded from the publisher"}

def geography_label(level: str | None) -> str:
    """A geography level as a label starts: "Borough", "LSOA", "Sites" (never "sites")."""
    text = GEOGRAPHY_LABELS.get(level or "", level or "")
    return text[:1].upper() + text[1:] if text else text


def geography_phrase(level: str | None) -> str:
    """The level inside a sentence: "by borough", "by LSOA", "by London"."""
    text = geography_label(level)
    return text if text.isupper() or text in ("London",) else text.lower()


def coverage(entry: Entry) -> str:
    start, end = entry.temporal_start, entry.temporal_end
    if start and end and start != end:
        return f"{start} – {end}"
    return start or end or ""


ACCESS_LABELS = {"open": "Open data", "shared": "Shared on request", "closed": "Closed"}


def badge(text: str, kind: str = "neutral", title: str | None = None) -> html.Span:
    return html.Span(text, className=f"badge badge--{kind}", title=title)


_NO_LICENCE = {"", "not specified", "none", "unknown", "not stated", "other"}


def licence_stated(entry: Entry) -> bool:
    """Does the entry name a licence (not blank, not "Not Specified")?"""
    return (entry.licence or "").strip().lower() not in _NO_LICENCE


def access_badge(entry: Entry) -> html.Span:
    """"Open data" only beside an open licence that is stated; public data without one says so."""
    if entry.access_level == "open":
        licence = (entry.licence or "").strip().lower()
        if not licence_stated(entry):
            return badge("Public, licence not stated", "access-unlicensed",
                         "Anyone can see this, but the publisher names no licence: ask before reusing it")
        if "not open" in licence:
            return badge("Public, not an open licence", "access-unlicensed", "Read the licence before reusing it")
    return badge(ACCESS_LABELS.get(entry.access_level, entry.access_level), f"access-{entry.access_level}")


def entry_badges(entry: Entry) -> list:
    badges = [access_badge(entry)]
    if licence_stated(entry):
        badges.append(badge(entry.licence, "licence", "Licence"))
    for fmt in entry.formats:
        badges.append(badge(fmt.upper(), "format", "File format"))
    if entry.smallest_geography:
        badges.append(badge(f"By {geography_phrase(entry.smallest_geography)}", "geography", "Smallest geography"))
    if entry.update_frequency:
        badges.append(badge(FREQUENCY_LABELS.get(entry.update_frequency, entry.update_frequency), "frequency"))
    stale = entry.staleness()
    if stale:
        badges.append(badge("Older than its update frequency", "warning",
                            f"Last updated {stale['days_old']} days ago; expected every {stale['expected_days']} days"))
    if entry.caveats:
        badges.append(badge(f"{len(entry.caveats)} caveat{'s' if len(entry.caveats) != 1 else ''}", "caveat"))
    if entry.archived:
        badges.append(badge("Archived", "warning"))
    return badges


def definition_list(rows: list[tuple[str, object]], class_name: str = "facts") -> html.Dl:
    children = []
    for label, value in rows:
        if value in (None, "", []):
            continue
        children += [html.Dt(label), html.Dd(value)]
    return html.Dl(children, className=class_name)


def external_link(text: str, href: str | None):
    if not href:
        return None
    return html.A(text, href=href, target="_blank", rel="noopener noreferrer")


def notice(text, kind: str = "info", role: str | None = None) -> html.Div:
    return html.Div(text, className=f"notice notice--{kind}", role=role or ("alert" if kind == "error" else "status"))


def refresh_note(provenance: dict | None) -> html.Span | None:
    """'could not refresh since <when> (<why in plain words>); this is the last stored copy', with
    the full recorded error one hover away; None when the last refresh did not fail. Every source
    card (dataset page, theme page) says it with these words."""
    if not provenance or not provenance.get("refresh_failed_at"):
        return None
    from explorer.data.resolver import refresh_summary

    since = str(provenance["refresh_failed_at"])[:16].replace("T", " ")
    why = refresh_summary(provenance.get("refresh_error"))
    return html.Span(f"could not refresh since {since} ({why}); this is the last stored copy",
                     title=provenance.get("refresh_error") or "")


def source_card(entry: Entry, provenance: dict | None = None, geography: dict | None = None,
                heading: str = "Where this comes from") -> html.Aside:
    """The source card: publisher, licence, dates, geography, join quality, caveats, link."""
    stale = entry.staleness()
    updated = entry.updated or "not stated"
    if stale:
        updated = html.Span([entry.updated, " ", badge("stale", "warning",
                             f"{stale['days_old']} days old; expected every {stale['expected_days']} days")])
    rows: list[tuple[str, object]] = [
        ("Publisher", entry.publisher or "not stated"),
        ("Dataset", dcc.Link(entry.title, href=f"/dataset/{entry.id}")),
        ("Licence", entry.licence or "not stated"),
        ("Attribution", entry.attribution),
        ("Last updated", updated),
        ("Update frequency", FREQUENCY_LABELS.get(entry.update_frequency or "", entry.update_frequency)),
        ("Coverage", coverage(entry)),
        ("Smallest geography", geography_label(entry.smallest_geography)),
    ]
    if provenance:
        origin = ORIGIN_LABELS.get(provenance.get("origin"), provenance.get("origin"))
        rows.append(("Retrieved", f"{(provenance.get('retrieved_at') or '')[:19].replace('T', ' ')} ({origin})"))
        refresh = refresh_note(provenance)
        if refresh is not None:
            rows.append(("Refresh", refresh))
    caveats = list(entry.caveats)
    if geography:
        rows.append(("Boundaries", f"{geography['level']} {geography['year']} ({geography['code_scheme']} codes)"
                     + (f": {geography['boundary_title']}" if geography.get("boundary_title") else "")))
        rows.append(("Join", f"{geography['matched']:,} of {geography['matched'] + geography['unmatched']:,} "
                             f"rows matched ({geography['match_rate']:.1%})"))
        boundary_caveat = geography.get("boundary_caveat")
        if boundary_caveat and boundary_caveat not in caveats:   # e.g. approximate ward shapes
            caveats.insert(0, boundary_caveat)
    page = external_link("Publisher's page", entry.upstream_url)
    return html.Aside(className="source-card", **{"aria-label": heading}, children=[
        html.H2(heading, className="source-card__title"),
        definition_list(rows),
        html.Div(className="source-card__caveats", children=[
            html.H3("Caveats"),
            html.Ul([html.Li(c) for c in caveats]),
        ]) if caveats else None,
        html.P(page) if page else None,
    ])
