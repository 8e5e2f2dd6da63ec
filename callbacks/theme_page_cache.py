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
(``chart_table`` in callbacks/themes.py). Workers start at different themes, so two workers
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

log = logging.getLogger(__name__)

PAGE_TIMEOUT = 600          # seconds a built page is kept
KEY_VERSION = 1             # bump when the page's shape changes

_INCOMPLETE: dict[str, tuple[float, str, str]] = {}   # pages with a part missing, kept briefly here
INCOMPLETE_SECONDS = 30
_VERSIONS: dict[tuple, tuple[int, list]] = {}
_BUILDING: dict[str, threading.Lock] = {}      # one build of a theme at a time in this process
_BUILDING_LOCK = threading.Lock()


def _building(slug: str) -> threading.Lock:
    with _BUILDING_LOCK:
        return _BUILDING.setdefault(slug, threading.Lock())


def theme_datasets(theme) -> list[str]:
    """Every dataset a theme page reads: its charts' inputs, its headline figures', its map
    layers' and the borough boundaries of the picker (and of the charts' borough names)."""
    ids = set(theme.dataset_ids())
    for spec in theme.headline_specs():
        ids.update(ds for ds, _ in spec.inputs())
    ids.update(layer["dataset"] for layer in theme.map_layers)
    ids.add(theme_pages.BOROUGHS[0])
    return sorted(ids)


def _dataset_versions(services, theme) -> list:
    """The registry content hashes of the page's datasets, read again only when the registry's
    change counter moves (one small query per request instead of one per dataset)."""
    registry = services.registry
    counter = registry.version
    memo_key = (id(registry), theme.slug)
    known = _VERSIONS.get(memo_key)
    if known is not None and known[0] == counter:
        return known[1]
    versions = registry.versions(theme_datasets(theme))
    _VERSIONS[memo_key] = (counter, versions)
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


def served_theme_page(services, slug: str, chart: str | None = None):
    """(page, title) for the router: the page as plain JSON data (what Dash sends for the
    component tree), from the cache or built and kept; None when no theme file has this slug."""
    theme = theme_pages.themes_of(services).get(slug)
    if theme is None:
        return None
    focus = chart if chart and theme.chart(chart) else None
    key = page_key(services, theme, focus)
    hit = _read(services.cache, key)
    if hit is None:
        # a request that finds the page being built (by the warm-up or another request) waits
        # for it rather than drawing the same charts beside it
        with _building(slug):
            hit = _read(services.cache, key)
            if hit is None:
                # a page with a part missing is not stored, but the requests that waited for its
                # build are given it rather than each drawing it again, one after another
                recent = _INCOMPLETE.get(key)
                if recent is not None and time.monotonic() - recent[0] < INCOMPLETE_SECONDS:
                    return json.loads(recent[1]), recent[2]
                text, title, complete = _build(services, theme, focus)
                if complete:
                    _write(services.cache, key, {"page": text, "title": title})
                    _INCOMPLETE.pop(key, None)
                else:
                    _INCOMPLETE[key] = (time.monotonic(), text, title)
                return json.loads(text), title
    return json.loads(hit["page"]), hit["title"]


def warm(services, server=None, start: int | None = None) -> list[str]:
    """Make every theme page and keep it in the cache, unless the cache already holds it (drawn
    by another worker or by ``explorer warm``); the charts of a page drawn here are kept as tables
    for the place panel. With the Flask ``server``, ask its geometry route for the map layers'
    geometry, which keeps it in the cache too. ``start``: where to begin (default: the process id;
    an odd one goes through the themes backwards, so that two workers started together, whose ids
    follow each other, draw different pages first). Returns the slugs whose page is complete."""
    import os

    client = server.test_client() if server is not None else None
    done = []
    items = list(theme_pages.themes_of(services).items())
    start = os.getpid() if start is None else start
    if start % 2:
        items.reverse()
    first = (start // 2) % max(len(items), 1)
    for slug, theme in items[first:] + items[:first]:
        try:
            key = page_key(services, theme, None)
            built = False
            with _building(slug):
                if _read(services.cache, key) is not None:
                    done.append(slug)
                else:
                    built = True
                    text, title, complete = _build(services, theme, None)
                    if complete:
                        done.append(slug)
                        _write(services.cache, key, {"page": text, "title": title})
                        for spec in theme.charts:
                            theme_pages.keep_chart_table(services, theme, spec,
                                                         theme_pages.chart_result(services, theme, spec))
            # the geometry of a page drawn here (another worker fetched that of the others)
            for item in theme_pages.map_layers(services, theme) if client is not None and built else []:
                if not item.get("error"):
                    client.get(f"/geo/{item['dataset']}/{item['resource']}.pbf",
                               headers={"Accept-Encoding": "gzip"})
        except Exception:  # noqa: BLE001 - warming is an optimisation; a request will say what fails
            log.exception("theme page cache: warming %s failed", slug)
    return done
