"""Each theme's small map for the home page: its first map layer as a static thumbnail
(:mod:`explorer.maps.thumbnail`), in the classes and colours the theme page's map uses.

Worked out once per theme file version and kept on the app (``services.data.memos``), so the home
page draws from memory; a theme whose first layer cannot be drawn by classes of areas has none.
Also kept in the app's cache (the filesystem, or Redis shared by every worker), keyed by the code,
the theme and its datasets' registry hashes: a restarted server's first page reads them instead of
loading every theme's first layer (1-2 s of a restart's first page).
"""

from __future__ import annotations

import logging

from explorer.maps.thumbnail import Thumbnail, build_thumbnail
from explorer.themes.page_data import BOROUGHS, map_layers
from explorer.themes.theme_files import Theme

log = logging.getLogger(__name__)

__all__ = ["THUMBNAILS", "theme_thumbnail"]

THUMBNAILS = ("theme-thumbnails", 32)


class _Failed(Exception):
    pass


def _compute(services, theme: Theme) -> Thumbnail | None:
    layers = map_layers(services, theme)
    if not layers:
        return None
    first = layers[0]
    if first.get("error"):
        if first.get("not_open"):
            return None       # not open data: nothing of it on a public page
        raise _Failed(first["error"])
    style = first.get("style") or {}
    return build_thumbnail(services.data, first["dataset"], first["resource"], style.get("values") or [],
                           style, first["label"], regions=BOROUGHS)


def _kept(services, theme: Theme) -> Thumbnail | None:
    from explorer.data.cache import cache_key, cached, code_digest
    from explorer.themes.page_data import theme_datasets

    key = cache_key("theme-thumbnail", 1, code_digest(), theme.slug, theme.digest,
                    services.registry.versions(theme_datasets(theme)), str(services.settings.data_dir))
    return cached(getattr(services, "cache", None), key, lambda: _compute(services, theme))


def theme_thumbnail(services, theme: Theme) -> Thumbnail | None:
    """The theme's first map layer as a thumbnail, or None (no map layer, not drawn by classes of
    areas, or it failed: logged, and tried again next time)."""
    try:
        return services.data.memos.table(*THUMBNAILS).get((theme.slug, theme.digest),
                                                          lambda: _kept(services, theme))
    except Exception as exc:  # noqa: BLE001 - a thumbnail's failure must not break the home page
        log.warning("theme %s: no map thumbnail (%s)", theme.slug, exc)
        return None
