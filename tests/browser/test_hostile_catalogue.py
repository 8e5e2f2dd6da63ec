"""Catalogue text from a harvested source is never rendered as HTML."""

from __future__ import annotations

import json

from explorer.web.app import create_app
from explorer.catalogue.harvest import harvest
from explorer.catalogue.registry import Registry
from explorer.settings import Settings

from ..conftest import DATA_DIR

HOSTILE = [{
    "id": "hostile-entry",
    "title": "<b>Bold</b> claims about parks",
    "description": ('<p>Real text about parks.<script>window.__pwned = 1</script>'
                    '<img src="x" onerror="window.__pwned = 2">'
                    '<a href="javascript:window.__pwned = 3" id="bad-link">click me</a></p>'),
    "sharing": "public",
    "masthead": {"title": "Somebody <i>else</i>"},
    "topics": [], "tags": ["parks"],
    "resources": [{"id": "r1", "title": "data.csv", "url": "https://example.org/data.csv"}],
}]


def test_scripts_and_handlers_in_descriptions_do_not_run(dash_duo, tmp_path):
    settings = Settings(home=tmp_path / "home", data_dir=DATA_DIR, cache_url="simple")
    export = tmp_path / "export.json"
    export.write_text(json.dumps(HOSTILE), encoding="utf-8")
    settings.ensure_dirs()
    report = harvest(str(export), Registry(settings.registry_path), settings)
    assert report.added == ["hostile-entry"]

    dash_duo.start_server(create_app(settings))
    dash_duo.driver.get(dash_duo.server_url + "/dataset/hostile-entry")
    dash_duo.wait_for_contains_text(".prose", "Real text about parks", timeout=20)
    # The title is shown as the text it is, not as markup.
    assert dash_duo.find_element("h1").text == "<b>Bold</b> claims about parks"
    prose = dash_duo.find_element(".prose")
    html = prose.get_attribute("innerHTML")
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    for link in dash_duo.find_elements(".prose a"):
        assert not (link.get_attribute("href") or "").startswith("javascript:")
    assert dash_duo.driver.execute_script("return window.__pwned === undefined")
