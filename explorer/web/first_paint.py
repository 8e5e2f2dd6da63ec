"""Every page is drawn by the server first, then taken over by Dash.

A Dash page is empty ("Loading...") until its scripts have run (about 0.45 s of the map page's
start in headless Chromium) and React has drawn the layout (another 0.25 s). The index page now
carries:

* the page itself as static HTML (explorer/web/static_html.py), drawn by the browser as soon as the
  HTML and the stylesheets are in: header, text, panels, legends, the map's box;
* the layout Dash would fetch next from ``/_dash-layout``, with the page already in it, which
  ``assets/first_view.js`` hands to Dash when it asks, saving that request and the router's
  first answer (``/_dash-layout`` itself answers the bare frame);
* the scripts ``assets/first_view.js`` needs to paint the map's big layers into the map's box
  from their geometry (preloaded, explorer/web/preload.py) before Dash has started:
  ``assets/map_styles.js`` and ``assets/canvas_layer.js``, here rather than with Dash's scripts.

When Dash has drawn the page, the static copy is removed in the same frame; a first view of a
map stays over the live map until the live map has painted the same layer. The static copy is
inert (no focus, no clicks, hidden from assistive technology): its controls start working when
Dash's page replaces it.

This module draws that markup; explorer/web/index_page.py puts it in the page (and serves a page
that cannot be drawn as Dash serves it: scripts first, "Loading...", and the router draws it).
"""

from __future__ import annotations

import json
import os
from html import escape
from typing import NamedTuple

from explorer.web.preload import map_fetches
from explorer.web.static_html import render

# Loaded by the index page right after the static page, not with Dash's scripts at the end:
# first_view.js uses the other two before Dash's scripts have run.
EARLY_SCRIPTS = ("map_styles.js", "canvas_layer.js", "first_view.js")
ASSETS_IGNORE = r"^(?:" + "|".join(name.replace(".", r"\.") for name in EARLY_SCRIPTS) + r")$"
LANGUAGE = "en-GB"   # every page is written in British English


class FirstView(NamedTuple):
    """A page drawn before Dash: ``markup`` goes before Dash's entry point; ``fetches`` are the
    (geometry URL, drawn on our canvas) pairs its maps will ask for (explorer/web/preload.py)."""

    markup: str
    fetches: tuple[tuple[str, bool], ...]


def layout_json(layout_text: str) -> str:
    """The layout's JSON made safe inside ``<script type="application/json">``."""
    return (layout_text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def draw_first_view(layout_text: str) -> FirstView:
    """The static page and its layout (Dash's JSON of it, ``layout_text``), read once for both the
    drawing and what its maps fetch."""
    tree = json.loads(layout_text)
    markup = (f'<div class="first-view" inert aria-hidden="true">{render(tree)}</div>\n'
              f'<script type="application/json" id="explorer-layout">{layout_json(layout_text)}</script>\n')
    return FirstView(markup, tuple(map_fetches(tree)))


def early_script_tags(prefix: str, assets_folder: str) -> str:
    """The early scripts, fingerprinted as Dash fingerprints assets (``?m=`` modification time)."""
    base = (prefix or "/").rstrip("/")
    tags = []
    for name in EARLY_SCRIPTS:
        try:
            stamp = f"?m={os.path.getmtime(os.path.join(assets_folder, name))}"
        except OSError:
            stamp = ""
        tags.append(f'<script src="{escape(base)}/assets/{escape(name)}{escape(stamp)}"></script>')
    return "\n".join(tags) + "\n"
