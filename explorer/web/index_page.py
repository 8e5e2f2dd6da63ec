"""The index page, built in one place: :meth:`ExplorerDash.interpolate_index`.

Every page address of the app (``/``, ``/catalogue?q=…``, ``/map?layer=…``, ``/themes/…``) is
answered by Dash's index route, which calls ``interpolate_index``. There, in this order and nowhere
else:

1. the request's path and query are read once into a :class:`PageRequest` (bounds and repeats as
   explorer/guards/request_limits.py says);
2. the layout is built for that page: the app's layout is a :class:`PageLayout`, a function of the
   page being opened (the frame of layouts/shell.py around the page the router draws). Dash's own
   ``/_dash-layout`` calls it with no page and gets the bare frame; the router then draws the
   page, as it does for every later move in the browser;
3. that layout, serialised as Dash serialises it, is drawn as static HTML and carried in the page
   for assets/first_view.js to hand to Dash (explorer/web/first_paint.py, static_html.py);
4. a map page names what its map will fetch, read from that same layout (explorer/web/preload.py);
5. Dash's polyfill bundle is left out (explorer/web/page_scripts.py);
6. ``<html>`` gets the page's language, and ``class="embed"`` for ``?embed=1``.

A page that cannot be drawn (the router fails, a query over the limits) is served as Dash serves
it: its scripts, "Loading...", the bare frame from ``/_dash-layout``, and the router draws it (and
shows its error the usual way).

Why a subclass rather than ``dash.hooks``: Dash's hooks are registered for the whole process, so
two apps made by ``create_app`` in one process (as the tests make) would share them; the subclass
keeps each app's index page, and its memo of drawn pages, its own.

The Dash internals this page copies or relies on are listed, with what to re-check when they
change, in tests/unit/test_dash_internals.py.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import dash
from plotly.io.json import to_json_plotly

from explorer.guards.request_limits import QueryRefused, parse_query
from explorer.web.first_paint import (ASSETS_IGNORE, LANGUAGE, FirstView, draw_first_view,
                                      early_script_tags)
from explorer.web.page_scripts import without_polyfill
from explorer.web.preload import preload_tags

log = logging.getLogger(__name__)

FIRST_VIEWS_KEPT = 64   # pages drawn as static HTML, kept by their layout (a theme page is the same for all)

# Dash's default index template with the page's language on <html> (WCAG 3.1.1: screen readers'
# pronunciation); the placeholders are Dash's own, checked by Dash when it is set.
INDEX_TEMPLATE = f"""<!DOCTYPE html>
<html lang="{LANGUAGE}">
    <head>
        {{%metas%}}
        <title>{{%title%}}</title>
        {{%favicon%}}
        {{%css%}}
    </head>
    <body>
        {{%app_entry%}}
        <footer>
            {{%config%}}
            {{%scripts%}}
            {{%renderer%}}
        </footer>
    </body>
</html>"""
HTML_TAG = f'<html lang="{LANGUAGE}">'


@dataclass(frozen=True)
class PageRequest:
    """The page being opened: its path and query, read once per request.

    ``search`` is the query as the browser's ``location.search`` gives it (``"?a=1"`` or ``""``),
    ``params`` the same parsed (repeats dropped), ``prefix`` the app's ``requests_pathname_prefix``.
    """

    path: str
    search: str = ""
    params: Mapping[str, list[str]] = field(default_factory=dict)
    prefix: str = "/"

    @classmethod
    def parse(cls, path: str, query: str, prefix: str = "/") -> "PageRequest":
        """The page of ``path`` and raw ``query`` (no ``?``); over the query limits a QueryRefused."""
        query = query[1:] if query.startswith("?") else query
        return cls(path=path or "/", search="?" + query if query else "", params=parse_query(query),
                   prefix=prefix or "/")

    @classmethod
    def current(cls, prefix: str = "/") -> "PageRequest | None":
        """The page the current Flask request opens: None outside a GET (or HEAD) request, or for a
        query this app refuses (explorer/web/security.py answers it)."""
        from flask import has_request_context, request

        if not has_request_context() or request.method not in ("GET", "HEAD"):
            return None
        try:
            return cls.parse(request.path, request.query_string.decode("latin-1"), prefix)
        except QueryRefused:
            return None

    @property
    def embed(self) -> bool:
        """``?embed=1``: the page without the app's chrome (callbacks/export_menu.py reads the same)."""
        return "1" in self.params.get("embed", ())

    @property
    def is_map(self) -> bool:
        return self.path.rstrip("/") == self.prefix.rstrip("/") + "/map"


