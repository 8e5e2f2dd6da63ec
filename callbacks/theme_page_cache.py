"""Theme pages kept in the app's cache, so that opening one is a cache read, not a build.

Building a theme page draws every chart with plotly (0.3–2.5 s of CPU per theme in a fresh
worker) and turns the component tree into JSON (20–100 ms even when the charts are remembered).
:func:`served_theme_page` keeps the page as Dash would send it, in the app's cache (the
filesystem, or Redis shared by every worker and host), for ten minutes. Its key names what the
page is drawn from: the code that draws it, the theme as parsed, the registry content hash of every dataset the page
reads (charts, headline figures, map layers, the borough picker's boundaries), the data folder and
the chart a permalink opens at. A re-harvested entry or an edited theme file makes a new key; the
ten minutes bound how long a change in a stored copy's provenance (a failed refresh) waits to show.

A page with a part that could not be drawn (data not there yet, a download that failed) is not
stored in the cache, so a visitor after half a minute tries again; the requests that waited for its
build (and those in the next half minute) are given it in this process rather than each building it.

:func:`warm` makes every theme page once when a worker starts (explorer/web/warmup.py), so that the
first visitors do not pay for it. A page another worker (or ``explorer warm``) already stored is
not drawn again: the place panel and the data tables read the charts' tables from the cache too
(``chart_table`` in explorer/themes/page_data.py). Workers start at different themes, so two workers
starting together draw different pages and then read each other's.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from callbacks import themes as theme_pages
from explorer.data import cache as app_cache
from explorer.data.cache import cache_key
from explorer.themes import page_data

log = logging.getLogger(__name__)

PAGE_TIMEOUT = 600          # seconds a built page is kept
KEY_VERSION = 1             # bump when the page's shape changes

INCOMPLETE_SECONDS = 30
# memo tables on the app (services.data.memos): (name, size)
INCOMPLETE = ("theme-pages-incomplete", 64)   # pages with a part missing, kept briefly here
VERSIONS = ("theme-page-versions", 64)        # the registry hashes of a page's datasets
BUILDING = ("theme-page-builds", 64)          # one build of a theme at a time in this process


def _building(services, slug: str) -> threading.Lock:
    return services.data.memos.table(*BUILDING).get(slug, threading.Lock)


def _dataset_versions(services, theme) -> list:
    """The registry content hashes of the page's datasets, read again only when the registry's
    change counter moves (one small query per request instead of one per dataset)."""
    registry = services.registry
    counter = registry.version
    table = services.data.memos.table(*VERSIONS)
    known = table.peek(theme.slug)
    if known is not None and known[0] == counter:
        return known[1]
    versions = registry.versions(page_data.theme_datasets(theme))
    table.put(theme.slug, (counter, versions))
    return versions


def page_key(services, theme, focus: str | None) -> str:
    return cache_key("theme-page", KEY_VERSION, app_cache.code_digest(), theme.slug, focus, theme.digest,
                     _dataset_versions(services, theme), str(services.settings.data_dir))


def _read(cache, key: str):
    if cache is None:
        return None
    try:
        return cache.get(key)
    except Exception as exc:  # noqa: BLE001 - a cache that fails is a miss
        log.warning("theme page cache: read failed (%s)", exc)
        return None


def _write(cache, key: str, value: dict) -> None:
    if cache is None:
        return
    try:
        cache.set(key, value, timeout=PAGE_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        log.warning("theme page cache: write failed (%s)", exc)


def _build(services, theme, focus: str | None) -> tuple[str, str, bool]:
    """(page as JSON text, title, complete), drawn now."""
    from plotly.io.json import to_json_plotly  # what Dash itself serialises answers with

    page, title, complete = theme_pages.build_theme_page(services, theme.slug, focus)
    return to_json_plotly(page), title, complete


def served_theme_page_json(services, slug: str, chart: str | None = None) -> tuple[str, str] | None:
    """(page as JSON text, title): the page as Dash sends the component tree, from the cache or
    built and kept; None when no theme file has this slug."""
    theme = page_data.themes_of(services).get(slug)
    if theme is None:
        return None
    focus = chart if chart and theme.chart(chart) else None
    key = page_key(services, theme, focus)
    hit = _read(services.cache, key)
    if hit is None:
        # a request that finds the page being built (by the warm-up or another request) waits
        # for it rather than drawing the same charts beside it
        with _building(services, slug):
            hit = _read(services.cache, key)
            if hit is None:
                # a page with a part missing is not stored, but the requests that waited for its
                # build are given it rather than each drawing it again, one after another
                incomplete = services.data.memos.table(*INCOMPLETE)
                recent = incomplete.peek(key)
                if recent is not None and time.monotonic() - recent[0] < INCOMPLETE_SECONDS:
                    return recent[1], recent[2]
                text, title, complete = _build(services, theme, focus)
                if complete:
                    _write(services.cache, key, {"page": text, "title": title})
                    incomplete.put(key, None)
                else:
                    incomplete.put(key, (time.monotonic(), text, title))
                return text, title
    return hit["page"], hit["title"]


def served_theme_page(services, slug: str, chart: str | None = None):
    """(page, title): :func:`served_theme_page_json` with the page as plain JSON data."""
    served = served_theme_page_json(services, slug, chart)
    return None if served is None else (json.loads(served[0]), served[1])


def served_theme_fragment(services, slug: str, chart: str | None = None):
    """(page, title) for the router: the page as an ``orjson.Fragment`` of its JSON text, which
    Dash's serialiser (plotly's, with orjson) copies into the answer as it is. Parsing the page
    only to serialise it again cost 20-40 ms of CPU per visitor for a page everyone is sent alike;
    nothing on the server reads the page's parts (the static first view is drawn from the text)."""
    import orjson

    served = served_theme_page_json(services, slug, chart)
    return None if served is None else (orjson.Fragment(served[0]), served[1])


