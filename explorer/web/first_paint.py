"""Every page is drawn by the server first, then taken over by Dash.

A Dash page is empty ("Loading...") until its scripts have run (about 0.45 s of the map page's
start in headless Chromium) and React has drawn the layout (another 0.25 s). The index page now
carries:

* the page itself as static HTML (explorer/web/static_html.py), drawn by the browser as soon as the
  HTML and the stylesheets are in: header, text, panels, legends, the map's box;
* the layout Dash would fetch next (the same JSON ``/_dash-layout`` answers), which
  ``assets/first_view.js`` hands to Dash when it asks, saving that request;
* the scripts ``assets/first_view.js`` needs to paint the map's big layers into the map's box
  from their geometry (preloaded, explorer/web/preload.py) before Dash has started:
  ``assets/map_styles.js`` and ``assets/canvas_layer.js``, here rather than with Dash's scripts.

When Dash has drawn the page, the static copy is removed in the same frame; a first view of a
map stays over the live map until the live map has painted the same layer. The static copy is
inert (no focus, no clicks, hidden from assistive technology): its controls start working when
Dash's page replaces it.

A page that cannot be drawn here (an error, no request) is served as Dash serves it: scripts
first, "Loading...", and the router draws it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from html import escape

from explorer.web.static_html import render

log = logging.getLogger(__name__)

# Loaded by the index page right after the static page, not with Dash's scripts at the end:
# first_view.js uses the other two before Dash's scripts have run.
EARLY_SCRIPTS = ("map_styles.js", "canvas_layer.js", "first_view.js")
ASSETS_IGNORE = r"^(?:" + "|".join(name.replace(".", r"\.") for name in EARLY_SCRIPTS) + r")$"
EMBED = re.compile(r"(^|&)embed=1(&|$)")
LANGUAGE = "en-GB"   # every page is written in British English


def layout_json(layout_text: str) -> str:
    """The layout's JSON made safe inside ``<script type="application/json">``."""
    return (layout_text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_drawn: OrderedDict[bytes, str] = OrderedDict()   # the last pages drawn, by their layout's hash
_drawn_lock = threading.Lock()
DRAWN_KEPT = 64


def static_page(layout_text: str) -> str:
    """The markup the index page gets before Dash's entry point: the static page and its layout.
    The same layout (a theme page, served from the app's cache) is drawn once per process."""
    key = hashlib.blake2b(layout_text.encode("utf-8"), digest_size=16).digest()
    with _drawn_lock:
        if key in _drawn:
            _drawn.move_to_end(key)
            return _drawn[key]
    html = render(json.loads(layout_text))
    markup = (f'<div class="first-view" inert aria-hidden="true">{html}</div>\n'
              f'<script type="application/json" id="explorer-layout">{layout_json(layout_text)}</script>\n')
    with _drawn_lock:
        _drawn[key] = markup
        while len(_drawn) > DRAWN_KEPT:
            _drawn.popitem(last=False)
    return markup


def script_tags(app) -> str:
    """The early scripts, fingerprinted as Dash fingerprints assets (``?m=`` modification time)."""
    prefix = (app.config.requests_pathname_prefix or "/").rstrip("/")
    folder = app.config.assets_folder
    tags = []
    for name in EARLY_SCRIPTS:
        try:
            stamp = f"?m={os.path.getmtime(os.path.join(folder, name))}"
        except OSError:
            stamp = ""
        tags.append(f'<script src="{escape(prefix)}/assets/{escape(name)}{escape(stamp)}"></script>')
    return "\n".join(tags) + "\n"


def install_first_paint(app, set_address) -> None:
    """Write each index page with its page drawn in it. ``set_address(path, search)`` makes the
    app's layout function build that address's page (explorer/web/prerender.py)."""
    from dash._utils import to_json
    from flask import has_request_context, request

    original = app.interpolate_index
    scripts = script_tags(app)

    def interpolate_index(**kwargs):
        early = scripts
        if has_request_context() and request.method == "GET":
            query = request.query_string.decode("latin-1")
            try:
                set_address(request.path, "?" + query if query else "")
                early = static_page(to_json(app.get_layout())) + scripts
            except Exception:  # noqa: BLE001 - Dash draws the page as before, and reports errors
                log.exception("could not draw %s on the server; Dash will", request.path)
            finally:
                set_address(None, None)
        kwargs["app_entry"] = early + kwargs.get("app_entry", "")
        page = original(**kwargs)
        # the page's language, for screen readers' pronunciation (WCAG 3.1.1)
        html_tag = f'<html lang="{LANGUAGE}"'
        if has_request_context() and EMBED.search(request.query_string.decode("latin-1")):
            # ?embed=1 hides the chrome (callbacks/export_menu.py marks <html> once Dash runs): the
            # static page is drawn without it too
            html_tag += ' class="embed"'
        return page.replace("<html>", html_tag + ">", 1)

    app.interpolate_index = interpolate_index
