"""Theme pages kept in the app's cache, so that opening one is a cache read, not a build.

Building a theme page draws every chart with plotly (0.3–2.5 s of CPU per theme in a fresh
worker) and turns the component tree into JSON (20–100 ms even when the charts are remembered).
:func:`served_theme_page` keeps the page as Dash would send it, in the app's cache (the
filesystem, or Redis shared by every worker and host), for ten minutes. Its key names what the
page is drawn from: the theme file's bytes, the registry content hash of every dataset the page
reads (charts, headline figures, map layers, the borough picker's boundaries), the data folder and
the chart a permalink opens at. A re-harvested entry or an edited theme file makes a new key; the
ten minutes bound how long a change in a stored copy's provenance (a failed refresh) waits to show.

A page with a part that could not be drawn (data not there yet, a download that failed) is served
but not kept, so the next visitor tries again.

:func:`warm_in_background` builds every theme page once after a worker starts, in a thread, so that
the first visitors do not pay for it; with Redis, a page another worker already stored is not
stored again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

from callbacks import themes as theme_pages
from explorer.cache import cache_key

log = logging.getLogger(__name__)

PAGE_TIMEOUT = 600          # seconds a built page is kept
KEY_VERSION = 1             # bump when the page's shape changes

_FILE_DIGESTS: dict[tuple, str] = {}
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


def _file_digest(path: Path) -> str:
    """sha256 of the theme file, read again only when its size or time changes."""
    try:
        st = Path(path).stat()
        sig = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        return "missing"
    digest = _FILE_DIGESTS.get(sig)
    if digest is None:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        _FILE_DIGESTS[sig] = digest
    return digest


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
    return cache_key("theme-page", KEY_VERSION, theme.slug, focus, _file_digest(theme.path),
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
                text, title, complete = _build(services, theme, focus)
                if complete:
                    _write(services.cache, key, {"page": text, "title": title})
                return json.loads(text), title
    return json.loads(hit["page"]), hit["title"]


def warm(services, server=None) -> list[str]:
    """Build every theme page in this process (its charts stay in the process's memo, which the
    selection callbacks read) and keep each in the cache unless a page is already there; with the
    Flask ``server``, ask its geometry route for the map layers' geometry, which keeps it in the
    cache too. Returns the slugs whose page was complete."""
    client = server.test_client() if server is not None else None
    done = []
    for slug, theme in list(theme_pages.themes_of(services).items()):
        try:
            key = page_key(services, theme, None)
            with _building(slug):
                text, title, complete = _build(services, theme, None)
                if complete:
                    done.append(slug)
                    if _read(services.cache, key) is None:
                        _write(services.cache, key, {"page": text, "title": title})
            for item in theme_pages.map_layers(services, theme) if client is not None else []:
                if not item.get("error"):
                    client.get(f"/geo/{item['dataset']}/{item['resource']}.pbf",
                               headers={"Accept-Encoding": "gzip"})
        except Exception:  # noqa: BLE001 - warming is an optimisation; a request will say what fails
            log.exception("theme page cache: warming %s failed", slug)
    return done


def warm_in_background(services, server=None) -> threading.Thread:
    thread = threading.Thread(target=_warm_logged, args=(services, server), name="theme-page-warm",
                              daemon=True)
    thread.start()
    return thread


def _warm_logged(services, server) -> None:
    import time

    started = time.monotonic()
    done = warm(services, server)
    log.info("theme pages ready: %d of %d in %.1f s", len(done), len(theme_pages.themes_of(services)),
             time.monotonic() - started)
