"""A source that starts lying: the dataset page still shows the last good copy, and its source
card says since when and why it could not be refreshed (issue 13 item 7)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from explorer.web.app import create_app
from explorer.catalogue.harvest import harvest
from explorer.catalogue.registry import Registry
from explorer.data.resolver import ResolveError, Resolver
from explorer.settings import Settings

from ..hostile import GOOD_CSV, HTML_ERROR

SHOTS = Path(os.environ.get("REFRESH_SHOTS", "/tmp/refresh-shots"))   # to look at, not kept


def test_dataset_page_keeps_the_last_copy_and_says_why_it_could_not_refresh(dash_duo, tmp_path, local_server):
    server = local_server
    url = server.add("/lsoa-values.csv", (200, {"Content-Type": "text/csv"}, GOOD_CSV))
    settings = Settings(home=tmp_path / "home", cache_url="simple", allow_private_urls=True,
                        http_retries=1, harvest_bundled=False)
    settings.ensure_dirs()
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{
        "id": "lying-source", "title": "Values by small area", "sharing": "public",
        "description": "Values for every LSOA.", "topics": [], "tags": [],
        "resources": [{"id": "r1", "title": "values.csv", "url": url, "format": "CSV"}]}]),
        encoding="utf-8")
    registry = Registry(settings.registry_path)
    assert harvest(str(export), registry, settings).added == ["lying-source"]
    entry = registry.get("lying-source")
    Resolver(settings, progress=False).resolve(entry)            # the good copy is stored
    server.add("/lsoa-values.csv", (200, {"Content-Type": "text/html"}, HTML_ERROR))
    try:
        Resolver(settings, progress=False).fetch(entry, force=True)
        raise AssertionError("the refresh should have failed")
    except ResolveError as exc:
        assert "web page (HTML)" in str(exc)

    dash_duo.start_server(create_app(settings))
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1440, 390):
        dash_duo.driver.set_window_size(width, 1100)
        dash_duo.driver.get(dash_duo.server_url + "/dataset/lying-source")
        dash_duo.wait_for_contains_text("body", "could not refresh since", timeout=30)
        body = dash_duo.find_element("body").text
        assert "(the source sent a web page instead of the data)" in body
        assert "this is the last stored copy" in body
        assert "E0100" in body            # the preview still shows the last good rows
        # the folded source line and the full card both say it: one of them is in view
        cards = dash_duo.driver.find_elements(
            "xpath", "//span[contains(text(), 'could not refresh since')]")
        shown = [c for c in cards if c.is_displayed()]
        assert shown, f"{len(cards)} notes say 'could not refresh since', none is shown"
        card = shown[0]
        dash_duo.driver.execute_script(
            "window.scrollTo(0, arguments[0].getBoundingClientRect().top + window.scrollY - 300)",
            card)
        time.sleep(0.3)
        dash_duo.driver.save_screenshot(str(SHOTS / f"refresh-failure-{width}.png"))
    assert server.hits["/lsoa-values.csv"] == 2      # the page view did not fetch it again