def warm(services, server=None, start: int | None = None, claims=None) -> list[str]:
    """Make every theme page and keep it in the cache, unless the cache already holds it (drawn
    by another worker or by ``explorer warm``); the charts of a page drawn here are kept as tables
    for the place panel. With the Flask ``server``, ask its geometry route for the map layers'
    geometry, which keeps it in the cache too. ``start``: where to begin (default: the process id;
    an odd one goes through the themes backwards, so that two workers started together, whose ids
    follow each other, draw different pages first). ``claims`` (explorer/web/warmup.py's
    ``Claims``): asked before a page is drawn here, ``take(key, wait)`` says whether to draw it
    now (False: another worker is drawing it; the page is taken again after the others, with
    ``wait``), ``release(key)`` after. Returns the slugs whose page is complete."""
    import os

    client = server.test_client() if server is not None else None
    done: list[str] = []
    items = list(page_data.themes_of(services).items())
    start = os.getpid() if start is None else start
    if start % 2:
        items.reverse()
    first = (start // 2) % max(len(items), 1)
    pending = items[first:] + items[:first]
    for wait in (False, True):
        pending = [(slug, theme) for slug, theme in pending
                   if not _warm_page(services, slug, theme, client, done, claims, wait)]
    return done


def _warm_page(services, slug, theme, client, done: list, claims, wait: bool) -> bool:
    """Warm one theme page (see :func:`warm`); False when another worker is drawing it."""
    try:
        key = page_key(services, theme, None)
        built = False
        # claimed outside the lock: a visitor's request for this page may take it meanwhile
        if _read(services.cache, key) is None and claims is not None and not claims.take(key, wait):
            return False
        with _building(services, slug):
            if _read(services.cache, key) is not None:
                done.append(slug)
                if claims is not None:
                    claims.release(key)
            else:
                built = True
                try:
                    text, title, complete = _build(services, theme, None)
                    if complete:
                        done.append(slug)
                        _write(services.cache, key, {"page": text, "title": title})
                        for spec in theme.charts:
                            page_data.keep_chart_table(services, theme, spec,
                                                       page_data.chart_result(services, theme, spec))
                finally:
                    if claims is not None:
                        claims.release(key)
        # the geometry of a page drawn here (another worker fetched that of the others)
        for item in page_data.map_layers(services, theme) if client is not None and built else []:
            if not item.get("error"):
                client.get(f"/geo/{item['dataset']}/{item['resource']}.pbf",
                           headers={"Accept-Encoding": "gzip"})
    except Exception:  # noqa: BLE001 - warming is an optimisation; a request will say what fails
        log.exception("theme page cache: warming %s failed", slug)
    return True
