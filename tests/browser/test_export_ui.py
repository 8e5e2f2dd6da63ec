"""A person exports from the UI: clicks a download link and receives the file; picks a size and
the image link follows; an embedded chart or map shows without the app's chrome."""

from __future__ import annotations

import time

import pytest
from dash import html

from explorer.web.app import create_app
from explorer.export.renderer import shared_renderer
from explorer.settings import Settings
from layouts.export_menu import chart_tools

from ..conftest import DATA_DIR

FETCH = """
var done = arguments[arguments.length - 1];
fetch(arguments[0]).then(function (r) {
    return r.arrayBuffer().then(function (buf) {
        var bytes = new Uint8Array(buf);
        var head = Array.from(bytes.slice(0, 24));
        var text = new TextDecoder().decode(bytes);
        done({status: r.status, type: r.headers.get("Content-Type"),
              disposition: r.headers.get("Content-Disposition"), head: head,
              hasSource: text.indexOf("Source: ") >= 0, size: bytes.length});
    });
}).catch(function (e) { done({error: String(e)}); });
"""


@pytest.fixture(scope="module", autouse=True)
def _close_renderer():
    yield
    shared_renderer().close()


def _wait_for_file(folder, suffix, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        if done:
            return done[0]
        time.sleep(0.25)
    raise AssertionError(f"no {suffix} file arrived in {folder}: {[p.name for p in folder.iterdir()]}")


def test_dataset_page_export_links_download_files(explorer, tmp_path):
    duo = explorer
    duo.driver.set_script_timeout(120)
    duo.driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    duo.driver.get(duo.server_url + "/dataset/london-boroughs")
    duo.wait_for_element(".export-menu", timeout=30)
    links = {el.text: el for el in duo.find_elements(".export-menu a")}
    assert {"Map PNG", "Map SVG", "Map PDF", "Data (.zip)"} <= set(links)
    links["Data (.zip)"].click()
    received = _wait_for_file(tmp_path, ".zip")
    import zipfile

    names = zipfile.ZipFile(received).namelist()
    assert "provenance.json" in names and "README.txt" in names
    assert any(n.endswith(".gpkg") for n in names)
    # the image link answers with an SVG that carries its source
    svg = duo.driver.execute_async_script(FETCH, links["Map SVG"].get_attribute("href"))
    assert svg["status"] == 200 and svg["type"].startswith("image/svg+xml") and svg["hasSource"], svg


def test_chart_export_menu_follows_the_size_preset(dash_duo, browser_home):
    app = create_app(Settings(home=browser_home, data_dir=DATA_DIR, cache_url="simple"))
    # the theme pages put chart_tools() in each chart's "chart-tools" div; here it stands alone
    frame = app.layout  # a function: the page being opened comes inside it (explorer/web/index_page.py)
    app.layout = lambda: html.Div([frame(), html.Div(chart_tools("air-quality", "no2-borough-2019"),
                                                     className="chart-tools", id="tools")])
    dash_duo.start_server(app)
    dash_duo.driver.set_script_timeout(120)
    dash_duo.wait_for_element("#tools .export-menu__preset", timeout=30)
    png = dash_duo.find_element('#tools a[data-format="png"]')
    assert png.get_attribute("href").endswith("/export/chart/air-quality/no2-borough-2019.png?preset=a4")
    dash_duo.select_dcc_dropdown("#tools .export-menu__preset", "Slide (16:9)")
    dash_duo.wait_for_element('#tools a[data-format="png"][href$="preset=slide"]', timeout=10)
    png = dash_duo.find_element('#tools a[data-format="png"]')
    result = dash_duo.driver.execute_async_script(FETCH, png.get_attribute("href"))
    assert result["status"] == 200 and result["type"] == "image/png", result
    head = bytes(result["head"])
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")) == (1920, 1080)
    assert 'filename="air-quality-no2-borough-2019.png"' in result["disposition"]


def test_embedded_chart_and_map_have_no_chrome(explorer):
    duo = explorer
    duo.driver.get(duo.server_url + "/themes/air-quality?chart=no2-borough-2019&embed=1")
    duo.wait_for_element(".embed .js-plotly-plot", timeout=60)
    assert not duo.find_element(".site-header").is_displayed()
    assert not duo.find_element(".site-footer").is_displayed()
    assert "themes/air-quality?chart=no2-borough-2019" in duo.find_element(".embed__link a").get_attribute("href")
    duo.driver.get(duo.server_url + "/map?embed=1&layer=london-boroughs")
    duo.wait_for_element("#explorer-map", timeout=60)
    assert not duo.find_element(".site-header").is_displayed()
    assert duo.find_element("#explorer-map").is_displayed()
