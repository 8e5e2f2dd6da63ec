"""The dataset page's answers kept on the app: what every visitor of an open dataset is sent alike.

Many people open the same dataset page, and its callbacks (the preview with its map, source card
and provenance: ``callbacks/dataset.py``; the chart builder's choices and chart:
``callbacks/chart_builder.py``) answer them all alike: an answer depends only on the callback's
inputs and states, the registry, the files on disk and the code. So the answer worked out for the
first visitor is kept (:func:`kept_answer`: one bounded table of ``services.data.memos`` per
callback) and the next is sent it as the JSON text Dash would have written: each output an
``orjson.Fragment``, which Dash's serialiser (plotly's, with orjson) copies into the response as it
is, so neither the work nor the serialising is done again. (The map keeps its answers with the
same :func:`kept_answer`: ``callbacks/map_explorer.py``.)

The page itself (``/dataset/<id>``: its metadata and table of files) is kept the same way
(:func:`entries_version` of every file), drawn by ``callbacks.dataset.served_dataset_page``.

The key (:func:`entries_version`) holds everything an answer depends on beyond the callback's own
inputs: the registry's version (a re-harvest, an edited entry), the data folder and the store,
what is on disk for the file (``Resolver.copies_signature``: a stored copy that appears, a local
file replaced) and the code (``explorer.data.cache.code_digest``).

Never kept:

- the answer for an entry that is not open (``access_level`` shared or closed): the access guard
  (``DataService.access_guard``) decides for each person whether its files may be read, and a memo
  shared between people knows nobody; such an answer is worked out for each request, as before;
- an answer the callback marks as a failure (a file that could not be found or read, a download
  that failed): tried again next time, as the data service does.
"""

from __future__ import annotations

from typing import Callable

from dash._no_update import NoUpdate

from explorer.data.cache import cache_key, code_digest

# the app's memo tables: (name, how many answers kept)
PAGES = ("dataset-page.pages", 64)
PREVIEWS = ("dataset-page.previews", 32)
CHARTS = ("dataset-page.chart-builder", 64)


class _NotKept(Exception):
    def __init__(self, value):
        super().__init__("not kept")
        self.value = value


EVERY_FILE = object()    # entries_version: what is on disk for each of an entry's files


def entries_version(services, dataset_ids, resource_id=EVERY_FILE) -> tuple | None:
    """Everything an answer drawn from these entries depends on beyond its request: the registry's
    version (a re-harvest, an edited entry, an access change), the data folder and store, what is
    on disk for each entry's files (``Resolver.copies_signature``: a stored copy that appears or is
    replaced; ``resource_id``: that file only, ``None`` the entry's first) and the code. None when
    the answer may not be kept: an id that is not a string, an entry not in the registry or not
    open (the access guard decides per person; a shared memo knows nobody), no such file.

    The registry's version is read before the entries, so what is worked out after is never
    older than the version it is kept under (an entry made shared in between gives None here, or
    a newer version next time)."""
    from explorer.data.resolver import ResolveError

    ids = set(dataset_ids)
    if not all(isinstance(d, str) for d in ids):      # not an id a page of the app sends
        return None
    version = services.registry.version
    resolver, on_disk = services.data.resolver, []
    for dataset_id in sorted(ids):
        entry = services.registry.get(dataset_id)
        if entry is None or entry.access_level != "open":
            return None
        files = [r.id for r in entry.resources] if resource_id is EVERY_FILE else [resource_id]
        try:
            on_disk.append(tuple(resolver.copies_signature(entry, f) for f in files))
        except ResolveError:
            return None
    settings = services.settings
    return (version, str(settings.data_dir), str(settings.store_dir), tuple(on_disk), code_digest())


def dataset_version(services, dataset_id, resource_id: str | None) -> tuple | None:
    """:func:`entries_version` of one file of a dataset (the preview, the chart builder)."""
    return entries_version(services, [dataset_id], resource_id)


def as_json_text(outputs: tuple) -> tuple:
    """``outputs`` with each value Dash will send written once as JSON text (an
    ``orjson.Fragment``); a ``no_update`` stays what it is. Without orjson as plotly's JSON engine
    (which copies a fragment as it is), the values are kept as they are."""
    import plotly.io.json as plotly_json
    from plotly.io._json import to_json_plotly

    if plotly_json.config.default_engine not in ("auto", "orjson"):
        return tuple(outputs)
    try:
        import orjson
    except ImportError:     # plotly's "auto" then writes with the json module
        return tuple(outputs)
    return tuple(value if NoUpdate.is_no_update(value) else orjson.Fragment(to_json_plotly(value))
                 for value in outputs)


def kept_answer(services, table: tuple[str, int], version: tuple | None, request: tuple,
                compute: Callable[[], tuple], keep: Callable[[tuple], bool]) -> tuple:
    """The callback's outputs for ``request`` (its inputs and states, as plain JSON data): the
    answer kept for (``request``, ``version``), else ``compute()``'s, kept (as JSON text) when
    ``keep(outputs)`` says it may be. ``version`` None (:func:`dataset_version`: not open) keeps
    nothing. Two requests for the same answer at once: the second waits for the first's."""
    if version is None:
        return compute()

    def work():
        outputs = compute()
        if not keep(outputs):
            raise _NotKept(outputs)
        return as_json_text(outputs)

    key = cache_key(table[0], request, version)
    try:
        return services.data.memos.table(*table).get(key, work)
    except _NotKept as not_kept:
        return not_kept.value

