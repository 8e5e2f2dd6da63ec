"""An officer makes a chart for a committee paper on a dataset page: house prices in Lewisham,
Southwark and Greenwich since 2000 as lines, exports it (the image's footer names the publisher
and the licence), copies the short link, and the link opens the same chart."""

from __future__ import annotations

import base64
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from explorer.export.renderer import shared_renderer

from .test_short_links import RECORD_CLIPBOARD, _copied

FETCH = """
var done = arguments[arguments.length - 1];
fetch(arguments[0]).then(function (r) {
    return r.arrayBuffer().then(function (buf) {
        var bytes = new Uint8Array(buf), s = "";
        for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
        done({status: r.status, type: r.headers.get("Content-Type"), b64: btoa(s)});
    });
}).catch(function (e) { done({error: String(e)}); });
"""


@pytest.fixture(scope="module", autouse=True)
def _close_renderer():
    yield
    shared_renderer().close()


def _text(duo, selector: str) -> str:
    return duo.driver.execute_script(f"var e = document.querySelector({selector!r}); return e ? e.innerText : '';")


def _wait_text(duo, selector: str, pattern: str, timeout: float = 60) -> str:
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        text = _text(duo, selector)
        if re.search(pattern, text):
            return text
        time.sleep(0.25)
    raise AssertionError(f"{selector} never matched {pattern!r}; it says {text!r}")


def _pick(duo, selector: str, labels: list[str]) -> None:
    """Open a dropdown, and for each label type it into the search and click its option."""
    duo.find_element(selector).click()
    for label in labels:
        search = duo.wait_for_element(".dash-dropdown-search", timeout=10)
        search.send_keys(Keys.CONTROL, "a")
        search.send_keys(label)
        deadline = time.time() + 10
        while time.time() < deadline:
            options = [o for o in duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option") if o.text == label]
            if options:
                options[0].click()
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"no option {label!r} in {selector}")
    duo.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


def _legend(duo, expected=None, timeout: float = 30) -> list[str]:
    """The chart's legend as drawn (waiting up to ``timeout`` for ``expected`` names)."""
    deadline = time.time() + timeout
    while True:
        names = duo.driver.execute_script(
            "return Array.from(document.querySelectorAll('#cb-graph .legendtext')).map(function (e) { return e.textContent; });")
        if expected is None and names or expected is not None and sorted(names) == sorted(expected) \
                or time.time() > deadline:
            return names
        time.sleep(0.25)


def test_three_boroughs_since_2000_exported_and_shared(explorer, tmp_path):
    duo = explorer
    duo.driver.set_script_timeout(300)   # the first export starts the renderer
    duo.driver.get(duo.server_url + "/dataset/house-prices-borough")
    # a first chart without a click: every borough over time, London marked (the first page of a
    # fresh app loads the data folder's files: slow on a busy machine)
    _wait_text(duo, "#cb-title", r"each of 33 boroughs and London", timeout=180)
    assert "London" in _legend(duo)

    duo.select_dcc_dropdown("#cb-type", "Line over time")
    _pick(duo, "#cb-areas", ["Lewisham", "Southwark", "Greenwich"])
    _wait_text(duo, "#cb-title", r"Greenwich, Lewisham and Southwark")
    duo.select_dcc_dropdown("#cb-from", "2000")
    title = _wait_text(duo, "#cb-title", r"^Mean price paid in Greenwich, Lewisham and Southwark, with London, "
                                         r"Mar 2000 to Dec 2017$")
    assert _text(duo, "#cb-message") == ""
    duo.wait_for_element("#cb-graph .scatterlayer .trace", timeout=30)
    assert sorted(_legend(duo, ["Greenwich", "Lewisham", "London", "Southwark"])) == [
        "Greenwich", "Lewisham", "London", "Southwark"]
    # the source line under the chart names the publisher
    assert "HM Land Registry" in _text(duo, "#cb-source")
    # prices on the axis are written out ("400,000"), not in plotly's SI shorthand ("400k")
    ticks = duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#cb-graph .ytick text')).map(function (e) { return e.textContent; });")
    assert ticks and all(re.fullmatch(r"£?\d{1,3}(,\d{3})*", t) for t in ticks), ticks
    assert any("," in t for t in ticks), ticks

    # every choice is in the address
    query = parse_qs(urlsplit(duo.driver.current_url).query)
    assert query["chart"] == ["line"] and query["from"] == ["2000"]
    assert set(query["area"][0].split(",")) == {"E09000023", "E09000028", "E09000011"}

    # export: the PNG link answers with a PNG; the same image as SVG has the footer's words
    png_href = duo.find_element('#chart-builder a[data-format="png"]').get_attribute("href")
    assert "/export/dataset-chart/house-prices-borough.png?" in png_href and "area=" in png_href
    png = duo.driver.execute_async_script(FETCH, png_href)
    assert png.get("status") == 200 and png["type"] == "image/png", png.get("error") or png.get("status")
    assert base64.b64decode(png["b64"])[:8] == b"\x89PNG\r\n\x1a\n"
    svg = duo.driver.execute_async_script(FETCH, png_href.replace(".png?", ".svg?"))
    assert svg["status"] == 200
    import xml.etree.ElementTree as ET

    root = ET.fromstring(base64.b64decode(svg["b64"]))
    words = " ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "Source: HM Land Registry, Mean house prices by borough" in words
    assert "Open Government Licence" in words
    assert "Mean price paid in Greenwich, Lewisham and Southwark" in words

    # "Copy link" gives the short link, and it opens the same chart
    duo.driver.execute_script(RECORD_CLIPBOARD)
    duo.find_element("#cb-copy").click()
    link = _copied(duo.driver)
    assert re.fullmatch(re.escape(duo.server_url.rstrip("/")) + r"/l/[0-9a-z]{8,16}", link), link
    duo.driver.get(duo.server_url + "/")
    duo.driver.get(link)
    _wait_text(duo, "#cb-title", "^" + re.escape(title) + "$")
    duo.wait_for_element("#cb-graph .scatterlayer .trace", timeout=30)
    assert sorted(_legend(duo, ["Greenwich", "Lewisham", "London", "Southwark"])) == [
        "Greenwich", "Lewisham", "London", "Southwark"]
    assert urlsplit(duo.driver.current_url).path == "/dataset/house-prices-borough"


def test_a_bad_choice_in_the_address_gets_a_message_and_the_proposed_chart(explorer):
    duo = explorer
    duo.driver.get(duo.server_url + "/dataset/house-prices-borough?y=Area")
    _wait_text(duo, "#cb-message", r"'Area' holds text, not numbers", timeout=180)
    _wait_text(duo, "#cb-title", r"each of 33 boroughs and London")
    duo.wait_for_element("#cb-graph .scatterlayer .trace", timeout=30)


def test_embed_shows_the_chart_alone(explorer):
    duo = explorer
    duo.driver.get(duo.server_url + "/dataset/house-prices-borough?chart=bar&top=5&embed=1")
    duo.wait_for_element(".embed .embed__chart .main-svg", timeout=60)
    assert duo.driver.execute_script("return document.querySelectorAll('#cb-controls').length") == 0
    header = duo.driver.execute_script(
        "var h = document.querySelector('.site-header'); return h ? getComputedStyle(h).display : 'none';")
    assert header == "none"
    assert "Source: HM Land Registry" in duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('.embed svg text')).map(function (t) { return t.textContent; }).join(' ');")
