"""The scripts every page loads, less Dash's polyfill bundle.

Dash puts ``@babel/polyfill`` 7.12 (core-js 2 and regenerator-runtime, for browsers older than
ES2015) first on every page. Browsers that run this app have all of core-js 2 natively, and
running the bundle costs about 70 ms of the page's start (measured in headless Chromium, see the
README). Dash's code needs one thing from it: the global ``regeneratorRuntime`` its lazy-loading
helper calls (in dash-renderer and dash-core-components), which ``assets/generator_runtime.js``
defines. ``tests/unit/test_page_scripts.py`` checks that the served bundles use no more of it.
explorer/web/index_page.py writes every index page's scripts through :func:`without_polyfill`.
"""

from __future__ import annotations

import re

POLYFILL_TAG = re.compile(r'<script src="[^"]*/polyfill@[^"/]*\.js"></script>\s*')


def without_polyfill(scripts: str) -> str:
    """The index page's script tags without Dash's polyfill bundle."""
    return POLYFILL_TAG.sub("", scripts)
