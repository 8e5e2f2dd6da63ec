"""A person clicks "Copy link" under the map: the clipboard gets a short /l/<code> link on this
site, and opening it brings back the same map view."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

# The page's clipboard is replaced by a recorder: headless Chromium has no system clipboard to read.
RECORD_CLIPBOARD = """
window.__copied = null;
navigator.clipboard.writeText = function (text) { window.__copied = text; return Promise.resolve(); };
"""


def _copied(driver, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = driver.execute_script("return window.__copied;")
        if text:
            return text
        time.sleep(0.2)
    raise AssertionError("nothing was copied")


def test_copy_link_under_the_map_copies_a_short_link_that_reopens_the_view(explorer):
    duo = explorer
    duo.driver.get(duo.server_url + "/map?basemap=none&layer=london-boroughs")
    duo.wait_for_element("#map-export-copy", timeout=60)
    duo.wait_for_element("#explorer-map .leaflet-interactive", timeout=60)
    time.sleep(1)                                 # the map writes its view into the URL once drawn
    duo.driver.execute_script(RECORD_CLIPBOARD)
    before = duo.driver.execute_script("return window.location.pathname + window.location.search;")
    duo.find_element("#map-export-copy").click()
    link = _copied(duo.driver)
    origin = duo.server_url.rstrip("/")
    assert re.fullmatch(re.escape(origin) + r"/l/[0-9a-z]{8,16}", link), link
    assert len(link) < len(origin + before)
    duo.driver.get(link)
    duo.wait_for_element("#explorer-map", timeout=60)
    after = urlsplit(duo.driver.current_url)
    assert after.path == "/map" and "layer=london-boroughs" in after.query
    assert after.path + "?" + after.query == before