class PageLayout:
    """The app's layout: the frame with the page being opened already in it.

    ``frame(page, title, rendered)`` builds the frame (layouts/shell.py), ``render_page(path,
    search, params=...)`` returns (page, title) as the router does (given the query already parsed), ``address_of(path, search)`` is the router's key of a
    drawn page (so its first call sends nothing). Called with no page (Dash's ``/_dash-layout``,
    its start-up check) it is the bare frame; a page that fails to render is the bare frame too, and
    the router draws it and shows its error."""

    def __init__(self, frame: Callable[..., Any], render_page: Callable[..., tuple],
                 address_of: Callable[[str, str], str]):
        self.frame = frame
        self.render_page = render_page
        self.address_of = address_of

    def __call__(self, page: PageRequest | None = None):
        if page is None:
            return self.frame()
        try:
            content, title = self.render_page(page.path, page.search, params=page.params)
        except Exception:  # noqa: BLE001 - the router will render it (and report errors) as before
            log.exception("could not render %s with the layout; the router will", page.path)
            return self.frame()
        return self.frame(content, title, self.address_of(page.path, page.search))


class ExplorerDash(dash.Dash):
    """Dash whose index page carries the page being opened (see the module's header).

    ``first_views`` is where drawn pages are kept (a bounded memo of the app's services, e.g.
    ``services.data.memos.table(...)``: ``.get(key, compute)``); without one each page is drawn
    anew."""

    def __init__(self, *args, first_views=None, **kwargs):
        kwargs.setdefault("index_string", INDEX_TEMPLATE)
        # the index page loads assets/first_view.js and the two scripts it uses itself, before Dash's
        kwargs.setdefault("assets_ignore", ASSETS_IGNORE)
        super().__init__(*args, **kwargs)
        self.first_views = first_views
        self._early_scripts: str | None = None

    # the parts ---------------------------------------------------------------------------------
    def layout_of(self, page: PageRequest):
        """The layout the index page of ``page`` carries: the app's :class:`PageLayout` for that page,
        or, for a layout set otherwise (a test's own frame), what Dash itself would serve. (Dash's
        layout hooks and extra components, which this app has none of, are Dash's to add to
        ``/_dash-layout``: a page layout does not get them.)"""
        layout = self.layout
        if isinstance(layout, PageLayout):
            return layout(page)
        return self.get_layout()

    def first_view(self, page: PageRequest) -> FirstView:
        """The page drawn as static HTML with its layout, and what its maps fetch. The same layout
        (a theme page, the home page) is drawn once and kept in ``first_views``."""
        # serialised as Dash's /_dash-layout serialises it (tests/unit/test_dash_internals.py)
        text = to_json_plotly(self.layout_of(page))
        if self.first_views is None:
            return draw_first_view(text)
        key = ("first view", hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest())
        return self.first_views.get(key, lambda: draw_first_view(text))

    def early_scripts(self) -> str:
        if self._early_scripts is None:
            self._early_scripts = early_script_tags(self.config.requests_pathname_prefix or "/",
                                                    self.config.assets_folder)
        return self._early_scripts

    # the page ----------------------------------------------------------------------------------
    def interpolate_index(self, **kwargs) -> str:
        page = PageRequest.current(self.config.requests_pathname_prefix or "/")
        view = None
        if page is not None:
            try:
                view = self.first_view(page)
            except Exception:  # noqa: BLE001 - Dash draws the page as before, and reports errors
                log.exception("could not draw %s on the server; Dash will", page.path)
        kwargs["scripts"] = without_polyfill(kwargs.get("scripts", ""))
        kwargs["app_entry"] = (view.markup if view else "") + self.early_scripts() + kwargs.get("app_entry", "")
        if view is not None and page.is_map:
            tags = preload_tags(view.fetches, self.config.requests_pathname_prefix or "/")
            kwargs["metas"] = kwargs.get("metas", "") + "\n      " + tags
        html = super().interpolate_index(**kwargs)
        if page is not None and page.embed:
            # ?embed=1 hides the chrome (callbacks/export_menu.py marks <html> once Dash runs): the
            # static page is drawn without it too
            html = html.replace(HTML_TAG, HTML_TAG[:-1] + ' class="embed">', 1)
        return html
